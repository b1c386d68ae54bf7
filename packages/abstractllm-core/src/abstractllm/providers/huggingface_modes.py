"""The ``"huggingface"`` provider's modes, shared options and mode resolution (no model class here:
plugin discovery routes configurations with this module, before any model object exists).

Core owns what every HuggingFace mode shares so that a configuration can be routed
(and a missing backend named) before any backend is imported. The modes themselves
come from the backend distributions:

============  ===========================  =======================================
mode          distribution                 accepted ``model_type`` spellings
============  ===========================  =======================================
pipeline      abstractllm-hf-pipeline      pipeline, transformers, local
gguf          abstractllm-hf-gguf          gguf, llama.cpp, llamacpp, llama_cpp
api           abstractllm-hf-api           api, inference_api, inference-api
endpoint      abstractllm-hf-api           endpoint, tgi, vllm, openai
============  ===========================  =======================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from abstractllm.errors import InvalidArgumentError
from abstractllm.options import (
    Option,
    check_bool,
    check_choice,
    check_dict,
    check_float,
    check_int,
    check_optional_str,
    is_device,
    suggest,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEVICE_MAP_STRATEGIES",
    "TORCH_DEVICES",
    "check_device_map",
    "device_place",
    "HF_MODES",
    "DEFAULT_PREFIX_CACHE_BYTES",
    "PROVIDER",
    "ROUTING_OPTIONS",
    "HF_OPTIONS",
    "HF_TOKEN_ENV",
    "canonical_mode",
    "hf_options",
    "resolve_mode",
]

PROVIDER = "huggingface"
DEFAULT_MODEL = "abstractllm/tiny-llama"
HF_TOKEN_ENV = ("HUGGINGFACE_API_KEY", "HF_TOKEN")

HF_MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pipeline": ("abstractllm-hf-pipeline", ("pipeline", "transformers", "local")),
    "gguf": ("abstractllm-hf-gguf", ("gguf", "llama.cpp", "llamacpp", "llama_cpp")),
    "api": ("abstractllm-hf-api", ("api", "inference_api", "inference-api")),
    "endpoint": ("abstractllm-hf-api", ("endpoint", "tgi", "vllm", "openai")),
}


#: Devices torch runs on; a ``device_map`` place may also be ``"disk"``.
TORCH_DEVICES = ("cpu", "cuda", "mps", "xpu")

#: ``device_map`` strings accelerate plans a placement for.
DEVICE_MAP_STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def device_place(value: Any) -> str | int | None:
    """``value`` as a ``device_map`` place (a GPU index, or a device name such as ``"cuda:1"``
    or ``"disk"``, lower-cased), or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value) if type(value).__name__ == "device" else value  # a torch.device, without importing torch
    if isinstance(text, str) and is_device(text, (*TORCH_DEVICES, "disk")):
        return text.strip().lower()
    return None


def check_device_map(value: Any, parameter: str = "device_map") -> str | dict[str, str | int] | None:
    """The one rule for ``device_map``: a strategy (``'auto'``...), one device for the whole
    model, or a flat dict of module name to place (see :func:`device_place`), normalised.

    Raises ``InvalidArgumentError`` naming ``parameter`` (or ``parameter['module']``) and the fix.
    Whether the devices exist on this machine is the backend's check, at load.
    """
    if value is None:
        return None
    allowed = f"one of {', '.join(map(repr, DEVICE_MAP_STRATEGIES))}, a device such as 'cpu' or 'cuda:0', or a dict"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in DEVICE_MAP_STRATEGIES or (device_place(text) is not None and text != "disk"):
            return text
        raise InvalidArgumentError(
            f"{parameter}={value!r} is not a device map; use {allowed} of module name to device"
            f"{suggest(text, DEVICE_MAP_STRATEGIES)}",
            parameter=parameter,
            value=value,
            allowed=allowed,
        )
    if isinstance(value, Mapping) and value:
        places: dict[str, str | int] = {}
        for key, item in value.items():
            place = device_place(item)
            if not isinstance(key, str) or place is None:
                raise InvalidArgumentError(
                    f"{parameter}[{key!r}]={item!r} is invalid; a device map is flat: each module name (a string, ''"
                    " for the whole model) maps to a GPU index or to 'cpu', 'cuda:N', 'mps' or 'disk'",
                    parameter=f"{parameter}[{key!r}]",
                    value=item,
                    allowed="a GPU index or 'cpu', 'cuda:N', 'mps', 'disk'",
                )
            places[key] = place
        return places
    raise InvalidArgumentError(
        f"{parameter}={value!r} is invalid; use {allowed} of module name to device",
        parameter=parameter,
        value=value,
        allowed=allowed,
    )


