"""Translating torch / transformers / huggingface_hub exceptions into ``abstractllm.errors``."""

from __future__ import annotations

import sys

from abstractllm.errors import AbstractLLMError, ModelLoadingError, ResourceExhaustedError

__all__ = ["map_error"]

#: Texts of allocator failures that torch raises as plain ``RuntimeError`` (CPU) or ``OutOfMemoryError``.
_OUT_OF_MEMORY = ("can't allocate memory", "not enough memory", "out of memory", "cannot allocate memory")


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")  # never import torch just to map an error
    if torch is not None and isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(text in str(error).lower() for text in _OUT_OF_MEMORY)


def map_error(error: BaseException) -> AbstractLLMError | None:
    """The ``abstractllm.errors`` class for ``error``, or None to let core decide."""
    if _is_out_of_memory(error):
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ResourceExhaustedError(
            f"out of memory ({type(error).__name__}: {first_line[:300]}); lower max_tokens, num_return_sequences or"
            " the batch size, or load the model with quantization='8bit'/'4bit'"
        )
    if isinstance(error, OSError) and not isinstance(error, (FileNotFoundError, ConnectionError, TimeoutError)):
        return ModelLoadingError(f"cannot read the model files: {error}")
    return None
