"""Loading a transformers model and its tokenizer from a :class:`LoadSpec`.

Hub ids resolve through ``huggingface_hub.snapshot_download`` (its cache, ``HF_HOME``,
``HF_HUB_OFFLINE``, ``revision`` and token all apply); a local folder is used as it is.
Before transformers sees a folder its files are checked so that a missing
``config.json`` or a corrupt ``*.safetensors`` file is reported by name. dtype
strings become the ``dtype=`` transformers 5 expects (never the deprecated
``torch_dtype=``); ``quantization`` becomes a ``BitsAndBytesConfig``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abstractllm.blocks import hub_cache_miss, progress_only_on_a_terminal
from abstractllm.errors import (
    AuthenticationError,
    BackendNotInstalledError,
    InvalidArgumentError,
    ModelLoadingError,
    ModelNotFoundError,
    UnsupportedModelError,
)
from abstractllm_hf_pipeline.devices import DEVICE_MAP_STRATEGIES
from abstractllm_hf_pipeline.options import LoadSpec

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["LoadedWeights", "load_weights", "resolve_folder"]

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
#: Files fetched for a hub model: configs, tokenizers, templates, safetensors weights and remote code.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.py", "*.tiktoken"]
QUANTIZATION_EXTRA = "abstractllm-hf-pipeline[quantization]"


@dataclass
class LoadedWeights:
    """A loaded model and tokenizer, with the folder they came from and the device of the inputs."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    folder: Path
    device: torch.device


def resolve_folder(spec: LoadSpec, token: str | None) -> Path:
    """The local folder holding the model: ``spec.source`` itself, or its hub-cache snapshot.

    Raises ``ModelNotFoundError`` for a missing folder, an unknown hub id or revision,
    or (offline) a model that is not in the cache; ``AuthenticationError`` for a gated
    or private repository without access.
    """
    if spec.is_local or not _REPO_ID.match(spec.source):
        folder = Path(spec.source)
        if not folder.exists():
            raise ModelNotFoundError(f"the model folder {spec.source} does not exist")
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"{spec.source} is a file, not a model folder; the pipeline mode loads a folder with config.json"
                " (GGUF files use model_type='gguf')"
            )
        return folder
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{spec.source!r}" + (f" at revision {spec.revision!r}" if spec.revision else "")
    try:
        with progress_only_on_a_terminal():
            return Path(
                snapshot_download(
                    spec.source, revision=spec.revision, cache_dir=spec.cache_dir, token=token, allow_patterns=_HUB_PATTERNS
                )
            )
    except GatedRepoError as exc:
        raise AuthenticationError(f"{where} is gated: accept its terms on the Hub and pass api_key=") from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFoundError(f"no model {where} on the HuggingFace Hub (or it is private: pass api_key=)") from exc
    except RevisionNotFoundError as exc:
        raise ModelNotFoundError(f"the model {spec.source!r} has no revision {spec.revision!r}") from exc
    except LocalEntryNotFoundError as exc:
        unreachable = None if constants.HF_HUB_OFFLINE else exc.__cause__ or exc
        raise ModelNotFoundError(hub_cache_miss(where, spec.cache_dir, unreachable)) from exc


def _check_folder(folder: Path) -> None:
    """Raise ``ModelLoadingError`` naming the file when the folder cannot be a transformers model."""
    config = folder / "config.json"
    if not config.is_file():
        raise ModelLoadingError(f"{folder} has no config.json; a transformers model folder needs config.json and weights")
    try:
        content = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelLoadingError(f"{config} is not valid JSON: {exc}; restore the model's config.json") from exc
    if not isinstance(content, dict):
        raise ModelLoadingError(
            f"{config} holds a JSON {type(content).__name__}, not an object; a model's config.json is a JSON object"
            " (restore it from the model's repository)"
        )
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any(folder.glob("*.bin")):
        raise ModelLoadingError(f"{folder} has no weights (model.safetensors or pytorch_model.bin)")
    from safetensors import safe_open

    for file in weights:
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except Exception as exc:  # safetensors raises its own SafetensorError, OSError or ValueError
            raise ModelLoadingError(f"{file} is corrupt or truncated and cannot be read: {exc}") from exc


