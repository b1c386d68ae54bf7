"""AbstractLLM: one Python interface to every way of running HuggingFace models.

``import abstractllm`` is cheap: names are imported on first use, and no backend
(nor torch, transformers, llama.cpp, numpy or httpx) is imported until a model of
that mode is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from abstractllm._private.lazy_names import lazy_names

#: The version of all four distributions (their pyprojects read it here: the one place it is written).
__version__ = "0.1.0"

_EXPORTS = {
    "create_llm": "abstractllm._private.factory",
    "get_llm_providers": "abstractllm._private.factory",
    "AbstractLLMInterface": "abstractllm._private.llm",
    "ModelParameter": "abstractllm.enums",
    "ModelCapability": "abstractllm.enums",
    "MessageRole": "abstractllm.enums",
    "Session": "abstractllm.session",
    "SessionManager": "abstractllm.session",
    "configure_logging": "abstractllm._private.logging_config",
    "ConfigManager": "abstractllm.config",
    "ConfigurationManager": "abstractllm.config",
    "GenerateResponse": "abstractllm.response",
    "StreamChunk": "abstractllm.response",
    "Usage": "abstractllm.response",
    "Message": "abstractllm.backend.messages",
    "ChatMessage": "abstractllm.backend.messages",
    "ToolDefinition": "abstractllm.tools",
    "ToolCall": "abstractllm.tools",
    "hookimpl": "abstractllm.hookspecs",
}

#: Names that repeat one already listed, kept for the original library's users (they are the same objects).
_ALIASES = frozenset({"ChatMessage", "ConfigurationManager"})

__all__ = sorted(set(_EXPORTS) - _ALIASES)

if TYPE_CHECKING:
    from abstractllm._private.factory import create_llm as create_llm
    from abstractllm._private.factory import get_llm_providers as get_llm_providers
    from abstractllm._private.llm import AbstractLLMInterface as AbstractLLMInterface
    from abstractllm._private.logging_config import configure_logging as configure_logging
    from abstractllm.backend.messages import ChatMessage as ChatMessage
    from abstractllm.backend.messages import Message as Message
    from abstractllm.config import ConfigManager as ConfigManager
    from abstractllm.config import ConfigurationManager as ConfigurationManager
    from abstractllm.enums import MessageRole as MessageRole
    from abstractllm.enums import ModelCapability as ModelCapability
    from abstractllm.enums import ModelParameter as ModelParameter
    from abstractllm.hookspecs import hookimpl as hookimpl
    from abstractllm.response import GenerateResponse as GenerateResponse
    from abstractllm.response import StreamChunk as StreamChunk
    from abstractllm.response import Usage as Usage
    from abstractllm.session import Session as Session
    from abstractllm.session import SessionManager as SessionManager
    from abstractllm.tools import ToolCall as ToolCall
    from abstractllm.tools import ToolDefinition as ToolDefinition


__getattr__, __dir__ = lazy_names(globals(), _EXPORTS)
