"""One reply, assembled from the model's text as it comes: the only place where every mode's
stop sequences, tool-call blocks, finish reason and constraint checks are decided.

A :class:`ReplyAssembler` does no I/O (in the style of httpx's ``auth_flow``): a backend
feeds it the text its model produces, in pieces of any size, and shows what ``feed``
returns; when generation ends it calls ``finish`` once and ends its stream with the delta
that returns. Streamed and non-streamed replies run the same code, so they are equal by
construction, and every mode (and any plugin) follows the same rules:

- **Stop sequences** (the request's, plus any a backend adds) are cut wherever they fall,
  including across pieces: text that may start one is held back until it cannot. Once one
  is seen ``stopped`` is True (generate no more) and nothing after it exists.
- **Tool-call blocks** (when the request offers tools and the backend names the model's
  :class:`~abstractllm._private.tool_format.ToolMarkup`, its tool-call family's): a block runs
  from ``markup.open`` to ``markup.close`` (or to the end of the reply; always so for a
  family without a close marker); with ``markup.leading_json`` a reply that starts with
  ``{"name": ...`` is one block (held back until that is known). **Every block is taken out of the
  text, and all text outside blocks is kept**, before, between and after them, as the
  model wrote it: ``'Let me check.<tool_call>{...}</tool_call> Then I will answer.'``
  shows ``'Let me check. Then I will answer.'``. Blocks are read when the reply ends, by
  :func:`~abstractllm._private.tool_format.read_tool_calls` or the backend's own reader.
  A block that is not a call is a call named ``<unparsed>`` with ``error`` set, never
  dropped; so is a last block left open when the model ended its reply. A last block cut
  short by ``max_tokens`` is no call at all. A markup of recipient segments (Functionary v3.2's
  ``all\\ntext>>>get_weather\\n{...}``, :attr:`~abstractllm._private.tool_format.ToolMarkup.recipient_text`)
  shows its text segments and takes out its call segments, each held until its JSON is complete.
- **A call written as JSON** (tools offered, no ``response_format``, no call in the markup):
  a reply that is one JSON call, bare or in one code fence, naming an offered tool with valid
  arguments, is that call (:mod:`~abstractllm._private.fenced_call`); while it may become
  one its text is held back, so a call is never shown as text, streamed or not.
- **The finish reason**: the reason generation ended is ``"stop"`` when a stop sequence ended
  the reply, else the one the backend gives (``"stop"`` for the end of the sequence,
  ``"length"`` for ``max_tokens``, a server's own; ``"stop"`` when it gives none). The reply's
  is ``"length"`` when that is ``"length"`` and a tool call was cut short (or may be: calls a
  server read); else ``"tool_calls"`` when the reply has calls; else that reason.
- **Constraints**: ``finish`` records in ``unmet`` whether the reply ignored a forced
  ``tool_choice`` or its ``response_format`` (checked by
  :func:`~abstractllm._private.structured.parse_structured`), for a backend whose runtime
  does not enforce them (an API) to report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from abstractllm._private.fenced_call import FencedCallGate
from abstractllm._private.stops import StopSequenceFilter
from abstractllm._private.structured import parse_structured
from abstractllm._private.tool_format import (
    FALLBACK_MARKUP,
    RECIPIENT,
    ToolCallScan,
    ToolMarkup,
    leading_call,
    named_tool,
    read_tool_calls,
)
from abstractllm.errors import OutputParsingError
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, StreamDelta, Usage
from abstractllm.tools import ToolCall

__all__ = ["ReplyAssembler", "Unmet", "unmet_constraint"]


@dataclass(frozen=True)
class Unmet:
    """What a finished reply ignored: ``feature`` (``"tool_choice"`` or ``"response_format"``),
    what happened in words, and the facts behind it (``details``; ``cause`` the parsing error)."""

    feature: str
    problem: str
    details: dict[str, Any] = field(default_factory=dict)
    cause: OutputParsingError | None = None


class ReplyAssembler:
    """Turns the text one sequence's model produces into the reply (see the module docstring).

    ``markup`` is the model's tool-call markup; it is used only when the request offers tools
    (``markup=None``: the model writes no calls, its text passes as it is). ``read_calls``
    reads the calls of the whole reply text (markup included, stop sequences cut) when the
    model has a reader of its own; by default :func:`read_tool_calls` with ``markup``.
    ``stops`` are the stop sequences to cut (default: the request's; with tools offered, the markup's
    ``stop`` too). ``prefix`` is shown
    before the first text (a reply that repeats its prompt) and is part of ``text``.
    """

    __slots__ = (
        "_choice",
        "_gate",
        "_inside",
        "_leading",
        "_markup",
        "_pending",
        "_prefix",
        "_raw",
        "_read_calls",
        "_recipient",
        "_request",
        "_stops",
        "_text",
        "unmet",
    )

    def __init__(
        self,
        request: GenerationRequest,
        markup: ToolMarkup | None = FALLBACK_MARKUP,
        *,
        read_calls: Callable[[str], ToolCallScan] | None = None,
        stops: Sequence[str] | None = None,
        prefix: str = "",
    ) -> None:
        self._request = request
        self._markup = markup if request.offers_tools else None
        cuts = tuple(request.params.stop if stops is None else stops)
        if self._markup is not None and self._markup.stop:  # the markup's own end of the reply
            cuts = (*cuts, self._markup.stop)
        self._stops = StopSequenceFilter(cuts)
        self._read_calls = read_calls
        self._prefix = prefix
        self._pending = ""  # text after stop handling not yet sorted into shown text and blocks
        self._inside = False  # whether _pending starts inside a tool-call block
        self._leading = self._markup is not None and self._markup.leading_json  # whether a bare call may still start the reply
        self._raw: list[str] = []  # the reply after stop handling, blocks included (kept when tools are offered)
        self._recipient: str | None = None  # for a markup of recipient segments: the current one's (None: not known yet)
        self._text: list[str] = []  # the visible text so far
        self.unmet: Unmet | None = None  #: set by ``finish`` when the reply ignored a constraint
        self._choice: Choice | None = None
        #: a reply that is one fenced JSON call is a call (``abstractllm._private.fenced_call``)
        fenced = request.offers_tools and request.response_format is None and not prefix
        self._gate = FencedCallGate(request.tools) if fenced else None

    @property
    def text(self) -> str:
        """The visible text so far."""
        return "".join(self._text)

    @property
    def stopped(self) -> bool:
        """True once a stop sequence appeared: the backend should generate no more."""
        return self._stops.stopped

    def feed(self, piece: str) -> str:
        """Take the next piece of the model's text; return the text now safe to show."""
        if self._choice is not None:
            raise RuntimeError("the reply is finished; a ReplyAssembler takes one reply")
        text = self._stops.feed(piece)
        if self._markup is None and self._gate is None and not self._prefix:  # nothing to sort: the common case, kept short
            if text:
                self._text.append(text)
            return text
        return self._show(self._sort(text, final=False))

    def finish(self, reason: str | None, usage: Usage | None = None, tool_calls: Sequence[ToolCall] = ()) -> StreamDelta:
        """End the reply: ``reason`` is why generation ended (``"stop"``, ``"length"``, a server's
        reason, or None), ``usage`` its token counts, ``tool_calls`` calls the runtime read itself
        (an API server's). Returns the last delta: the text held back, the finish reason, the
        usage and every call (blocks read from the text after the given calls)."""
        if self._choice is not None:
            raise RuntimeError("finish() was already called")
        tail = self._show(self._sort(self._stops.flush(), final=True))
        if self._stops.stopped:
            reason = "stop"  # whatever the runtime did after it, the reply ended at the stop sequence
        calls = list(tool_calls)
        truncated = False
        raw = "".join(self._raw)
        if self._markup is not None and self._markup.found_in(raw):
            scan = self._read_calls(raw) if self._read_calls is not None else read_tool_calls(raw, self._markup)
            calls.extend(scan.calls)
            if scan.truncated:
                if reason == "length":
                    truncated = True
                else:
                    calls.append(self._unclosed_block(raw, scan.cut_name))
        if self._gate is not None:
            held, fenced = self._gate.finish(recognize=not calls and not truncated and reason != "length")
            calls.extend(fenced)
            if held:
                self._text.append(held)
                tail += held
        finish_reason = self._finish_reason(reason, calls, truncated, given=bool(tool_calls))
        text = self.text
        self._choice = Choice(text, finish_reason, calls)
        self.unmet = unmet_constraint(self._request, text, finish_reason, calls)
        return StreamDelta(tail, finish_reason=finish_reason, usage=usage, tool_calls=calls or None)

    def choice(self) -> Choice:
        """The finished reply as a ``Choice`` (after :meth:`finish`)."""
        if self._choice is None:
            raise RuntimeError("call finish() first")
        return Choice(self._choice.text, self._choice.finish_reason, list(self._choice.tool_calls))

    # -- internals ------------------------------------------------------------------------

    def _finish_reason(self, reason: str | None, calls: list[ToolCall], truncated: bool, *, given: bool) -> str:
        if reason == "length" and (truncated or given):
            return "length"  # a call cut by max_tokens (or, from a server, maybe cut)
        if calls:
            return "tool_calls"
        return reason or "stop"

    def _show(self, text: str) -> str:
        if self._gate is not None:
            text = self._gate.feed(text)
        if self._prefix:
            text, self._prefix = self._prefix + text, ""
        if text:
            self._text.append(text)
        return text

    def _sort(self, text: str, *, final: bool) -> str:
        """Add ``text`` to the reply; return the part of it (and of what was held) that is shown."""
        markup = self._markup
        if markup is None:
            return text
        self._raw.append(text)
        if markup.recipient_text:
            return self._sort_segments(markup, text, final=final)
        pending = self._pending + text
        shown: list[str] = []
        if self._leading:
            verdict = leading_call(pending)
            if verdict is None and not final:
                self._pending = pending  # held until it is known whether the reply is a bare call
                return ""
            self._leading = False
            if verdict:
                self._inside, pending = True, ""
        while pending:
            if self._inside:
                if not markup.close:  # a block without a close marker runs to the end of the reply
                    pending = ""
                    break
                end = pending.find(markup.close)
                if end < 0:
                    break
                pending = pending[end + len(markup.close) :]
                self._inside = False
                continue
            start = pending.find(markup.open) if markup.open else -1
            if start >= 0:
                shown.append(pending[:start])
                pending = pending[start + len(markup.open) :]
                self._inside = True
                continue
            keep = 0 if final else _partial_suffix(pending, markup.open)
            shown.append(pending[: len(pending) - keep])
            pending = pending[len(pending) - keep :]
            break
        self._pending = "" if final else pending
        return "".join(shown)

    def _sort_segments(self, markup: ToolMarkup, text: str, *, final: bool) -> str:
        """:meth:`_sort` for a markup of recipient segments: text segments are shown, call segments taken out."""
        pending = self._pending + text
        shown: list[str] = []
        while pending:
            if self._recipient is None:  # at a segment's start: its recipient line, or plain text
                head = RECIPIENT.match(pending)
                if head is None and not final and _could_be_recipient(pending):
                    break  # held until the line ends
                self._recipient = head.group(1) if head else markup.recipient_text
                pending = pending[head.end() :] if head else pending
                continue
            is_text = self._recipient == markup.recipient_text
            end = 0 if is_text or (markup.open not in pending and not final) else _json_end(pending)
            if not is_text and not final and (end == 0 or markup.open not in pending[end:]):
                break  # a call segment is held (hidden) until its JSON is complete and a next segment starts
            at = pending.find(markup.open, end)
            cut = at if at >= 0 else len(pending) - (0 if final else _partial_suffix(pending, markup.open))
            if is_text:
                shown.append(pending[:cut])
            if at < 0:
                pending = pending[cut:]
                break
            pending, self._recipient = pending[at + len(markup.open) :], None
        self._pending = "" if final else pending
        return "".join(shown)

    def _unclosed_block(self, raw: str, name: str = "") -> ToolCall:
        """The call for a last block the model left open and unfinished (its reply, ``raw``, ended there);
        ``name`` is the tool it names outside its JSON, when the markup says so."""
        assert self._markup is not None
        at = raw.rfind(self._markup.open) if self._markup.open else -1
        body = (raw[at + len(self._markup.open) :] if at >= 0 else raw).strip()
        return ToolCall(
            name=name or named_tool(body), arguments={}, error=f"the tool call ends before its JSON does: {body[:200]!r}"
        )


