"""Options of the gguf mode and the load specification built from them.

Values arrive validated by core (types, ranges); :func:`load_spec` turns a
configuration into a :class:`LoadSpec`: *where* the file comes from and *how*
llama.cpp loads it. Nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from abstractllm.config import ConfigManager
from abstractllm.errors import InvalidArgumentError
from abstractllm.options import Option, check_bool, check_int, check_optional_str, is_device
from abstractllm.providers.huggingface import DEFAULT_PREFIX_CACHE_BYTES, hf_options
from abstractllm.speculative import SPECULATIVE_OPTION

__all__ = ["DEFAULT_MAX_CONTEXT", "GENERATION_OPTIONS", "LOAD_OPTIONS", "LoadSpec", "load_spec"]

#: The context window used when ``n_ctx`` is not given: the file's training context, capped here.
DEFAULT_MAX_CONTEXT = 4096

#: Devices llama.cpp offloads to (``"cuda:N"`` picks a GPU).
DEVICES = ("cpu", "cuda", "gpu", "metal", "mps", "vulkan")

#: Keyword arguments of ``llama_cpp.Llama`` that this backend sets itself (rejected in ``model_kwargs``).
_OWN_LLAMA_KWARGS = ("model_path", "n_ctx", "n_gpu_layers", "n_threads", "verbose", "chat_format", "chat_handler")


def _check_grammar(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "::=" not in value:
        raise ValueError("a llama.cpp GBNF grammar string (rules written 'name ::= ...', starting at 'root')")
    return value


LOAD_OPTIONS: dict[str, Option] = {
    **hf_options("device", "model_kwargs", "revision", "cache_dir", "prefix_cache_bytes", "tool_format"),
    **{
        option.name: option
        for option in (
            Option("filename", None, check_optional_str, "File (name or glob such as '*Q4_K_M.gguf') in the hub repo `model`."),
            Option("n_ctx", None, check_int(1), f"Context window; default: the file's, at most {DEFAULT_MAX_CONTEXT}."),
            Option("n_gpu_layers", None, check_int(-1), "Layers offloaded to the GPU (-1 = all); default all with a GPU."),
            Option("n_threads", None, check_int(1), "CPU threads for generation; default llama.cpp's choice."),
            Option("chat_format", None, check_optional_str, "llama.cpp chat format; default the GGUF's own chat template."),
            Option("verbose", False, check_bool, "Let llama.cpp print its logs to stderr."),
        )
    },
}

GENERATION_OPTIONS: dict[str, Option] = {
    "grammar": Option("grammar", None, _check_grammar, "A llama.cpp GBNF grammar the reply must follow."),
    SPECULATIVE_OPTION.name: SPECULATIVE_OPTION,  # refused when on: see abstractllm_hf_gguf.speculative
}


@dataclass(frozen=True)
class LoadSpec:
    """What to load and how.

    Exactly one source: ``model_path`` (a local file) or ``repo_id`` (+ ``filename``,
    ``revision``, ``cache_dir``) in the HuggingFace hub. ``n_ctx``/``n_gpu_layers`` of
    None mean "decide from the file / the build". ``model_kwargs`` go to ``Llama``.
    """

    model_path: str | None
    repo_id: str | None
    filename: str | None
    revision: str | None
    cache_dir: str | None
    n_ctx: int | None
    n_gpu_layers: int
    n_threads: int | None
    chat_format: str | None
    verbose: bool
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES
    tool_format: str | None = None

    @property
    def label(self) -> str:
        """How the user named the model (for messages)."""
        if self.model_path is not None:
            return self.model_path
        return f"{self.repo_id}/{self.filename}" if self.filename else str(self.repo_id)


def load_spec(config: ConfigManager, *, gpu_available: bool) -> LoadSpec:
    """Build the :class:`LoadSpec` of a validated configuration.

    ``model_path`` wins; a ``model`` ending in ``.gguf`` (or an existing file) is a path;
    any other ``model`` is a hub repo id. Raises ``InvalidArgumentError`` when no model
    is named, for a bad ``device`` or for ``model_kwargs`` that repeat this mode's options.
    """
    model_path = config.get_param("model_path")
    model = config.get_param("model")
    repo_id: str | None = None
    if model_path is None and isinstance(model, str):
        if model.lower().endswith(".gguf") or model.startswith(("/", "./", "~")):
            model_path = model
        else:
            repo_id = model
    if model_path is None and repo_id is None:
        raise InvalidArgumentError(
            "the gguf mode needs model_path='/path/model.gguf' or model='owner/Repo-GGUF' with filename='*.gguf'",
            parameter="model_path",
            value=None,
            allowed="a .gguf file path, or a hub repo id with filename",
        )
    device = config.get_param("device")
    if device is not None and not is_device(str(device), DEVICES):
        raise InvalidArgumentError(
            f"device={device!r} is not a device llama.cpp can use; use one of {', '.join(map(repr, DEVICES))}",
            parameter="device",
            value=device,
            allowed=", ".join(map(repr, DEVICES)),
        )
    n_gpu_layers = config.get_param("n_gpu_layers")
    if n_gpu_layers is None:
        wants_gpu = gpu_available if device is None else str(device).lower() != "cpu"
        n_gpu_layers = -1 if wants_gpu else 0
    model_kwargs: Mapping[str, Any] = config.get_param("model_kwargs") or {}
    clashes = sorted(set(model_kwargs) & set(_OWN_LLAMA_KWARGS))
    if clashes:
        raise InvalidArgumentError(
            f"model_kwargs may not set {', '.join(clashes)}; pass them as create_llm options",
            parameter="model_kwargs",
            value=dict(model_kwargs),
            allowed="Llama keyword arguments other than " + ", ".join(_OWN_LLAMA_KWARGS),
        )
    return LoadSpec(
        model_path=model_path,
        repo_id=repo_id,
        filename=config.get_param("filename"),
        revision=config.get_param("revision"),
        cache_dir=config.get_param("cache_dir"),
        n_ctx=config.get_param("n_ctx"),
        n_gpu_layers=int(n_gpu_layers),
        n_threads=config.get_param("n_threads"),
        chat_format=config.get_param("chat_format"),
        verbose=bool(config.get_param("verbose", False)),
        model_kwargs=dict(model_kwargs),
        prefix_cache_bytes=int(config.get_param("prefix_cache_bytes", DEFAULT_PREFIX_CACHE_BYTES)),
        tool_format=config.get_param("tool_format"),
    )
