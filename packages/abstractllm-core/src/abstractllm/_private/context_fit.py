"""Fitting a conversation into a model's context window: :class:`ContextFit`."""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from abstractllm.backend.messages import Message
from abstractllm.enums import MessageRole
from abstractllm.errors import ContextWindowExceededError

if TYPE_CHECKING:
    from abstractllm._private.llm import AbstractLLMInterface

__all__ = ["MAX_FIT_ATTEMPTS", "ContextFit"]

logger = logging.getLogger(__name__)

R = TypeVar("R")

#: Requests one call may send while leaving out old turns after the server said the
#: conversation does not fit (backends that cannot count tokens).
MAX_FIT_ATTEMPTS = 4

#: Yields the messages to send next; is sent the refusal of the last ones (None: accepted).
_Attempts = Generator[list[Message], ContextWindowExceededError | None, None]


class ContextFit:
    """Leaves the oldest turns of a conversation out of a request until it fits the window.

    Never the system prompt or the newest turn (nor a tool result without its call). A
    backend that counts tokens gets a request that fits (:meth:`trim`), counted as it is sent:
    ``params``, the request's keyword arguments to ``generate``, give the room kept for
    ``max_tokens`` and the ``tools`` offered as ``tool_choice`` says. With one that
    cannot (the API and endpoint modes), :meth:`send` sends, and after each
    ``ContextWindowExceededError`` leaves out old turns in proportion to the overflow the
    server reports and sends again, at most :data:`MAX_FIT_ATTEMPTS` requests per call;
    later calls to that model start from the size it accepted.
    """

    def __init__(self) -> None:
        #: Characters of the last request a server accepted after refusing a longer one,
        #: and the model it was for.
        self._accepted: tuple[weakref.ref[AbstractLLMInterface], int] | None = None

    def trim(self, model: AbstractLLMInterface, messages: Sequence[Message], params: Mapping[str, Any]) -> list[Message]:
        """``messages`` without the oldest turns the window of a token-counting ``model`` cannot hold
        with ``params``' tools (room kept for their ``max_tokens``, or the configured value, up to half the window)."""
        fitted = list(messages)
        window = model.get_capabilities().get("max_tokens")
        if not isinstance(window, int):
            return fitted
        max_tokens = params.get("max_tokens")
        reserve = max_tokens if isinstance(max_tokens, int) else model.config_manager.get_param("max_tokens", 0)
        budget = max(window - min(int(reserve or 0), window // 2), 1)
        while len(fitted) > 1:
            used = _count(model, fitted, params)  # None: the model cannot count, and the conversation goes as it is
            if used is None or used < budget or not _leave_out_oldest_turn(fitted):
                break
            logger.debug("leaving out the oldest turn to fit %d tokens", window)
        return fitted

    def send(
        self, model: AbstractLLMInterface, messages: list[Message], send: Callable[[list[Message]], R], params: Mapping[str, Any]
    ) -> R:
        """``send(fitted)`` (a request with ``params``), sending fewer old turns after each ``ContextWindowExceededError``."""
        attempts = self._attempts(model, messages, params)
        fitted = next(attempts)
        while True:
            try:
                reply = send(fitted)
            except ContextWindowExceededError as refusal:
                fitted = attempts.send(refusal)  # re-raises the refusal when nothing more can go
            else:
                _accepted(attempts)
                return reply

    async def send_async(
        self,
        model: AbstractLLMInterface,
        messages: list[Message],
        send: Callable[[list[Message]], Awaitable[R]],
        params: Mapping[str, Any],
    ) -> R:
        """:meth:`send` for asyncio."""
        attempts = self._attempts(model, messages, params)
        fitted = next(attempts)
        while True:
            try:
                reply = await send(fitted)
            except ContextWindowExceededError as refusal:
                fitted = attempts.send(refusal)
            else:
                _accepted(attempts)
                return reply

    def _attempts(self, model: AbstractLLMInterface, messages: list[Message], params: Mapping[str, Any]) -> _Attempts:
        """The requests of one call (shared by :meth:`send` and :meth:`send_async`)."""
        if self._accepted is not None and self._accepted[0]() is model:
            messages = _cut_to(messages, self._accepted[1])
        for attempt in range(1, MAX_FIT_ATTEMPTS + 1):
            refusal = yield messages
            if refusal is None:
                if attempt > 1:
                    self._accepted = (weakref.ref(model), _characters(messages))
                return
            shorter = _shorter(model, messages, params, refusal) if attempt < MAX_FIT_ATTEMPTS else None
            if shorter is None:
                raise refusal
            messages = shorter


def _accepted(attempts: _Attempts) -> None:
    with contextlib.suppress(StopIteration):
        attempts.send(None)


def _count(model: AbstractLLMInterface, messages: Sequence[Message], params: Mapping[str, Any]) -> int | None:
    """Prompt tokens of ``messages`` sent with ``params``' tools and ``tool_choice``, or None."""
    return model.count_tokens(messages, tools=params.get("tools"), tool_choice=params.get("tool_choice"))


def _shorter(
    model: AbstractLLMInterface, messages: list[Message], params: Mapping[str, Any], refusal: ContextWindowExceededError
) -> list[Message] | None:
    """``messages`` without enough of the oldest turns to fit, judged from what the server
    said; None when nothing can be left out, or when the model counts tokens itself (its
    request was already trimmed, so the newest turn alone does not fit)."""
    if _count(model, messages, params) is not None:
        return None
    shorter = list(messages)
    if not _leave_out_oldest_turn(shorter):
        return None
    window, used = refusal.context_window, refusal.content_length
    if isinstance(window, int) and isinstance(used, int) and used > window > 0:
        shorter = _cut_to(shorter, _characters(messages) * 0.9 * window / used)  # tokens scale with characters, roughly
    logger.info("the server's context window is full; sending %d of %d messages", len(shorter), len(messages))
    return shorter


def _leave_out_oldest_turn(messages: list[Message]) -> bool:
    """Remove the oldest message that is neither a system message nor the newest one, with
    the tool results that answered it; False when there is none."""
    drop = next((i for i, m in enumerate(messages[:-1]) if m.role != MessageRole.SYSTEM.value), None)
    if drop is None:
        return False
    del messages[drop]
    while drop < len(messages) - 1 and messages[drop].role == MessageRole.TOOL.value:
        del messages[drop]  # a tool result without its call makes no sense
    return True


def _cut_to(messages: list[Message], characters: float) -> list[Message]:
    """A copy of ``messages`` without its oldest turns until at most ``characters``
    characters are left, or nothing more can be left out."""
    shorter = list(messages)
    while _characters(shorter) > characters and _leave_out_oldest_turn(shorter):
        pass
    return shorter


def _characters(messages: Sequence[Message]) -> int:
    return sum(len(message.content or "") for message in messages)
