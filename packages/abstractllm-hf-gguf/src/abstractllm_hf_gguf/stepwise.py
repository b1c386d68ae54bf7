"""A blocking stream advanced one item per worker-thread call, closable from the event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from abstractllm_hf_gguf.guard import GenerationCancelled

__all__ = ["StepwiseStream"]

T = TypeVar("T")


class StepwiseStream(Generic[T]):
    """``next()`` (run in a worker thread) gives the next item or None at the end.

    ``abandon()`` (from any thread, never blocking; idempotent) sets ``cancel``, calls
    ``wake`` so a call waiting for the model re-checks it, then closes the iterator and
    calls ``done``: at once when no ``next()`` runs, else in that ``next()`` when it
    returns. Nothing is left holding the model once the current token (if any) is done.
    """

    def __init__(
        self, iterator: Iterator[T], cancel: threading.Event, wake: Callable[[], None], done: Callable[[], None]
    ) -> None:
        self._iterator = iterator
        self._cancel = cancel
        self._wake = wake
        self._done = done
        self._state = threading.Lock()
        self._running = False
        self._abandoned = False

    def next(self) -> T | None:
        with self._state:
            if self._abandoned:
                return None
            self._running = True
        item: T | None = None
        try:
            item = next(self._iterator, None)
        except GenerationCancelled:
            item = None  # only after abandon(): nobody waits for the item
        finally:
            with self._state:
                self._running = False
                abandoned = self._abandoned
            if abandoned:
                self._close()
        return None if abandoned else item

    def abandon(self) -> None:
        with self._state:
            if self._abandoned:
                return
            self._abandoned = True
            idle = not self._running
        self._cancel.set()
        self._wake()
        if idle:
            self._close()

    def _close(self) -> None:
        try:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        finally:
            self._done()
