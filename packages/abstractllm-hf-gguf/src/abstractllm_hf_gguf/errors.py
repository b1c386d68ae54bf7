"""Translating llama-cpp-python's exceptions into ``abstractllm.errors``."""

from __future__ import annotations

from abstractllm.errors import AbstractLLMError, GenerationError, ModelLoadingError, ResourceExhaustedError

__all__ = ["map_llama_error"]


def map_llama_error(error: BaseException, where: str | None = None) -> AbstractLLMError | None:
    """An ``abstractllm`` error for what llama-cpp-python raises, or None when it is not its.

    llama-cpp-python reports load failures as ``ValueError("Failed to load model from
    file: ...")``, context allocation failures as ``ValueError("Failed to create
    llama_context")`` and decode failures as ``RuntimeError("llama_decode returned ...")``.
    """
    message = str(error)
    place = f" ({where})" if where else ""
    if isinstance(error, ValueError) and "Failed to load model" in message:
        return ModelLoadingError(f"llama.cpp could not load the model{place}: {message}")
    if isinstance(error, ValueError) and "Failed to create llama_context" in message:
        return ResourceExhaustedError(f"llama.cpp could not allocate the context{place}; lower n_ctx: {message}")
    if isinstance(error, RuntimeError) and "llama_decode" in message:
        return GenerationError(f"llama.cpp failed while decoding{place}: {message}")
    return None
