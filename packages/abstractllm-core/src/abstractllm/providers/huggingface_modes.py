"""The ``"huggingface"`` provider's modes, shared options and mode resolution (no model class here:
plugin discovery routes configurations with this module, before any model object exists).

Core owns what every HuggingFace mode shares, so that a configuration can be routed (and a
missing backend named, :data:`MODE_DISTRIBUTIONS`) before any backend is imported: the routing
options, ``timeout``, ``prefix_cache_bytes`` (declared once for both local modes) and the rules
of :func:`resolve_mode`. What one mode alone understands (its other ``model_type`` spellings,
torch devices and ``device_map``, say) is declared by its plugin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from abstractllm._private.tool_format_names import TOOL_FORMATS
from abstractllm.options import (
    Option,
    check_bool,
    check_choice,
    check_dict,
    check_float,
    check_int,
    check_optional_str,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PREFIX_CACHE_BYTES",
    "HF_OPTIONS",
    "HF_TOKEN_ENV",
    "MODE_DISTRIBUTIONS",
    "PROVIDER",
    "ROUTING_OPTIONS",
    "hf_options",
    "resolve_mode",
]

PROVIDER = "huggingface"
DEFAULT_MODEL = "abstractllm/tiny-llama"
HF_TOKEN_ENV = ("HUGGINGFACE_API_KEY", "HF_TOKEN")

#: The modes core's routing rules (:func:`resolve_mode`) pick, and the distribution serving each,
#: named when it is not installed. Each mode's other ``model_type`` spellings are its plugin's
#: (``BackendInfo.aliases``).
MODE_DISTRIBUTIONS: dict[str, str] = {
    "pipeline": "abstractllm-hf-pipeline",
    "gguf": "abstractllm-hf-gguf",
    "api": "abstractllm-hf-api",
    "endpoint": "abstractllm-hf-api",
}


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
            "tool_format",
            None,
            check_choice(*TOOL_FORMATS),
            "Local modes: the tool-call family the model writes (" + ", ".join(TOOL_FORMATS) + "); default: detected"
            " from the chat template.",
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


def resolve_mode(config: Mapping[str, Any]) -> str:
    """Core's routing rules for a ``create_llm("huggingface", ...)`` configuration.

    1. ``model_type`` when given, as given (core then finds the installed mode it names, its
       ``BackendInfo.aliases`` included).
    2. ``inference_api_url`` / ``endpoint_url`` → ``endpoint``; ``use_inference_api=True`` → ``api``.
    3. ``model_path`` or ``model`` ending in ``.gguf``, or a repo id whose name contains ``GGUF`` → ``gguf``.
    4. Otherwise ``pipeline``.
    """
    model_type = config.get("model_type")
    if isinstance(model_type, str) and model_type.strip():
        return model_type.strip()
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
