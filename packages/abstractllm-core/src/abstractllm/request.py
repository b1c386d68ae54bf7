"""What a backend is asked to do: one validated generation request.

The types are part of the backend contract, defined in :mod:`abstractllm.backend.request`; this module
keeps the original import path.
"""

from __future__ import annotations

from abstractllm.backend.request import GenerationParams as GenerationParams
from abstractllm.backend.request import GenerationRequest as GenerationRequest
from abstractllm.backend.request import PromptEncoding as PromptEncoding
from abstractllm.backend.request import ResponseFormat as ResponseFormat
from abstractllm.backend.request import render_plain_chat as render_plain_chat

__all__ = ["GenerationParams", "GenerationRequest", "PromptEncoding", "ResponseFormat", "render_plain_chat"]
