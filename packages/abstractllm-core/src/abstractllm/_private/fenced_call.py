"""A call written another way is still a call: a reply that is one JSON call, fenced or bare.

Models often answer a tool request with the call as a JSON code block instead of their own
markup (a real Qwen2.5-Coder-0.5B-Instruct, asked for the weather in Paris with one tool,
replied ````json\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n````). The rule:

- a reply is read as tool call(s) when, apart from surrounding whitespace and at most one
  code fence (```` ``` ```` or ```` ```json ````, closed), it is exactly one JSON object or a
  non-empty JSON list of objects, and **every** object is ``{"name": <tool>, "arguments":
  {...}}`` (or ``"parameters"`` for ``"arguments"``, no other key) where ``<tool>`` is one
  of the offered tools and the arguments are valid for its schema (core's JSON-schema
  checker);
- anything else stays text: other JSON, an unknown name, invalid arguments, any text
  around the fence or a second fence, a reply cut by ``max_tokens``. The reply assembler
  asks only when the request offers tools (some given, ``tool_choice`` not ``"none"``),
  asks for no ``response_format``, and the reply has no call in the model's own markup.

Streamed, the user never sees a call as text: :class:`FencedCallGate` holds the reply's
text back while it can still become a call (it starts with whitespace, a fence, ``{`` or
``[`` and its first key is ``name``, ``arguments`` or ``parameters``) and lets it through
the moment it cannot. A reply that becomes a call shows no text; the last delta carries
the calls and finish reason ``"tool_calls"``, exactly as the non-streamed reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from abstractllm._private.json_schema import schema_errors
from abstractllm.tools import ToolCall, ToolDefinition

__all__ = ["FencedCallGate", "fenced_tool_calls"]

_FENCE = "```"
_KEYS = ("name", "arguments", "parameters")
_FIRST_KEY = re.compile(r'(\[\s*)?\{\s*"([^"\\]*)(")?')
_OPENING = re.compile(r"(\[\s*)?(\{\s*)?")
_DECODER = json.JSONDecoder()


def fenced_tool_calls(reply: str, tools: Sequence[ToolDefinition]) -> list[ToolCall]:
    """The calls ``reply`` is, by the module's rule, or an empty list when it is text."""
    body = _unfenced(reply)
    if body is None or not body:
        return []
    try:
        value, end = _DECODER.raw_decode(body)
    except json.JSONDecodeError:
        return []
    if body[end:].strip():
        return []
    items = value if isinstance(value, list) else [value]
    offered = {tool.name: tool for tool in tools}
    calls = [_call(item, offered) for item in items]
    if not calls or any(call is None for call in calls):
        return []
    return [call for call in calls if call is not None]


def _unfenced(reply: str) -> str | None:
    """The JSON text of ``reply``: inside its one closed fence, or all of it; None for a bad fence."""
    text = reply.strip()
    if not text.startswith(_FENCE):
        return text
    header, newline, rest = text[len(_FENCE) :].partition("\n")
    if not newline or header.strip().lower() not in ("", "json") or not rest.rstrip().endswith(_FENCE):
        return None
    inner = rest.rstrip()[: -len(_FENCE)]
    return None if _FENCE in inner else inner.strip()


def _call(item: Any, offered: Mapping[str, ToolDefinition]) -> ToolCall | None:
    if not isinstance(item, dict) or len(item) != 2 or "name" not in item:
        return None
    arguments = item.get("arguments", item.get("parameters"))
    tool = offered.get(item["name"]) if isinstance(item["name"], str) else None
    if tool is None or not isinstance(arguments, dict):
        return None
    if schema_errors(arguments, tool.input_schema or {"type": "object"}):
        return None
    return ToolCall(name=tool.name, arguments=arguments)


def _may_become_call(text: str) -> bool:
    """Whether a reply that starts with ``text`` can still be a call (never False for a prefix of one)."""
    body = text.lstrip()
    if body.startswith(_FENCE):
        header, newline, rest = body[len(_FENCE) :].partition("\n")
        if not newline:
            return "json".startswith(header.strip().lower())
        if header.strip().lower() not in ("", "json"):
            return False
        close = rest.find(_FENCE)
        if close >= 0:
            return not rest[close + len(_FENCE) :].strip() and _json_may_become_call(rest[:close], closed=True)
        return _json_may_become_call(rest.rstrip("`"), closed=False)
    if _FENCE.startswith(body):  # nothing yet, or the start of a fence
        return True
    return _json_may_become_call(body, closed=True)


def _json_may_become_call(text: str, *, closed: bool) -> bool:
    """Whether JSON starting with ``text`` can still be a call; ``closed``: nothing may follow it."""
    body = text.strip()
    if not body:
        return True
    found = _FIRST_KEY.match(body)
    if found is None:
        return _OPENING.fullmatch(body) is not None
    key, key_closed = found.group(2), found.group(3)
    if not (key in _KEYS if key_closed else any(name.startswith(key) for name in _KEYS)):
        return False
    if "}" not in body and "]" not in body:
        return True  # the JSON cannot be complete yet
    try:
        _, end = _DECODER.raw_decode(body)
    except json.JSONDecodeError:
        return True  # unfinished (an invalid value is judged when the reply ends)
    return not (closed and body[end:].strip())


class FencedCallGate:
    """Holds back a reply's visible text while it may still be a call (see the module docstring).

    ``feed`` takes the next visible text and returns what may be shown now; ``finish`` returns
    the text still held and the calls the whole reply is (empty when it is text: the held text
    is then shown). ``recognize=False`` at ``finish`` (a reply cut short, or one with calls in
    its markup) releases the text without reading it.
    """

    __slots__ = ("_held", "_open", "_tools")

    def __init__(self, tools: Sequence[ToolDefinition]) -> None:
        self._tools = tuple(tools)
        self._held: list[str] = []
        self._open = False  # decided: the reply is text, everything passes

    def feed(self, text: str) -> str:
        """The part of the reply so far that may be shown now (all of it once it cannot be a call)."""
        if self._open or not text:
            return text
        self._held.append(text)
        held = "".join(self._held)
        if _may_become_call(held):
            self._held = [held]
            return ""
        self._open, self._held = True, []
        return held

    def finish(self, *, recognize: bool = True) -> tuple[str, list[ToolCall]]:
        """``(text still to show, calls)``: the calls of a reply that is one, else its held text."""
        held, self._held = "".join(self._held), []
        if self._open or not held:
            return held, []
        calls = fenced_tool_calls(held, self._tools) if recognize else []
        return ("", calls) if calls else (held, [])
