"""Who may touch a loaded llama.cpp model, and when it may be freed.

llama.cpp contexts are not thread-safe, and freeing a model while a call runs on it
crashes the process. A :class:`ModelGuard` enforces both rules:

* One caller (an :class:`Owner`) holds the model at a time (:meth:`ModelGuard.generation`
  for blocking callers, :meth:`ModelGuard.acquire_async` for asyncio ones, which wait on
  the event loop and never occupy a worker thread). An unfinished stream keeps the model
  between its chunks; a call that could only be served after that stream resumes in the
  very same thread (or asyncio task) is refused instead of deadlocking. So is an async call
  made on the event loop of a stream that stays unread (``break`` out of ``async for`` with
  the stream kept, then ``wait_for`` or ``create_task`` on a new call): a paused stream of the
  same thread that does not advance for ``CONFLICT_GRACE`` seconds while the call waits.
* :meth:`ModelGuard.reading` covers short calls (tokenizing, compiling a grammar)
  that may run beside a generation but never beside the free.
* A hold is *inside* llama.cpp only while its code runs (:meth:`ModelGuard.enter` /
  :meth:`ModelGuard.leave` around a stream's chunks). :meth:`ModelGuard.close` refuses new
  calls (``UnsupportedOperationError``), waits until no call is inside, then frees; a
  stream paused between chunks raises the same error when it resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from abstractllm.errors import UnsupportedOperationError

__all__ = ["CONFLICT_GRACE", "GenerationCancelled", "Hold", "ModelGuard", "Owner"]

#: Seconds an async caller waits for its own dropped stream to be closed, or for a paused stream of its
#: event loop to advance, before being refused.
CONFLICT_GRACE = 1.0

_UNLOADED = "this GGUF model was unloaded while the call waited or ran; create it again with create_llm(...)"
_CONFLICT = (
    "this thread (or asyncio task) still holds an unfinished stream of this GGUF model;"
    " consume it or close it (stream.close() / await stream.aclose()) before generating again"
)
_UNREAD = (
    "a stream of this GGUF model on this event loop holds the model and was not read for {grace:g} s"
    " (left with break and kept?); consume it or close it (await stream.aclose()) before generating again"
)


class GenerationCancelled(Exception):
    """The caller's ``cancel`` event was set (its asyncio task was cancelled or its stream closed)."""


@dataclass(eq=False, slots=True)
class Owner:
    """The caller of a generation: a thread, and the asyncio task for async calls (None for blocking calls)."""

    thread: int
    task: Any = None

    @classmethod
    def blocking(cls) -> Owner:
        return cls(threading.get_ident())

    @classmethod
    def of_task(cls) -> Owner:
        """The running asyncio task (call from inside it)."""
        return cls(threading.get_ident(), asyncio.current_task())

    def conflicts_with(self, holder: Owner) -> bool:
        """Whether waiting for ``holder`` could never end: it can only go on in this very caller.

        A blocking caller conflicts with any holder of its thread (an event loop it blocks
        included); an async caller with a holder of its own task or a blocking holder of its thread.
        """
        if self.thread != holder.thread:
            return False
        return self.task is None or holder.task is None or self.task is holder.task


