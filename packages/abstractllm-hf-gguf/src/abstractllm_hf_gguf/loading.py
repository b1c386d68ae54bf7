"""From a validated configuration to a :class:`GGUFBackend`, sharing loaded models.

Models are shared through core's ``SharedModelCache`` keyed by the resolved file (its
size and modification time) and every setting that changes what llama.cpp loads;
the chat format is per backend. The file is checked (:func:`inspect_gguf`) before
llama.cpp opens it.
"""

from __future__ import annotations

import atexit
import inspect
import json
import logging
import numbers
import types
import typing
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from abstractllm.backend import BackendInfo
from abstractllm.blocks import SharedModelCache
from abstractllm.config import ConfigManager
from abstractllm.errors import InvalidArgumentError, ModelLoadingError
from abstractllm.options import suggest
from abstractllm_hf_gguf.backend import GGUFBackend
from abstractllm_hf_gguf.chat import check_chat_format
from abstractllm_hf_gguf.errors import map_llama_error
from abstractllm_hf_gguf.gguf_file import inspect_gguf
from abstractllm_hf_gguf.hub import resolve_model_file
from abstractllm_hf_gguf.llama_log import route_llama_logs
from abstractllm_hf_gguf.model import LoadedModel
from abstractllm_hf_gguf.options import DEFAULT_MAX_CONTEXT, LoadSpec, load_spec
from abstractllm_hf_gguf.speculative import refuse_speculation

__all__ = ["MODELS", "load_backend"]

logger = logging.getLogger(__name__)

#: Every loaded GGUF model of this process, shared and reference-counted.
MODELS: SharedModelCache[LoadedModel] = SharedModelCache(free=LoadedModel.close)
# llama.cpp models still open at exit are closed while their bindings still exist.
atexit.register(MODELS.free_all)


def load_backend(info: BackendInfo, config: ConfigManager) -> GGUFBackend:
    """Resolve, check and load (or share) the model ``config`` names.

    Raises ``ModelNotFoundError`` for a missing file, ``ModelLoadingError`` naming the
    file when it is not a usable GGUF, ``InvalidArgumentError`` for an unknown
    ``chat_format`` (listing the valid ones) or other bad options.
    """
    import llama_cpp

    refuse_speculation(config.get_param("speculative"))
    spec = load_spec(config, gpu_available=bool(llama_cpp.llama_supports_gpu_offload()))
    path = resolve_model_file(spec, config.get_param("api_key"))
    stat = path.stat()
    key: Hashable = (
        str(path),
        stat.st_size,
        stat.st_mtime_ns,
        spec.n_ctx,
        spec.n_gpu_layers,
        spec.n_threads,
        spec.verbose,
        json.dumps(spec.model_kwargs, sort_keys=True, default=repr),
        spec.prefix_cache_bytes,
    )
    model = MODELS.acquire(key, lambda: _load(path, spec))
    try:
        chat_format = model.chat_format(spec.chat_format)
    except BaseException:
        MODELS.release(key)
        raise
    name = spec.model_path if spec.model_path is not None else f"{spec.repo_id}/{path.name}"
    return GGUFBackend(
        info, model, chat_format, name, release=lambda: MODELS.release(key), cache_key=key, tool_format=spec.tool_format
    )


def _load(path: Path, spec: LoadSpec) -> LoadedModel:
    from llama_cpp import Llama

    _check_model_kwargs(spec.model_kwargs)
    gguf = inspect_gguf(path)
    check_chat_format(spec.chat_format, gguf.metadata)
    n_ctx = spec.n_ctx or min(gguf.context_length or DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT)
    route_llama_logs(spec.verbose)
    logger.debug("loading %s with n_ctx=%d n_gpu_layers=%d", path, n_ctx, spec.n_gpu_layers)
    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_gpu_layers=spec.n_gpu_layers,
            n_threads=spec.n_threads,
            verbose=spec.verbose,
            **spec.model_kwargs,
        )
    except (ValueError, RuntimeError) as exc:
        mapped = map_llama_error(exc, str(path))
        raise (mapped or ModelLoadingError(f"llama.cpp could not load {path}: {exc}")) from exc
    return LoadedModel(llama, path, gguf, spec.prefix_cache_bytes)


def _check_model_kwargs(model_kwargs: dict[str, object]) -> None:
    """``llama_cpp.Llama`` swallows unknown keywords and checks no types (``n_batch="512"`` loads, then
    fails at the first generation); reject both here, against its signature's type hints."""
    from llama_cpp import Llama

    parameters = inspect.signature(Llama.__init__).parameters
    known = [name for name, parameter in parameters.items() if parameter.kind is parameter.KEYWORD_ONLY]
    for name in model_kwargs:
        if name not in known:
            raise InvalidArgumentError(
                f"model_kwargs[{name!r}] is not a llama_cpp.Llama argument.{suggest(name, known)}",
                parameter="model_kwargs",
                value=name,
                allowed=", ".join(known),
            )
    try:
        hints = typing.get_type_hints(Llama.__init__)
    except Exception:  # a hint this llama_cpp version cannot resolve: types are left to llama.cpp
        logger.debug("cannot read the type hints of llama_cpp.Llama; model_kwargs types are not checked", exc_info=True)
        return
    for name, value in model_kwargs.items():
        hint = hints.get(name, Any)
        if not _matches(value, hint):
            wanted = str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
            raise InvalidArgumentError(
                f"model_kwargs[{name!r}]={value!r} is a {type(value).__name__}; llama_cpp.Llama takes {wanted}",
                parameter="model_kwargs",
                value=value,
                allowed=wanted,
            )


def _matches(value: object, hint: Any) -> bool:
    """Whether ``value`` fits the type hint ``hint`` (bool is not a number here; unknown hints fit anything)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in args)
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_matches(item, args[0] if args else Any) for item in value)
    if origin is dict:
        key, item = args if args else (Any, Any)
        return isinstance(value, Mapping) and all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint in (int, float):
        return not isinstance(value, bool) and isinstance(value, numbers.Integral if hint is int else numbers.Real)
    if isinstance(hint, type) and origin is None:
        try:
            return isinstance(value, hint)
        except TypeError:  # a Protocol that cannot be checked at run time
            return True
    return True