def _check_place(place: str | int, parameter: str, value: Any) -> None:
    """Raise ``InvalidArgumentError`` when the device ``place`` (a name or a GPU index) does not exist here."""
    import torch

    if place in ("cpu", "disk"):
        return
    if isinstance(place, int) or place.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = place if isinstance(place, int) else int(place.split(":")[1]) if ":" in place else 0
        if count == 0:
            raise InvalidArgumentError(
                f"{parameter}={value!r} places the model on a CUDA device, but CUDA is not available on this machine; use 'cpu'",
                parameter=parameter,
                value=value,
                allowed="'cpu'",
            )
        if index >= count:
            raise InvalidArgumentError(
                f"{parameter}={value!r} names CUDA device {index}, but only {count} CUDA device(s) exist;"
                f" use cuda:0 .. cuda:{count - 1}",
                parameter=parameter,
                value=value,
                allowed=f"cuda:0 .. cuda:{count - 1}",
            )
    elif place == "mps" and not torch.backends.mps.is_available():
        raise InvalidArgumentError(
            f"{parameter}={value!r} but MPS is not available on this machine; use 'cpu'",
            parameter=parameter,
            value=value,
            allowed="'cpu'",
        )
    elif place.startswith("xpu") and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise InvalidArgumentError(
            f"{parameter}={value!r} but no XPU is available on this machine; use 'cpu'",
            parameter=parameter,
            value=value,
            allowed="'cpu'",
        )


def _device(spec: LoadSpec) -> str:
    """The device inputs go to; checks ``device`` and every place of ``device_map`` exist on this machine."""
    import torch

    device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
    _check_place(device, "device", device)
    if isinstance(spec.device_map, tuple):
        for module, place in spec.device_map:
            _check_place(place, f"device_map[{module!r}]", place)
    elif spec.device_map is not None and spec.device_map not in DEVICE_MAP_STRATEGIES:
        _check_place(spec.device_map, "device_map", spec.device_map)
    return device


def _dtype(spec: LoadSpec, device: str) -> Any:
    import torch

    if spec.dtype is None:
        return torch.float32 if device == "cpu" else "auto"
    return "auto" if spec.dtype == "auto" else getattr(torch, spec.dtype)


def _quantization_config(spec: LoadSpec) -> Any:
    if spec.quantization is None:
        return None
    try:
        import bitsandbytes  # noqa: F401  (only checks that it is installed)
    except ImportError as exc:
        from abstractllm.blocks import install_line

        install = install_line(QUANTIZATION_EXTRA)
        raise BackendNotInstalledError(
            f"quantization={spec.quantization!r} needs bitsandbytes, which is not installed; run: {install}",
            install=install,
        ) from exc
    from transformers import BitsAndBytesConfig

    if spec.quantization == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True)
    return BitsAndBytesConfig(load_in_8bit=True)


def _load_error(exc: Exception, folder: Path, what: str) -> Exception:
    text = str(exc)
    if "trust_remote_code" in text:
        return UnsupportedModelError(
            f"the model in {folder} ships its own code (auto_map in config.json) and needs trust_remote_code=True"
            " (or model_kwargs={'trust_remote_code': True}); only set it if you trust that code"
        )
    if isinstance(exc, (MemoryError, ImportError)):
        return exc
    return ModelLoadingError(f"cannot load the {what} from {folder}: {type(exc).__name__}: {text}")


def load_weights(spec: LoadSpec, token: str | None) -> LoadedWeights:
    """Resolve, check and load the model and tokenizer described by ``spec``."""
    device = _device(spec)
    folder = resolve_folder(spec, token)
    _check_folder(folder)
    quantization = _quantization_config(spec)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": _dtype(spec, device), "trust_remote_code": spec.trust_remote_code, **spec.extra_kwargs()}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    device_map = spec.device_map_value()
    if device_map is None and quantization is not None:
        device_map = {"": device}
    if device_map is not None:
        kwargs["device_map"] = device_map
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=spec.trust_remote_code)
    except Exception as exc:
        raise _load_error(exc, folder, "tokenizer") from exc
    try:
        with progress_only_on_a_terminal():
            model = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
    except Exception as exc:
        raise _load_error(exc, folder, "model") from exc
    if device_map is None:
        model.to(device)  # type: ignore[arg-type]
    model.eval()
    logger.info("loaded %s on %s (%s)", folder, model.device, model.dtype)
    return LoadedWeights(model=model, tokenizer=tokenizer, folder=folder, device=_input_device(model))


def _input_device(model: Any) -> Any:
    """Where inputs go: the model's device, or, when accelerate offloaded the weights to disk
    (``model.device`` is then ``meta``), the first real device of its map, else the CPU."""
    import torch

    if model.device.type != "meta":
        return model.device
    for place in getattr(model, "hf_device_map", {}).values():
        if place not in ("disk", "meta"):
            return torch.device(f"cuda:{place}" if isinstance(place, int) else place)
    return torch.device("cpu")
