"""The original AbstractLLM enums: ``str`` enums, so members and their values are interchangeable.

They are part of the backend contract and defined in :mod:`abstractllm.backend.enums`; this module keeps the original import path.
"""

from __future__ import annotations

from abstractllm.backend.enums import MessageRole as MessageRole
from abstractllm.backend.enums import ModelCapability as ModelCapability
from abstractllm.backend.enums import ModelParameter as ModelParameter

__all__ = ["MessageRole", "ModelCapability", "ModelParameter"]