def unmet_constraint(request: GenerationRequest, text: str, finish_reason: str | None, calls: Sequence[ToolCall]) -> Unmet | None:
    """What a finished reply ignored, or None: a forced ``tool_choice`` that got no call to the
    wanted tool, or a ``response_format`` whose reply is not valid JSON for the schema. A
    structured reply cut by ``max_tokens`` that starts as JSON is not reported (``.parsed``
    says to raise ``max_tokens``)."""
    response_format = request.response_format
    if response_format is None and not request.tools:
        return None  # nothing constrained: the common case, kept short
    if request.forces_tool_call:
        wanted = request.tool_choice
        names = [call.name for call in calls]
        if not names or (wanted != "required" and wanted not in names):
            got = f"a call to {names}" if names else f"no tool call (finish_reason {finish_reason!r})"
            cut = "; the reply was cut by max_tokens, raise it if the call did not fit" if finish_reason == "length" else ""
            details = {"tool_choice": wanted, "finish_reason": finish_reason, "tool_calls": names}
            return Unmet("tool_choice", f"the reply has {got}{cut}", details)
        return None
    if response_format is None or calls:
        return None
    if finish_reason == "length" and text.lstrip()[:1] in ("{", "["):
        return None
    try:
        parse_structured(text, response_format, None)
    except OutputParsingError as exc:
        return Unmet("response_format", exc.message, {"finish_reason": finish_reason, "reply_start": text[:200]}, exc)
    return None


def _json_end(text: str) -> int:
    """Where the JSON value ``text`` starts with (after spaces) ends; 0 when it is not (yet) one."""
    try:
        return json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip()))[1]
    except json.JSONDecodeError:
        return 0


def _could_be_recipient(text: str) -> bool:
    """Whether ``text`` (a segment's start, no line end yet) may still become a recipient line."""
    return RECIPIENT.fullmatch(text + "\n") is not None


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that could start ``marker``."""
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:length]):
            return length
    return 0
