"""Conformance checks of how a backend runs: it never blocks the event loop, its runtime's own
exceptions reach the caller as ``abstractllm.errors`` classes, and ``unload()`` is final."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from abstractllm import AbstractLLMInterface
from abstractllm.errors import AbstractLLMError, UnsupportedOperationError
from abstractllm.testing.base import ConformanceBase

__all__ = ["LOOP_BOUND", "TICK", "LoopWatch", "RuntimeChecks", "watch_loop"]

T = TypeVar("T")

#: The longest the event loop may go without running other tasks while an async call runs, in
#: seconds: generous for a loaded machine, far below a generation that blocks the loop.
LOOP_BOUND = 0.25


#: How often the watching ticker asks to run, in seconds.
TICK = 0.005


@dataclass(frozen=True)
class LoopWatch:
    """How an awaited call shared the event loop: whether it ``suspended`` (awaited something
    that let the loop run other tasks before the call ended) and when a ticker task ran
    (``ticks``) while it went on from ``started`` to ``ended`` (``perf_counter`` seconds)."""

    started: float
    ended: float
    ticks: tuple[float, ...]
    suspended: bool

    @property
    def longest_gap(self) -> float:
        """The longest time the loop ran nothing else during the call (from its start to the first
        tick, between ticks, from the last tick to its end)."""
        points = [self.started, *(tick for tick in self.ticks if self.started < tick < self.ended), self.ended]
        return max(later - earlier for earlier, later in itertools.pairwise(points))


async def watch_loop(work: Callable[[], Awaitable[T]]) -> tuple[T, LoopWatch]:
    """Await ``work()`` as a task while a ticker task asks to run every :data:`TICK` seconds;
    return its result and how it shared the loop.

    ``suspended`` is exact, whatever the machine's load: after one turn of the loop the call's
    task has run up to its first real suspension, so it is done only if it never suspended."""
    ticks: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            ticks.append(time.perf_counter())
            await asyncio.sleep(TICK)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is running
    started = time.perf_counter()
    call = asyncio.ensure_future(work())
    await asyncio.sleep(0)  # one turn: the call runs until it first suspends (or to its end)
    suspended = not call.done()
    try:
        result = await call
    finally:
        ended = time.perf_counter()
        running = False
        await ticking
    return result, LoopWatch(started, ended, tuple(ticks), suspended)


class RuntimeChecks(ConformanceBase):
    """The event loop stays free, runtime errors are mapped, and ``unload()`` is final."""

    @pytest.mark.parametrize("stream", [False, True], ids=["generate_async", "stream_async"])
    def test_async_calls_never_block_the_event_loop(self, llm: AbstractLLMInterface, stream: bool) -> None:
        """An async call (and an async stream, read to its end) awaits its work, letting the loop
        run other tasks, and the loop never goes :data:`LOOP_BOUND` seconds without running them."""
        expected = str(llm.generate(self.prompt, **self.greedy()))

        async def call() -> str:
            if not stream:
                return str(await llm.generate_async(self.prompt, **self.greedy()))
            chunks = await llm.generate_async(self.prompt, stream=True, **self.greedy())
            return "".join([chunk async for chunk in chunks])

        text, watch = asyncio.run(watch_loop(call))
        assert text == expected
        took = watch.ended - watch.started
        assert watch.suspended, f"the call ran to its end without awaiting: it blocked the event loop for all of its {took:.3f} s"
        assert watch.longest_gap < LOOP_BOUND, f"the event loop was blocked for {watch.longest_gap:.3f} s"

    def test_runtime_errors_reach_the_caller_as_abstractllm_errors(self, llm: AbstractLLMInterface) -> None:
        """With the runtime broken by :meth:`break_runtime`, every kind of call raises the expected
        ``abstractllm.errors`` class, naming the provider and mode, whose ``__cause__`` is the
        runtime's own exception; once repaired, the model gives its greedy reply again."""
        expected = str(llm.generate(self.prompt, **self.greedy()))
        with pytest.MonkeyPatch.context() as patch:
            try:
                failure = self.break_runtime(llm, patch)
            except NotImplementedError:
                pytest.skip("break_runtime() is not implemented: implement it to check that your runtime's errors are mapped")
            assert not issubclass(failure.raises, AbstractLLMError), "break_runtime must make the runtime raise its own exception"
            for kind, call in self._calls(llm).items():
                with pytest.raises(failure.expect) as caught:
                    call()
                error = caught.value
                assert isinstance(error.__cause__, failure.raises), f"{kind}: __cause__ is {error.__cause__!r}"
                assert (error.provider, error.mode) == (llm.provider, llm.mode), f"{kind}: {error!r}"
        assert str(llm.generate(self.prompt, **self.greedy())) == expected

    def _calls(self, llm: AbstractLLMInterface) -> dict[str, Callable[[], Any]]:
        async def generate_async() -> Any:
            return await llm.generate_async(self.prompt, **self.greedy())

        async def stream_async() -> Any:
            return [chunk async for chunk in await llm.generate_async(self.prompt, stream=True, **self.greedy())]

        return {
            "generate": lambda: llm.generate(self.prompt, **self.greedy()),
            "stream": lambda: list(llm.generate(self.prompt, stream=True, **self.greedy())),
            "generate_async": lambda: asyncio.run(generate_async()),
            "stream_async": lambda: asyncio.run(stream_async()),
        }

    def test_unload_frees_and_is_final(self, request: pytest.FixtureRequest) -> None:
        model = self.new_llm(request)
        assert str(model.generate(self.prompt, **self.greedy()))
        model.unload()
        model.unload()
        with pytest.raises(UnsupportedOperationError):
            model.generate(self.prompt)

    def test_async_with_unloads_on_exit(self, request: pytest.FixtureRequest) -> None:
        async def use() -> None:
            async with self.new_llm(request) as model:
                assert str(await model.generate_async(self.prompt, **self.greedy()))
            await model.aunload()  # idempotent
            with pytest.raises(UnsupportedOperationError):
                await model.generate_async(self.prompt)

        asyncio.run(use())
