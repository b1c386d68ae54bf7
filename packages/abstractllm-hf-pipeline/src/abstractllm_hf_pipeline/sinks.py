"""Delivering a job's results from the worker thread to the waiting caller.

- :class:`FutureSink`: a blocking caller waits on ``result()``.
- :class:`AsyncFutureSink`: an asyncio caller awaits; results cross threads through the
  loop's inbox (``call_soon_threadsafe``), so the event loop is never blocked.
- :class:`QueueSink` / :class:`AsyncQueueSink`: streams; every delta is queued and
  the final delta (``finish_reason``, ``usage``, tool calls) ends the stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from abstractllm.response import Completion, StreamDelta

__all__ = ["AsyncFutureSink", "AsyncQueueSink", "FutureSink", "QueueSink", "final_delta"]

logger = logging.getLogger(__name__)


class _Inbox:
    """Callbacks for one event loop, posted from the generating thread and run on the loop in the order posted.

    One ``call_soon_threadsafe`` (a write to the loop's wake-up socket) serves every callback posted before the
    loop gets to them: the results of a batch, or the deltas of its streams at one decoding step, wake it once.
    Once the loop is closed (or gone), nobody is waiting any more: what is posted is dropped. A shared inbox
    holds its loop weakly (the loop's users hold it).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, shared: bool) -> None:
        self._loop: Callable[[], asyncio.AbstractEventLoop | None] = weakref.ref(loop) if shared else lambda: loop
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self._closed = False

    def post(self, callback: Callable[..., object], *args: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending.append((callback, args))
            if len(self._pending) > 1:
                return  # the loop is woken already and has not run them yet
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed
            with self._lock:
                self._closed = True
                self._pending.clear()

    def _run(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for callback, args in pending:
            try:
                callback(*args)
            except Exception:  # one consumer's failure must not keep the others' results from them
                logger.exception("delivering a result to an event loop failed")


_INBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()
_INBOXES_LOCK = threading.Lock()


def _inbox() -> _Inbox:
    """The inbox of the running event loop (call on it); one of the caller's own for a loop that cannot be
    weakly referenced."""
    loop = asyncio.get_running_loop()
    try:
        with _INBOXES_LOCK:
            inbox = _INBOXES.get(loop)
            if inbox is None:
                inbox = _INBOXES[loop] = _Inbox(loop, shared=True)
            return inbox
    except TypeError:  # no weak references to this loop
        return _Inbox(loop, shared=False)


def final_delta(completion: Completion) -> StreamDelta:
    """The last delta of a stream: no text, the finish reason, usage and tool calls."""
    choice = completion.choices[0]
    return StreamDelta(text="", finish_reason=choice.finish_reason, usage=completion.usage, tool_calls=choice.tool_calls or None)


class FutureSink:
    """Result of a non-streamed job for a blocking caller."""

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[Completion] = concurrent.futures.Future()

    def delta(self, delta: StreamDelta) -> None:
        return None

    def finish(self, completion: Completion) -> None:
        self.future.set_result(completion)

    def fail(self, error: BaseException) -> None:
        self.future.set_exception(error)


class AsyncFutureSink:
    """Result of a non-streamed job for an asyncio caller (created on the event loop)."""

    def __init__(self) -> None:
        self._inbox = _inbox()
        self.future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()

    def delta(self, delta: StreamDelta) -> None:
        return None

    def _set(self, value: Any, error: BaseException | None) -> None:
        if self.future.done():  # the caller was cancelled
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(value)

    def finish(self, completion: Completion) -> None:
        self._inbox.post(self._set, completion, None)

    def fail(self, error: BaseException) -> None:
        self._inbox.post(self._set, None, error)


class QueueSink:
    """Deltas of a streamed job for a blocking consumer: ``StreamDelta`` items, then the final one, or an exception."""

    def __init__(self) -> None:
        self.items: queue.SimpleQueue[StreamDelta | BaseException] = queue.SimpleQueue()

    def delta(self, delta: StreamDelta) -> None:
        self.items.put(delta)

    def finish(self, completion: Completion) -> None:
        self.items.put(final_delta(completion))

    def fail(self, error: BaseException) -> None:
        self.items.put(error)


class AsyncQueueSink:
    """Deltas of a streamed job for an asyncio consumer (created on the event loop)."""

    def __init__(self) -> None:
        self._inbox = _inbox()
        self.items: asyncio.Queue[StreamDelta | BaseException] = asyncio.Queue()

    def _put(self, item: StreamDelta | BaseException) -> None:
        self._inbox.post(self.items.put_nowait, item)

    def delta(self, delta: StreamDelta) -> None:
        self._put(delta)

    def finish(self, completion: Completion) -> None:
        self._put(final_delta(completion))

    def fail(self, error: BaseException) -> None:
        self._put(error)
