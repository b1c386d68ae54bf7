"""Load options of the pipeline mode, checked before anything heavy is imported.

``create_llm`` values arrive validated by core (types and the shared HuggingFace
options); this module turns them into a :class:`LoadSpec` — the hashable description
of *what* to load, used as the key for sharing a loaded model — and a
:class:`OutputOptions` — how replies are shaped (``pipeline_kwargs``). Every bad
value raises ``InvalidArgumentError`` naming the option (``model_kwargs['x']`` style
for nested keys).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abstractllm.config import ConfigManager
from abstractllm.errors import InvalidArgumentError, ModelNotFoundError
from abstractllm.options import (
    Option,
    check_bool,
    check_device,
    check_float,
    check_int,
    check_nested,
    check_optional_str,
    suggest,
)
from abstractllm_hf_pipeline.devices import TORCH_DEVICES, check_device_map, device_place

__all__ = [
    "DTYPE_NAMES",
    "PIPELINE_OPTIONS",
    "LoadSpec",
    "OutputOptions",
    "load_spec",
    "output_options",
]

#: Accepted dtype spellings (``torch_dtype`` / ``dtype``) and the torch attribute each names.
DTYPE_NAMES: dict[str, str] = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "double": "float64",
}


#: ``model_kwargs`` keys this backend understands; anything else is rejected with a did-you-mean.
MODEL_KWARGS = (
    "trust_remote_code",
    "revision",
    "torch_dtype",
    "dtype",
    "low_cpu_mem_usage",
    "device_map",
    "attn_implementation",
    "max_memory",
    "offload_folder",
    "subfolder",
    "variant",
    "cache_dir",
    "load_in_4bit",
    "load_in_8bit",
)

#: ``pipeline_kwargs`` keys this backend understands (``truncate`` is the seed's spelling of ``truncation``).
PIPELINE_KWARGS = ("return_full_text", "clean_up_tokenization_spaces", "truncation", "truncate", "skip_special_tokens")

#: Default byte budget of one loaded model's prefix cache (256 MiB: ~5,000 tokens of SmolLM2-135M in float32).

PIPELINE_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option(
            "batch_window_ms",
            5.0,
            check_float(0.0),
            "The longest concurrent async requests wait to be collected into one batch (milliseconds; the wait ends "
            "sooner, once the requests their event loop had ready are queued; 0 disables waiting).",
        ),
        Option("max_batch_size", 32, check_int(1, optional=False), "Most sequences generated together in one batch."),
    )
}


@dataclass(frozen=True)
class LoadSpec:
    """What to load. Equal specs share one loaded model (it is the sharing key).

    ``source`` is the hub id or the absolute local folder; ``device`` is None for
    "cuda when available, else cpu"; ``dtype`` is a name from :data:`DTYPE_NAMES`
    values or None for the default (float32 on CPU, the checkpoint's dtype elsewhere);
    ``device_map`` is a string or a sorted tuple of ``(module, device)`` pairs.
    """

    source: str
    is_local: bool
    revision: str | None = None
    cache_dir: str | None = None
    device: str | None = None
    device_map: str | tuple[tuple[str, Any], ...] | None = None
    dtype: str | None = None
    quantization: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def extra_kwargs(self) -> dict[str, Any]:
        """The extra ``from_pretrained`` arguments, with their original (unfrozen) values."""
        return {key: _thaw(value) for key, value in self.extra}

    def device_map_value(self) -> str | dict[str, Any] | None:
        """``device_map`` in the form ``from_pretrained`` takes."""
        if isinstance(self.device_map, tuple):
            return dict(self.device_map)
        return self.device_map


@dataclass(frozen=True)
class OutputOptions:
    """How replies are shaped (from ``pipeline_kwargs``)."""

    return_full_text: bool = False
    clean_up_tokenization_spaces: bool | None = None
    truncation: bool = False
    skip_special_tokens: bool = True
    #: The ``tool_format`` option: the tool-call family named by the user (None: detected from the template).
    tool_format: str | None = None


def _invalid(parameter: str, value: Any, allowed: str, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message, parameter=parameter, value=value, allowed=allowed)


def _check_keys(given: Mapping[str, Any], known: tuple[str, ...], option: str) -> None:
    for key in given:
        if key not in known:
            raise _invalid(
                f"{option}['{key}']",
                key,
                ", ".join(known),
                f"{option}['{key}'] is not a known key.{suggest(key, known)} Known keys: {', '.join(known)}",
            )


def _dtype_name(value: Any, parameter: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower().removeprefix("torch.") in DTYPE_NAMES:
        return DTYPE_NAMES[value.lower().removeprefix("torch.")]
    name = str(value).removeprefix("torch.")  # a torch.dtype object prints as torch.float16
    if not isinstance(value, str) and name in DTYPE_NAMES:
        return DTYPE_NAMES[name]
    allowed = ", ".join(sorted(set(DTYPE_NAMES)))
    raise _invalid(parameter, value, allowed, f"{parameter}={value!r} is not a dtype; use one of {allowed}")


_check_device = check_device(*TORCH_DEVICES)


def _device(value: Any) -> str | None:
    return check_nested(_check_device, value, "device")


def _nested_bool(value: Any, parameter: str) -> bool:
    return bool(check_nested(check_bool, value, parameter))


def _nested_str(value: Any, parameter: str) -> str | None:
    return check_nested(check_optional_str, value, parameter)


def _device_map(value: Any, parameter: str) -> str | tuple[tuple[str, Any], ...] | None:
    """``device_map`` by core's rule, a dict as sorted pairs (a ``LoadSpec`` is hashable)."""
    checked = check_device_map(value, parameter)
    return tuple(sorted(checked.items())) if isinstance(checked, dict) else checked


_ATTENTION = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
_KERNEL = re.compile(r"^[\w.-]+/[\w.-]+(:[\w.-]+)?$")


def _attention(value: Any) -> str | None:
    parameter = "model_kwargs['attn_implementation']"
    if value is None:
        return None
    name = value.removeprefix("paged|") if isinstance(value, str) else None
    if name is not None and (name in _ATTENTION or _KERNEL.match(name)):
        return value
    raise _invalid(
        parameter,
        value,
        ", ".join(_ATTENTION),
        f"{parameter}={value!r} is not an attention implementation; use one of {', '.join(_ATTENTION)}"
        f" (or a hub kernel 'org/repo'){suggest(str(value), _ATTENTION)}",
    )


def _max_memory(value: Any) -> Any:
    parameter = "model_kwargs['max_memory']"
    if value is None:
        return None
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            sized = (isinstance(item, int) and not isinstance(item, bool) and item > 0) or (
                isinstance(item, str) and re.match(r"^\d+(\.\d+)?\s*[KMGT]?i?B$", item.strip(), re.IGNORECASE)
            )
            if device_place(key) is None or key == "disk" or not sized:
                raise _invalid(
                    f"{parameter}[{key!r}]",
                    item,
                    "a device mapped to bytes or a size such as '10GiB'",
                    f"{parameter}[{key!r}]={item!r} is invalid; max_memory maps a GPU index or 'cpu'/'mps' to a byte"
                    " count or a size such as '10GiB'",
                )
        return value
    raise _invalid(
        parameter, value, "a dict", f"{parameter}={value!r} is invalid; use a dict such as {{0: '10GiB', 'cpu': '30GiB'}}"
    )


def load_spec(config: ConfigManager) -> LoadSpec:
    """Read and check every load option; raises ``InvalidArgumentError`` naming a bad one."""
    model = config.get_param("model_path") or config.get_param("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", model, "a hub id or a local folder", "pass model='org/name' (a hub id) or model_path='/a/folder'")
    kwargs = dict(config.get_param("model_kwargs") or {})
    _check_keys(kwargs, MODEL_KWARGS, "model_kwargs")
    dtype = _dtype_name(kwargs.get("dtype"), "model_kwargs['dtype']") or _dtype_name(
        kwargs.get("torch_dtype"), "model_kwargs['torch_dtype']"
    )
    quantization = config.get_param("quantization")
    for bits in ("4bit", "8bit"):
        if _nested_bool(kwargs.get(f"load_in_{bits}", False), f"model_kwargs['load_in_{bits}']"):
            if quantization not in (None, bits):
                raise _invalid(
                    "quantization",
                    quantization,
                    bits,
                    f"quantization={quantization!r} contradicts model_kwargs['load_in_{bits}']",
                )
            quantization = bits
    _nested_bool(kwargs.get("low_cpu_mem_usage", True), "model_kwargs['low_cpu_mem_usage']")
    trust = _nested_bool(kwargs.get("trust_remote_code", False), "model_kwargs['trust_remote_code']") or bool(
        config.get_param("trust_remote_code")
    )
    revision = _nested_str(kwargs.get("revision"), "model_kwargs['revision']") or config.get_param("revision")
    cache_dir = _nested_str(kwargs.get("cache_dir"), "model_kwargs['cache_dir']") or config.get_param("cache_dir")
    device_map = _device_map(config.get_param("device_map"), "device_map") or _device_map(
        kwargs.get("device_map"), "model_kwargs['device_map']"
    )
    _max_memory(kwargs.get("max_memory"))
    for key in ("offload_folder", "subfolder", "variant"):
        _nested_str(kwargs.get(key), f"model_kwargs['{key}']")
    extra = tuple(
        sorted(
            (key, _freeze(kwargs[key]))
            for key in ("max_memory", "offload_folder", "subfolder", "variant")
            if kwargs.get(key) is not None
        )
    )
    return LoadSpec(
        source=_source(model),
        is_local=_is_local(model),
        revision=revision,
        cache_dir=cache_dir,
        device=_device(config.get_param("device")),
        device_map=device_map,
        dtype=dtype,
        quantization=quantization,
        trust_remote_code=trust,
        attn_implementation=_attention(kwargs.get("attn_implementation")),
        extra=extra,
    )


def _is_local(model: str) -> bool:
    """A path (absolute, ``./``, ``~``, or an existing entry, even a broken or looping symlink) rather than a hub id."""
    path = Path(model).expanduser()
    return path.is_absolute() or model.startswith((".", "~")) or os.path.lexists(path)


def _source(model: str) -> str:
    """The sharing key of ``model``: its absolute, symlink-free path when local, else the hub id.

    A symlink loop cannot be resolved: it is reported as a missing model (``ModelNotFoundError``).
    """
    if not _is_local(model):
        return model.strip()
    try:
        return str(Path(model).expanduser().resolve(strict=False))
    except (OSError, RuntimeError) as exc:  # Python raises RuntimeError (3.11, 3.12) or OSError (3.13) on a loop
        raise ModelNotFoundError(
            f"the model folder {model} cannot be opened: {exc}; it is a symbolic link loop, point model= at the real folder"
        ) from exc


_MAPPING = "__mapping__"
_SEQUENCE = "__sequence__"


def _freeze(value: Any) -> Any:
    """A hashable form of ``value`` (mappings and lists become tagged tuples); ``_thaw`` undoes it."""
    if isinstance(value, Mapping):
        return (_MAPPING, tuple(sorted(((key, _freeze(item)) for key, item in value.items()), key=lambda pair: repr(pair[0]))))
    if isinstance(value, (list, tuple)):
        return (_SEQUENCE, tuple(_freeze(item) for item in value))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == _MAPPING:
        return {key: _thaw(item) for key, item in value[1]}
    if isinstance(value, tuple) and len(value) == 2 and value[0] == _SEQUENCE:
        return [_thaw(item) for item in value[1]]
    return value


def output_options(config: ConfigManager) -> OutputOptions:
    """Read ``pipeline_kwargs``; raises ``InvalidArgumentError`` naming an unknown or bad key."""
    kwargs = dict(config.get_param("pipeline_kwargs") or {})
    _check_keys(kwargs, PIPELINE_KWARGS, "pipeline_kwargs")
    if "truncate" in kwargs and "truncation" in kwargs and kwargs["truncate"] != kwargs["truncation"]:
        raise _invalid(
            "pipeline_kwargs['truncate']",
            kwargs["truncate"],
            "the same as truncation",
            "pipeline_kwargs truncate and truncation disagree",
        )
    cleanup = kwargs.get("clean_up_tokenization_spaces")
    return OutputOptions(
        return_full_text=_nested_bool(kwargs.get("return_full_text", False), "pipeline_kwargs['return_full_text']"),
        clean_up_tokenization_spaces=None
        if cleanup is None
        else _nested_bool(cleanup, "pipeline_kwargs['clean_up_tokenization_spaces']"),
        truncation=_nested_bool(kwargs.get("truncation", kwargs.get("truncate", False)), "pipeline_kwargs['truncation']"),
        skip_special_tokens=_nested_bool(kwargs.get("skip_special_tokens", True), "pipeline_kwargs['skip_special_tokens']"),
        tool_format=config.get_param("tool_format"),
    )
