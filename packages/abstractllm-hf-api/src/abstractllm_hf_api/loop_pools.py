"""One async connection pool per event loop, closed when its loop shuts down.

An asyncio connection belongs to the loop it was opened on, so each loop that sends a
request gets its own pool. Each pool has a keeper: an async generator started on its loop
that closes the pool when it is closed. asyncio closes every async generator of a loop in
``loop.shutdown_asyncgens()`` (which ``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio
call before closing a loop), so a program calling ``asyncio.run(llm.generate_async(...))``
in a loop leaves no pool and no socket behind. A pool whose loop was closed without that
shutdown is dropped when the next pool is made (its sockets close with it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio  # at run time imported by the async calls that need it: a sync program never pays for it

__all__ = ["LoopPools"]


class LoopPools:
    """The async pools of one transport, keyed by their event loop. ``make`` builds a pool."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._pools: dict[asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pools)

    async def get(self) -> Any:
        """The running loop's pool, made (and its keeper started) on first use."""
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._pools.get(loop)
        if entry is not None:
            return entry[0]
        with self._lock:
            for stale in [other for other in self._pools if other.is_closed()]:
                del self._pools[stale]
            entry = self._pools.get(loop)
            started = entry is None
            if entry is None:
                pool = self._make()
                entry = (pool, self._keeper(loop, pool))
                self._pools[loop] = entry
        if started:
            await entry[1].asend(None)
        return entry[0]

    async def _keeper(self, loop: asyncio.AbstractEventLoop, pool: Any) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if self._pools.get(loop, (None,))[0] is pool:
                    del self._pools[loop]
            await pool.aclose()

    def take(self) -> list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]]:
        """Every loop's keeper, forgotten here; closing a keeper (on its loop) closes its pool."""
        with self._lock:
            keepers = [(loop, keeper) for loop, (_, keeper) in self._pools.items()]
            self._pools.clear()
        return keepers


_PENDING: set[asyncio.Task[None]] = set()


def close_on_its_loop(loop: asyncio.AbstractEventLoop, keeper: AsyncGenerator[None, None]) -> None:
    """Close ``keeper`` (and so its pool) on ``loop``, from wherever this is called: as a task
    when ``loop`` is the running one, from another thread when it runs elsewhere (waiting up to
    5 s), directly when it is idle; nothing when the loop is closed (its sockets went with it)."""
    if loop.is_closed():
        return
    import asyncio  # a loop exists, so asyncio is loaded already

    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is loop:
            task = loop.create_task(keeper.aclose())
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
            return
    if loop.is_running():
        future = asyncio.run_coroutine_threadsafe(keeper.aclose(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=5)
        return
    with contextlib.suppress(Exception):
        loop.run_until_complete(keeper.aclose())
