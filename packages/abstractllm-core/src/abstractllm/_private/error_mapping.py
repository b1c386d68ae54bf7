"""Translating what a backend raises into the ``abstractllm.errors`` class users see."""

from __future__ import annotations

from abstractllm.backend import BackendInfo
from abstractllm.errors import (
    AbstractLLMError,
    GenerationError,
    ModelNotFoundError,
    ProviderAPIError,
    ProviderConnectionError,
    RequestTimeoutError,
    ResourceExhaustedError,
)

__all__ = ["map_exception"]


def map_exception(error: BaseException, info: BackendInfo, model: str | None) -> AbstractLLMError:
    """Translate any exception from a backend into an ``abstractllm.errors`` class.

    ``abstractllm`` errors pass through (with provider, mode and model filled in); others go
    to the mode's ``BackendInfo.map_error``, then to generic rules. The original is kept as
    ``__cause__``.
    """
    if isinstance(error, AbstractLLMError):
        return error.with_context(provider=info.provider, mode=info.mode, model=model)
    mapped = info.map_error(error) if info.map_error is not None else None
    if mapped is None:
        mapped = _generic_error(error)
    if mapped.original_exception is None:
        mapped.original_exception = error
    mapped.__cause__ = error
    return mapped.with_context(provider=info.provider, mode=info.mode, model=model)


def _generic_error(error: BaseException) -> AbstractLLMError:
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, MemoryError):
        return ResourceExhaustedError(f"out of memory: {detail}")
    if isinstance(error, TimeoutError):
        return RequestTimeoutError(f"timed out: {detail}")
    if isinstance(error, ConnectionError):
        return ProviderConnectionError(f"connection failed: {detail}")
    if isinstance(error, FileNotFoundError):
        return ModelNotFoundError(f"file not found: {detail}")
    if isinstance(error, (ValueError, TypeError)):
        return GenerationError(f"the backend rejected the request: {detail}")
    return ProviderAPIError(f"the backend failed: {detail}")
