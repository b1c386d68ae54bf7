"""One observation point for every call: what ``abstractllm_call_finished`` receives.

Wrappers on the generation hooks see an awaitable (async) or an iterator (streams), so they
cannot time those calls. Core instead reports each finished call once, on all four paths,
through the ``abstractllm_call_finished`` hook: with the request, the completion or the error,
and its timing. A stream reports when it ends: read to the end, failed, or closed early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from abstractllm.backend.calls import CallKind, CallOutcome, FinishedCall
from abstractllm.backend.request import GenerationRequest
from abstractllm.backend.response import Choice, Completion, StreamDelta, Timing, Usage
from abstractllm.backend.tools import ToolCall

if TYPE_CHECKING:
    from abstractllm._private.plugins import Plugins
    from abstractllm.errors import AbstractLLMError

__all__ = ["HOOK", "Observer", "StreamClock"]

logger = logging.getLogger(__name__)

HOOK = "abstractllm_call_finished"


@dataclass(frozen=True)
class Observer:
    """Reports the finished calls of one model object to ``abstractllm_call_finished``."""

    plugins: Plugins
    provider: str
    mode: str
    model: Callable[[], str | None]

    @property
    def active(self) -> bool:
        """True when some plugin observes calls (otherwise nothing is gathered or reported)."""
        return self.plugins.observed(HOOK)

    def call(
        self,
        kind: CallKind,
        request: GenerationRequest,
        started: float,
        *,
        completion: Completion | None = None,
        error: AbstractLLMError | None = None,
        timing: Timing | None = None,
        abandoned: bool = False,
    ) -> None:
        """Report a call that began at ``started`` (``time.perf_counter``) and has just ended."""
        if not self.active:
            return
        outcome: CallOutcome = "abandoned" if abandoned else "failed" if error is not None else "completed"
        timing = timing or Timing(total=time.perf_counter() - started)
        call = FinishedCall(self.provider, self.mode, self.model(), kind, request, outcome, timing, completion, error)
        try:
            self.plugins.hook.abstractllm_call_finished(call=call)
        except Exception:
            logger.exception("an abstractllm_call_finished observer failed (ignored)")

    def stream(
        self,
        kind: CallKind,
        request: GenerationRequest,
        clock: StreamClock,
        *,
        error: AbstractLLMError | None = None,
        abandoned: bool = False,
    ) -> None:
        """Report a stream that has just ended, from what ``clock`` gathered."""
        if clock.observed:
            completion = None if error is not None or abandoned else clock.completion(self.model())
            timing = clock.timing()
            self.call(kind, request, clock.started, completion=completion, error=error, timing=timing, abandoned=abandoned)


@dataclass
class StreamClock:
    """Times one stream and, when someone observes, gathers what its deltas said."""

    observed: bool
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    texts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)

    def saw(self, delta: StreamDelta) -> None:
        if self.first_token is None and delta.text:
            self.first_token = time.perf_counter() - self.started
        if self.observed:
            self.texts.append(delta.text)
            if delta.finish_reason is not None:
                self.finish_reason, self.usage = delta.finish_reason, delta.usage
                self.tool_calls = list(delta.tool_calls or [])

    def timing(self) -> Timing:
        return Timing(total=time.perf_counter() - self.started, first_token=self.first_token)

    def completion(self, model: str | None) -> Completion:
        usage = self.usage if self.usage is not None else Usage()
        choice = Choice("".join(self.texts), finish_reason=self.finish_reason, tool_calls=self.tool_calls)
        return Completion([choice], usage, model)
