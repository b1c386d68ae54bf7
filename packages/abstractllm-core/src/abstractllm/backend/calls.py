"""What the observing hooks receive: a finished call (``abstractllm_call_finished``) and a tool
call about to run or just run (``abstractllm_before_tool_call``, ``abstractllm_after_tool_call``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from abstractllm.backend.request import GenerationRequest
from abstractllm.backend.response import Completion, Timing
from abstractllm.backend.tools import ToolCall

if TYPE_CHECKING:
    from abstractllm.errors import AbstractLLMError

__all__ = ["CallKind", "CallOutcome", "FinishedCall", "ToolCallContext"]

CallKind = Literal["generate", "stream", "generate_async", "stream_async"]
CallOutcome = Literal["completed", "failed", "abandoned"]


@dataclass(frozen=True)
class FinishedCall:
    """A call that ended.

    ``outcome`` is ``"completed"`` (``completion`` is set; for a stream, the text and final
    metadata of its deltas), ``"failed"`` (``error`` is the ``abstractllm.errors`` instance
    the caller received) or ``"abandoned"`` (a stream closed before its end, or a cancelled
    async call). ``timing.total`` runs from the call (or a stream's first read) to its end;
    ``timing.first_token`` is set for streams that produced text.
    """

    provider: str
    mode: str
    model: str | None
    kind: CallKind
    request: GenerationRequest
    outcome: CallOutcome
    timing: Timing
    completion: Completion | None = None
    error: AbstractLLMError | None = None


@dataclass(frozen=True)
class ToolCallContext:
    """What the tool-call hooks see: the ``call``, the function that would run, the round."""

    call: ToolCall
    function: Callable[..., Any] | None
    round: int
    session_id: str | None = None
