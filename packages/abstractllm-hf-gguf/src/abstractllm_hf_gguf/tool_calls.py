"""Tool calls in a GGUF model's reply, read with core's one parser (:func:`abstractllm.backend.read_tool_calls`).

:class:`ToolCallExtractor` splits streamed text: text outside ``<tool_call>`` blocks
passes through, blocks are held back and read when the reply ends, so the reply text
(streamed or not) is the content without the calls. With ``capture_all`` the whole
reply is one forced call (bare JSON, or a block). A block that is not a JSON call is a
call with ``error`` set; a last block cut short by ``max_tokens`` sets ``truncated``
and yields no calls (the reply's finish reason stays ``"length"``).
"""

from __future__ import annotations

import json

from abstractllm.backend import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, ToolCallScan, read_tool_calls, tool_call_from_data
from abstractllm.tools import ToolCall

__all__ = ["ToolCallExtractor"]


class ToolCallExtractor:
    """Splits streamed text into visible content and tool-call blocks.

    ``feed(text)`` returns the content now safe to show; ``finish()`` returns the rest
    of the content and sets ``calls`` and ``truncated``.
    """

    def __init__(self, *, capture_all: bool = False) -> None:
        self.capture_all = capture_all
        self.calls: list[ToolCall] = []
        self.truncated = False
        self._pending = ""
        self._blocks = ""
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
                end += len(TOOL_CALL_CLOSE)
                self._blocks += self._pending[:end]
                self._pending = self._pending[end:]
                self._inside = False
                continue
            start = self._pending.find(TOOL_CALL_OPEN)
            if start >= 0:
                shown.append(self._pending[:start])
                self._pending = self._pending[start:]
                self._blocks += TOOL_CALL_OPEN
                self._pending = self._pending[len(TOOL_CALL_OPEN) :]
                self._inside = True
                continue
            keep = _partial_tag(self._pending)
            shown.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return "".join(shown)

    def finish(self) -> str:
        """Content held back at the end; the held blocks become calls."""
        pending, self._pending = self._pending, ""
        if self.capture_all:
            scan = _read_forced(pending.strip())
            pending = ""
        else:
            if self._inside:
                self._blocks += pending
                pending = ""
            self._inside = False
            scan = read_tool_calls(self._blocks)
        self.truncated = scan.truncated
        self.calls = [] if scan.truncated else scan.calls
        return pending


def _read_forced(text: str) -> ToolCallScan:
    """A forced reply: ``<tool_call>`` blocks, or the whole text as one bare JSON call."""
    if text.startswith(TOOL_CALL_OPEN):
        return read_tool_calls(text)
    if not text:
        return ToolCallScan()
    try:
        return ToolCallScan([tool_call_from_data(json.loads(text))])
    except json.JSONDecodeError:
        return ToolCallScan(truncated=True)  # grammar-constrained: JSON that does not parse was cut short


def _partial_tag(text: str) -> int:
    """Length of the longest end of ``text`` that could start ``<tool_call>``."""
    for length in range(min(len(TOOL_CALL_OPEN) - 1, len(text)), 0, -1):
        if text.endswith(TOOL_CALL_OPEN[:length]):
            return length
    return 0
