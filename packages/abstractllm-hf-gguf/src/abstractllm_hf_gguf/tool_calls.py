"""Tool calls in a GGUF model's reply.

Templates that ask for ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
(Hermes, Qwen and this project's test model) are read by :class:`ToolCallExtractor`:
streamed text passes through, blocks are held back and parsed into ``ToolCall``s, so
the reply text (streamed or not) is the content without the calls. For a template
without that convention a forced call is the whole reply as bare JSON
(``capture_all``). A block that is not a JSON call is reported as a call with
``error`` set, never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from abstractllm.tools import ToolCall
from abstractllm_hf_gguf.grammars import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

__all__ = ["ToolCallExtractor", "parse_call"]

_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')


def parse_call(text: str) -> ToolCall:
    """One call from ``{"name": ..., "arguments": {...}}`` (``parameters`` accepted too)."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        found = _NAME.search(text)
        return ToolCall(
            name=found.group(1) if found else "<unparsed>",
            arguments={},
            error=f"the tool call is not valid JSON ({exc.msg} at position {exc.pos}): {text[:200]!r}",
        )
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return ToolCall(name="<unparsed>", arguments={}, error=f"the tool call has no function name: {text[:200]!r}")
    arguments = data.get("arguments", data.get("parameters", {}))
    return ToolCall.from_dict({"name": data["name"], "arguments": arguments if arguments is not None else {}})


class ToolCallExtractor:
    """Splits streamed text into visible content and tool-call blocks.

    ``feed(text)`` returns the content now safe to show; ``finish()`` returns the rest
    of the content and sets ``calls``. With ``capture_all`` the whole reply is one call.
    """

    def __init__(self, *, capture_all: bool = False) -> None:
        self.capture_all = capture_all
        self.calls: list[ToolCall] = []
        self._pending = ""
        self._inside = False

    def feed(self, text: str) -> str:
        self._pending += text
        if self.capture_all:
            return ""
        shown: list[str] = []
        while self._pending:
            if self._inside:
                end = self._pending.find(TOOL_CALL_CLOSE)
                if end < 0:
                    return "".join(shown)
                self.calls.append(parse_call(self._pending[:end].strip()))
                self._pending = self._pending[end + len(TOOL_CALL_CLOSE) :]
                self._inside = False
                continue
            start = self._pending.find(TOOL_CALL_OPEN)
            if start >= 0:
                shown.append(self._pending[:start])
                self._pending = self._pending[start + len(TOOL_CALL_OPEN) :]
                self._inside = True
                continue
            keep = _partial_tag(self._pending)
            shown.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return "".join(shown)

    def finish(self) -> str:
        """Content held back at the end; an unterminated block still becomes a (checked) call."""
        pending, self._pending = self._pending, ""
        if self.capture_all:
            if pending.strip():
                self.calls.append(parse_call(pending.strip().removeprefix(TOOL_CALL_OPEN).removesuffix(TOOL_CALL_CLOSE)))
            return ""
        if self._inside:
            self._inside = False
            if pending.strip():
                self.calls.append(parse_call(pending.strip()))
            return ""
        return pending


def _partial_tag(text: str) -> int:
    """Length of the longest end of ``text`` that could start ``<tool_call>``."""
    for length in range(min(len(TOOL_CALL_OPEN) - 1, len(text)), 0, -1):
        if text.endswith(TOOL_CALL_OPEN[:length]):
            return length
    return 0
