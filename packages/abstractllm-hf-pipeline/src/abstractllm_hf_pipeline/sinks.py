"""Delivering a job's results from the worker thread to the waiting caller.

- :class:`FutureSink`: a blocking caller waits on ``result()``.
- :class:`AsyncFutureSink`: an asyncio caller awaits; results cross threads with
  ``call_soon_threadsafe`` so the event loop is never blocked.
- :class:`QueueSink` / :class:`AsyncQueueSink`: streams; every delta is queued and
  the final delta (``finish_reason``, ``usage``, tool calls) ends the stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
from typing import Any

from abstractllm.response import Completion, StreamDelta

__all__ = ["AsyncFutureSink", "AsyncQueueSink", "FutureSink", "QueueSink", "final_delta"]


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
        self._loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Completion] = self._loop.create_future()

    def delta(self, delta: StreamDelta) -> None:
        return None

    def _set(self, value: Any, error: BaseException | None) -> None:
        if self.future.done():  # the caller was cancelled
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(value)

    def _deliver(self, value: Any, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._set, value, error)

    def finish(self, completion: Completion) -> None:
        self._deliver(completion, None)

    def fail(self, error: BaseException) -> None:
        self._deliver(None, error)


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
        self._loop = asyncio.get_running_loop()
        self.items: asyncio.Queue[StreamDelta | BaseException] = asyncio.Queue()

    def _put(self, item: StreamDelta | BaseException) -> None:
        with contextlib.suppress(RuntimeError):  # the consumer's loop is closed: nobody is listening any more
            self._loop.call_soon_threadsafe(self.items.put_nowait, item)

    def delta(self, delta: StreamDelta) -> None:
        self._put(delta)

    def finish(self, completion: Completion) -> None:
        self._put(final_delta(completion))

    def fail(self, error: BaseException) -> None:
        self._put(error)
