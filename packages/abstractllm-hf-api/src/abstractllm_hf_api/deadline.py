"""Deadlines that bound a whole request, not each socket operation.

httpx's timeouts apply to each read, so a server that sends its headers or body a byte at
a time never trips them. The pools of :class:`~abstractllm_hf_api.transport.Transport` read
through the backends of :mod:`abstractllm_hf_api.deadline_backends`, which clamp the timeout of
every connect, TLS handshake, read and write to the time left before the deadline of the
current context (set with :func:`deadline`), and raise httpcore's timeout once it passed.
A context without a deadline reads with httpx's own timeouts.

The deadline lives in a ``ContextVar``, so threads and asyncio tasks each have their own.
A ``with deadline(...)`` block must not span a ``yield`` of a generator (the caller's
context would keep it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["deadline", "restart", "time_left"]


class _Ends:
    """When the current deadline passes (``time.monotonic()`` seconds); :func:`restart` moves it."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


_DEADLINE: ContextVar[_Ends | None] = ContextVar("abstractllm_hf_api_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation inside the block ends at most ``seconds`` from now.

    A deadline already set and earlier is kept (a nested block never extends it).
    """
    ends = time.monotonic() + seconds
    current = _DEADLINE.get()
    token = _DEADLINE.set(_Ends(ends if current is None else min(current.at, ends)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def restart(seconds: float) -> None:
    """Move the current deadline (if any) to ``seconds`` from now: a retry starts its own
    ``timeout`` after waiting, instead of inheriting what the failed attempt and the wait left."""
    current = _DEADLINE.get()
    if current is not None:
        current.at = time.monotonic() + seconds


def time_left(timeout: float | None) -> float | None:
    """``timeout`` clamped to the time left before the current deadline (None: no bound);
    raises ``httpcore.ReadTimeout`` once the deadline passed."""
    current = _DEADLINE.get()
    if current is None:
        return timeout
    left = current.at - time.monotonic()
    if left <= 0:
        import httpcore  # loaded already: only the network backends call this

        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)
