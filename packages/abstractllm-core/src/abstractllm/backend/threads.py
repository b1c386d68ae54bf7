"""Bridges from blocking code to asyncio without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")

_DONE = object()


async def iterate_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Run ``make_iterator()`` and its iteration in a worker thread, yielding items here.

    The worker hands items over one at a time (it waits until each is taken), so
    back-pressure holds; closing the async iterator early stops the worker after its
    current item and closes the underlying iterator. Exceptions propagate unchanged.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    cancelled = threading.Event()

    def put(item: object) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def work() -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = make_iterator()
            for item in iterator:
                if cancelled.is_set():
                    break
                put(item)
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            if not cancelled.is_set():
                put(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        while not worker.done():  # let a worker blocked on a full queue finish
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.sleep(0)
            if not worker.done():
                await asyncio.wait({worker}, timeout=0.01)
        await worker
