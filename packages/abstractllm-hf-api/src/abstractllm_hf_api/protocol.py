"""What every wire protocol provides: request bodies, reply parsing and stream state."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from abstractllm.errors import ProviderAPIError
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, Usage
from abstractllm.tools import ToolCall
from abstractllm_hf_api.sse import SSEEvent

__all__ = ["Call", "Protocol", "StreamEnd", "StreamState", "finish_reason", "load_json", "usage_from"]

_FINISH_REASONS = {
    "stop": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


def finish_reason(value: Any) -> str | None:
    """A server's finish reason in core's terms: ``"stop"``, ``"length"`` or ``"tool_calls"``."""
    if value is None:
        return None
    return _FINISH_REASONS.get(str(value), str(value))


def usage_from(data: Any) -> Usage | None:
    """An OpenAI ``usage`` object (decoded JSON) as ``Usage``, or None when absent."""
    if not isinstance(data, dict):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def load_json(text: str, where: str) -> Any:
    """``json.loads`` raising ``ProviderAPIError`` (never a hang or a bare ValueError)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ProviderAPIError(f"{where} sent malformed JSON: {text[:200]!r}", original_exception=exc) from exc


@dataclass(frozen=True)
class Call:
    """One HTTP call: the ``url`` to POST to and its JSON ``payload``; ``features`` names the
    optional features the body carries (for error messages)."""

    url: str
    payload: dict[str, Any]
    features: tuple[str, ...] = ()


@dataclass
class StreamEnd:
    """How a stream ended: the server's finish reason (None when it sent none: core's reply
    assembler then decides), usage (None when the server sent none), tool calls."""

    finish_reason: str | None
    usage: Usage | None
    tool_calls: list[ToolCall] = field(default_factory=list)


class StreamState(ABC):
    """Reads one protocol's stream events; ``done`` once the server marked the end."""

    done: bool = False

    @abstractmethod
    def feed(self, event: SSEEvent) -> str:
        """The text this event adds (may be empty); raises ``ProviderAPIError`` for error events."""

    @abstractmethod
    def end(self) -> StreamEnd:
        """How the stream ended; raises ``ProviderAPIError`` when it stopped before its end."""


class Protocol(ABC):
    """One wire protocol bound to a server's base URL."""

    name: str
    #: What this protocol can do with this server (``ModelCapability`` values).
    supports_tools: bool = False
    supports_json: bool = False
    chat_template: bool | str = "fallback"

    @abstractmethod
    def call(self, request: GenerationRequest, *, stream: bool, n: int) -> Call:
        """The HTTP call generating ``n`` sequences (``stream`` only with ``n == 1``)."""

    @abstractmethod
    def completion(self, body: Any, headers: Mapping[str, str], request: GenerationRequest) -> Completion:
        """The reply body as a ``Completion`` with the server's text (not yet cut at stop sequences)
        and finish reasons (None where it sent none); core's reply assembler finishes each choice."""

    @abstractmethod
    def stream_state(self, request: GenerationRequest) -> StreamState:
        """A fresh reader for one streamed reply."""
