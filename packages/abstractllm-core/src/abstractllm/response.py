"""Results: what backends return (``Completion``, ``StreamDelta``) and what users get.

A user-facing :class:`GenerateResponse` *is* a ``str`` (the reply text), as in the
original AbstractLLM, and also carries the model, finish reason, usage, timing, every
sequence when several were asked for, tool calls and the parsed structured reply.
Streaming yields :class:`StreamChunk` objects, also ``str``; the last one carries the
finish reason and usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from abstractllm._private.structured import parse_structured
from abstractllm.backend.request import ResponseFormat
from abstractllm.backend.response import Choice as Choice
from abstractllm.backend.response import Completion as Completion
from abstractllm.backend.response import StreamDelta as StreamDelta
from abstractllm.backend.response import Timing as Timing
from abstractllm.backend.response import Usage as Usage
from abstractllm.backend.tools import ToolCall

if TYPE_CHECKING:
    from abstractllm._private.plugins import Plugins

__all__ = ["Usage", "Choice", "Completion", "StreamDelta", "Timing", "GenerateResponse", "StreamChunk"]


class GenerateResponse(str):
    """The reply text, with metadata as attributes.

    ``choices`` holds every sequence (a list of ``GenerateResponse``; this object is the
    first). ``parsed`` is the structured reply when ``response_format`` was given.
    ``abstractllm.tools.ToolCallRequest`` is an alias of this class (the original library's
    name), and its shape is here: ``content``,
    ``tool_calls``, ``has_tool_calls()`` and ``execute_tool_calls(functions)``, which
    runs the calls through the tool-call hooks of ``plugins`` (the model's, given by core).
    """

    model: str | None
    provider: str | None
    mode: str | None
    finish_reason: str | None
    usage: Usage
    timing: Timing | None
    tool_calls: list[ToolCall]
    choices: list[GenerateResponse]
    _response_format: ResponseFormat | None
    _plugins: Plugins | None

    def __new__(
        cls,
        text: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        mode: str | None = None,
        finish_reason: str | None = None,
        usage: Usage | None = None,
        timing: Timing | None = None,
        tool_calls: list[ToolCall] | None = None,
        response_format: ResponseFormat | None = None,
        plugins: Plugins | None = None,
    ) -> GenerateResponse:
        self = super().__new__(cls, text)
        self.model = model
        self.provider = provider
        self.mode = mode
        self.finish_reason = finish_reason
        self.usage = usage or Usage()
        self.timing = timing
        self.tool_calls = list(tool_calls or [])
        self.choices = [self]
        self._response_format = response_format
        self._plugins = plugins
        return self

    @property
    def text(self) -> str:
        return str.__str__(self)

    @property
    def content(self) -> str:
        return str.__str__(self)

    @property
    def parsed(self) -> Any:
        """The structured reply as Python data; raises ``OutputParsingError`` when it is
        incomplete (``finish_reason == "length"``), not JSON, or breaks the schema."""
        from abstractllm.errors import UnsupportedOperationError

        if self._response_format is None:
            raise UnsupportedOperationError("no response_format was given for this reply; pass response_format=...")
        return parse_structured(self.text, self._response_format, self.finish_reason)

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def execute_tool_calls(
        self, functions: Mapping[str, Callable[..., Any]], *, plugins: Plugins | None = None
    ) -> list[dict[str, Any]]:
        """Run each valid call whose tool is in ``functions`` through the tool-call hooks.

        One result dict per call: ``{"call_id", "name", "arguments", "output"}`` or
        ``{..., "error"}`` (``"refused": True`` too when a ``abstractllm_before_tool_call``
        plugin refused it). A tool that is not in ``functions`` is never run. The hooks
        are those of ``plugins``, else of the model that made this reply, else the
        process-wide plugins.
        """
        from abstractllm._private.plugins import get_plugins
        from abstractllm._private.tool_hooks import execute_tool_call

        hooks = plugins or self._plugins or get_plugins()
        results = []
        for call in self.tool_calls:
            outcome = execute_tool_call(call, functions, hooks)
            entry: dict[str, Any] = {"call_id": call.id, "name": call.name, "arguments": call.arguments}
            if outcome.error is not None:
                entry["error"] = outcome.error
                if outcome.refused:
                    entry["refused"] = True
            else:
                entry["output"] = outcome.output
            results.append(entry)
        return results

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "choices": [choice.text for choice in self.choices],
        }

    def __repr__(self) -> str:
        return f"GenerateResponse({self.text!r}, finish_reason={self.finish_reason!r}, usage={self.usage.to_dict()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (self.text,))

    def json(self) -> str:
        return json.dumps(self.to_dict())


class StreamChunk(str):
    """A piece of streamed text; the final chunk has ``finish_reason``, ``usage``, ``tool_calls``
    and ``timing`` (``total`` from the first read, ``first_token`` until the first text)."""

    finish_reason: str | None
    usage: Usage | None
    tool_calls: list[ToolCall]
    model: str | None
    timing: Timing | None

    def __new__(
        cls,
        text: str,
        *,
        finish_reason: str | None = None,
        usage: Usage | None = None,
        tool_calls: list[ToolCall] | None = None,
        model: str | None = None,
        timing: Timing | None = None,
    ) -> StreamChunk:
        self = super().__new__(cls, text)
        self.finish_reason = finish_reason
        self.usage = usage
        self.tool_calls = list(tool_calls or [])
        self.model = model
        self.timing = timing
        return self

    @property
    def text(self) -> str:
        return str.__str__(self)

    @property
    def is_final(self) -> bool:
        return self.finish_reason is not None

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (self.text,))
