"""AbstractLLM: one Python interface to every way of running HuggingFace models.

``import abstractllm`` is cheap: names are imported on first use, and no backend
(nor torch, transformers, llama.cpp, numpy or httpx) is imported until a model of
that mode is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The version of all four distributions (their pyprojects read it here: the one place it is written).
__version__ = "0.1.0"

_EXPORTS = {
    "create_llm": "abstractllm.factory",
    "get_llm_providers": "abstractllm.factory",
    "AbstractLLMInterface": "abstractllm.interface",
    "ModelParameter": "abstractllm.enums",
    "ModelCapability": "abstractllm.enums",
    "MessageRole": "abstractllm.enums",
    "Session": "abstractllm.session",
    "SessionManager": "abstractllm.session",
    "configure_logging": "abstractllm.logging_config",
    "ConfigManager": "abstractllm.config",
    "ConfigurationManager": "abstractllm.config",
    "GenerateResponse": "abstractllm.response",
    "StreamChunk": "abstractllm.response",
    "Usage": "abstractllm.response",
    "Message": "abstractllm.messages",
    "ChatMessage": "abstractllm.messages",
    "ToolDefinition": "abstractllm.tools",
    "ToolCall": "abstractllm.tools",
    "hookimpl": "abstractllm.plugins",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from abstractllm.config import ConfigManager, ConfigurationManager
    from abstractllm.enums import MessageRole, ModelCapability, ModelParameter
    from abstractllm.factory import create_llm, get_llm_providers
    from abstractllm.interface import AbstractLLMInterface
    from abstractllm.logging_config import configure_logging
    from abstractllm.messages import ChatMessage, Message
    from abstractllm.plugins import hookimpl
    from abstractllm.response import GenerateResponse, StreamChunk, Usage
    from abstractllm.session import Session, SessionManager
    from abstractllm.tools import ToolCall, ToolDefinition


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'abstractllm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
