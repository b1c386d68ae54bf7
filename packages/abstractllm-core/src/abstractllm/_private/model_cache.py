"""Loaded models shared between ``create_llm`` calls, reference-counted.

Local backends load weights once per distinct (model, load options) key; every
``create_llm`` with the same key gets the same object, and the object is freed when
the last user unloads it.
"""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["SharedModelCache", "clear_all_model_caches"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    value: T
    users: int


class SharedModelCache(Generic[T]):
    """A thread-safe map from key to loaded object with a user count.

    ``acquire(key, load)`` returns the cached object (loading it with ``load()`` on
    first use; concurrent first users wait for one load). ``release(key)`` drops one
    user and, at zero, calls ``free(value)`` and forgets it.
    """

    def __init__(self, free: Callable[[T], None]) -> None:
        self._free = free
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        _ALL_CACHES.add(self)

    def acquire(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.users += 1
                return entry.value
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.users += 1
                    return entry.value
            value = load()
            with self._lock:
                self._entries[key] = _Entry(value, 1)
                self._loading.pop(key, None)
            return value

    def release(self, key: Hashable) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.users -= 1
            if entry.users > 0:
                return
            del self._entries[key]
        logger.debug("freeing cached model %r", key)
        value = _weak(entry.value)
        self._free(entry.value)
        del entry
        if value is None or value() is not None:  # in a reference cycle: only a full collection (0.3-0.9 s) frees it
            gc.collect()

    def users(self, key: Hashable) -> int:
        with self._lock:
            entry = self._entries.get(key)
            return entry.users if entry else 0

    def clear(self) -> None:
        """Forget every entry: later ``acquire`` calls load afresh. Objects still used by
        live models stay alive until those models are unloaded or collected."""
        with self._lock:
            self._entries.clear()
        gc.collect()

    def free_all(self) -> None:
        """Free every cached object now, whoever still uses it (for interpreter exit, when
        native libraries must be released before Python tears their bindings down)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            self._free(entry.value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _weak(value: object) -> weakref.ReferenceType[Any] | None:
    """A weak reference to ``value``, or None when it cannot have one."""
    try:
        return weakref.ref(value)
    except TypeError:
        return None


_ALL_CACHES: weakref.WeakSet[SharedModelCache[Any]] = weakref.WeakSet()


def clear_all_model_caches() -> int:
    """Forget every model held by any backend's cache in this process; returns how many."""
    freed = 0
    for cache in list(_ALL_CACHES):
        freed += len(cache)
        cache.clear()
    return freed