class Hold:
    """One caller's hold of the model; ``inside`` tells whether its code is in llama.cpp now."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.inside = False
        self.released = False
        self.entries = 0  # times its code went into llama.cpp: a stream's progress


class _Generation:
    """The context manager of :meth:`ModelGuard.generation` (a class: it is entered on every call)."""

    __slots__ = ("_cancel", "_guard", "_hold", "_owner")

    def __init__(self, guard: ModelGuard, owner: Owner, cancel: threading.Event | None) -> None:
        self._guard = guard
        self._owner = owner
        self._cancel = cancel
        self._hold: Hold | None = None

    def __enter__(self) -> Hold:
        self._hold = self._guard._hold_blocking(self._owner, self._cancel)
        return self._hold

    def __exit__(self, *exc_info: object) -> None:
        if self._hold is not None:
            self._guard.release(self._hold)


class _Reading:
    """The context manager of :meth:`ModelGuard.reading` (a class: it is entered on every call)."""

    __slots__ = ("_guard",)

    def __init__(self, guard: ModelGuard) -> None:
        self._guard = guard

    def __enter__(self) -> None:
        self._guard._enter_reading()

    def __exit__(self, *exc_info: object) -> None:
        self._guard._leave_reading()


class ModelGuard:
    """Serialises generations on one model and frees it only when no call runs (see module doc)."""

    def __init__(self, free: Callable[[], None]) -> None:
        self._free = free
        # ``with self._lock`` holds the condition too (it is the condition's lock) without the Python-level
        # ``Condition.__enter__``/``__exit__`` frames: four lock entries a streamed call, on every call
        self._lock = threading.RLock()
        self._condition = threading.Condition(self._lock)
        self._sleepers = 0  # threads in ``self._condition.wait()``: a release with none skips notify_all
        self._hold: Hold | None = None
        self._readers = 0
        self._closed = False
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._reading = _Reading(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def reading(self) -> _Reading:
        """A short call beside any generation (``with guard.reading(): ...``); raises
        ``UnsupportedOperationError`` once closed."""
        return self._reading

    def _enter_reading(self) -> None:
        with self._lock:
            if self._closed:
                raise UnsupportedOperationError(_UNLOADED)
            self._readers += 1

    def _leave_reading(self) -> None:
        with self._lock:
            self._readers -= 1
            if self._closed:  # only close() waits for readers
                self._condition.notify_all()

    def generation(self, owner: Owner, cancel: threading.Event | None = None) -> _Generation:
        """Hold the model (inside llama.cpp) for one blocking generation, waiting while another holds it
        (``with guard.generation(owner) as hold: ...``; the hold is released at the end of the block).

        Raises ``UnsupportedOperationError`` when waiting could never end (see
        :meth:`Owner.conflicts_with`) or the model is closed, and :class:`GenerationCancelled`
        when ``cancel`` is set while waiting.
        """
        return _Generation(self, owner, cancel)

    def _hold_blocking(self, owner: Owner, cancel: threading.Event | None) -> Hold:
        with self._lock:
            while (hold := self._take(owner)) is None:
                if cancel is not None and cancel.is_set():
                    raise GenerationCancelled()
                self._sleep()
            hold.inside = True
        return hold

    async def acquire_async(self, owner: Owner) -> Hold:
        """Hold the model for an asyncio caller, waiting on the event loop (cancellable, holding nothing).

        A conflicting holder (see :meth:`Owner.conflicts_with`) gets ``CONFLICT_GRACE``
        seconds to go away (the loop closes a dropped async stream a few iterations later)
        before the call is refused. The caller must :meth:`release` the hold.
        """
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + CONFLICT_GRACE
        watched: tuple[Hold, int] | None = None  # a paused holder of this thread, and its progress when seen
        unread_since = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                hold = self._take(owner, refuse_conflict=now > deadline)
                if hold is not None:
                    return hold
                holder = self._hold
                assert holder is not None
                conflict = owner.conflicts_with(holder.owner)
                paused_here = holder.owner.thread == owner.thread and not holder.inside
                if paused_here and watched != (holder, holder.entries):
                    watched, unread_since = (holder, holder.entries), now
                elif paused_here and now - unread_since > CONFLICT_GRACE:
                    raise UnsupportedOperationError(_UNREAD.format(grace=CONFLICT_GRACE))
                woken: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, woken))
            try:
                await asyncio.wait_for(asyncio.shield(woken), timeout=0.05 if conflict or paused_here else None)
            except TimeoutError:
                pass
            finally:
                with self._lock, contextlib.suppress(ValueError):
                    self._async_waiters.remove((loop, woken))

    def release(self, hold: Hold) -> None:
        """End ``hold`` (idempotent) and wake the waiters."""
        with self._lock:
            if hold.released:
                return
            hold.released = True
            hold.inside = False
            if self._hold is hold:
                self._hold = None
            self._wake_all()

    def enter(self, hold: Hold) -> None:
        """``hold``'s code goes back into llama.cpp; raises ``UnsupportedOperationError`` once closed."""
        with self._lock:
            if self._closed:
                raise UnsupportedOperationError(_UNLOADED)
            hold.inside = True
            hold.entries += 1

    def leave(self, hold: Hold) -> None:
        """``hold``'s code is out of llama.cpp (a stream handing over a chunk)."""
        with self._lock:
            hold.inside = False
            if self._closed:  # only close() waits for a hold to leave
                self._condition.notify_all()

    def wake(self) -> None:
        """Let waiting callers re-check their ``cancel`` events."""
        with self._lock:
            self._wake_all()

    def close(self) -> None:
        """Refuse new calls, wait until no call is inside llama.cpp, then free. Idempotent."""
        me = threading.get_ident()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake_all()
            while self._readers or (self._hold is not None and self._hold.inside):
                if self._hold is not None and self._hold.inside and self._hold.owner.thread == me:
                    raise UnsupportedOperationError("a GGUF model cannot be unloaded from inside its own generation")
                self._sleep()
        self._free()

    # -- internals (called with the condition held) -----------------------------------------

    def _take(self, owner: Owner, *, refuse_conflict: bool = True) -> Hold | None:
        if self._closed:
            raise UnsupportedOperationError(_UNLOADED)
        if self._hold is None:
            self._hold = Hold(owner)
            return self._hold
        if refuse_conflict and owner.conflicts_with(self._hold.owner):
            raise UnsupportedOperationError(_CONFLICT)
        return None

    def _sleep(self) -> None:
        self._sleepers += 1
        try:
            self._condition.wait()
        finally:
            self._sleepers -= 1

    def _wake_all(self) -> None:
        if self._sleepers:
            self._condition.notify_all()
        if not self._async_waiters:
            return
        waiters, self._async_waiters = self._async_waiters, []
        for loop, woken in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody left to wake
                loop.call_soon_threadsafe(_set_done, woken)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