#: Default budget of the local modes' prefix caches (``prefix_cache_bytes``).
DEFAULT_PREFIX_CACHE_BYTES = 256 * 2**20

HF_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option("model_path", None, check_optional_str, "Path to a local model folder or file."),
        Option(
            "api_key",
            None,
            check_optional_str,
            "HuggingFace token; default from HUGGINGFACE_API_KEY, then HF_TOKEN, then the token 'hf auth login' stored.",
            secret=True,
            env=HF_TOKEN_ENV,
        ),
        Option("use_inference_api", False, check_bool, "Use HuggingFace's hosted Inference API."),
        Option(
            "inference_api_url",
            None,
            check_optional_str,
            "URL of a custom endpoint (TGI, vLLM, llama.cpp server, Inference Endpoint).",
        ),
        Option("endpoint_url", None, check_optional_str, "Alias of inference_api_url."),
        Option("device", None, check_optional_str, "'cuda' when available, else 'cpu'; also 'cuda:N', 'mps'."),
        Option(
            "device_map",
            None,
            check_device_map,
            "accelerate device map: 'auto' (or 'balanced', 'balanced_low_0', 'sequential'), one device, or a dict"
            " of module name to device.",
        ),
        Option("quantization", None, check_choice("4bit", "8bit"), "bitsandbytes quantization: '4bit' or '8bit'."),
        Option("model_kwargs", {}, check_dict, "Extra keyword arguments for loading the model."),
        Option("pipeline_kwargs", {}, check_dict, "Extra keyword arguments for the text-generation pipeline."),
        Option("revision", None, check_optional_str, "Hub revision (branch, tag or commit)."),
        Option("cache_dir", None, check_optional_str, "HuggingFace cache folder (default: HF_HOME's hub cache)."),
        Option("trust_remote_code", False, check_bool, "Allow code shipped with the model to run."),
        Option(
            "timeout",
            60.0,
            check_float(0.0, exclusive_minimum=True),
            "Seconds a request may take in all (a deadline, retries each get their own); for streams, the wait for"
            " the first chunk and between chunks.",
        ),
        Option(
            "prefix_cache_bytes",
            DEFAULT_PREFIX_CACHE_BYTES,
            check_int(0, optional=False),
            "Local modes: bytes per loaded model kept to reuse the work on earlier prompts when a later one starts"
            " the same way (sessions, tool loops, repeated system prompts); least recently used go first; 0 turns it off.",
        ),
    )
}

ROUTING_OPTIONS = ("model_path", "api_key", "use_inference_api", "inference_api_url", "endpoint_url")


def hf_options(*names: str) -> dict[str, Option]:
    """The shared HuggingFace options a backend accepts: the routing ones plus ``names``."""
    return {name: HF_OPTIONS[name] for name in (*ROUTING_OPTIONS, *names)}


def canonical_mode(model_type: str, extra_aliases: Mapping[str, tuple[str, ...]] | None = None) -> str | None:
    """The mode a ``model_type`` spelling names, or None."""
    wanted = model_type.strip().lower()
    for mode, (_, aliases) in HF_MODES.items():
        if wanted == mode or wanted in aliases:
            return mode
    for mode, aliases in (extra_aliases or {}).items():
        if wanted == mode or wanted in aliases:
            return mode
    return None


def resolve_mode(config: Mapping[str, Any]) -> str:
    """Core's routing rules for a ``create_llm("huggingface", ...)`` configuration.

    1. ``model_type`` when given (any accepted spelling; unknown names are returned as given).
    2. ``inference_api_url`` / ``endpoint_url`` → ``endpoint``; ``use_inference_api=True`` → ``api``.
    3. ``model_path`` or ``model`` ending in ``.gguf``, or a repo id whose name contains ``GGUF`` → ``gguf``.
    4. Otherwise ``pipeline``.
    """
    model_type = config.get("model_type")
    if isinstance(model_type, str) and model_type.strip():
        return canonical_mode(model_type) or model_type
    if config.get("inference_api_url") or config.get("endpoint_url"):
        return "endpoint"
    if config.get("use_inference_api") is True:
        return "api"
    for key in ("model_path", "model"):
        value = config.get(key)
        if isinstance(value, str) and value.lower().endswith(".gguf"):
            return "gguf"
    model = config.get("model")
    if isinstance(model, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", model) and "gguf" in model.split("/")[1].lower():
        return "gguf"
    return "pipeline"
