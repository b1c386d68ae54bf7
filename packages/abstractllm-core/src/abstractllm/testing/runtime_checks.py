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

__all__ = ["LOOP_BOUND", "LoopWatch", "RuntimeChecks", "watch_loop"]

T = TypeVar("T")

#: The longest the event loop may go without running other tasks while an async call runs, in
#: seconds: generous for a loaded machine, far below a generation that blocks the loop.
LOOP_BOUND = 0.25


@dataclass(frozen=True)
class LoopWatch:
    """When a ticker task ran while an awaited call went on (``started`` to ``ended``, ``perf_counter`` seconds)."""

    started: float
    ended: float
    ticks: tuple[float, ...]

    @property
    def ticks_during(self) -> int:
        """How many times the ticker ran while the call went on: 0 when the call blocked the loop throughout."""
        return sum(self.started < tick < self.ended for tick in self.ticks)

    @property
    def longest_gap(self) -> float:
        """The longest time the loop ran nothing else during the call (from its start to the first
        tick, between ticks, from the last tick to its end)."""
        points = [self.started, *(tick for tick in self.ticks if self.started < tick < self.ended), self.ended]
        return max(later - earlier for earlier, later in itertools.pairwise(points))


async def watch_loop(work: Callable[[], Awaitable[T]]) -> tuple[T, LoopWatch]:
    """Await ``work()`` while a ticker task runs at every turn of the event loop; return its result
    and when the ticker ran. A call that awaits anything at all lets the ticker run at least once;
    one that computes without awaiting lets it run only after it returns."""
    ticks: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is running
    started = time.perf_counter()
    try:
        result = await work()
    finally:
        ended = time.perf_counter()
        running = False
        await task
    return result, LoopWatch(started, ended, tuple(ticks))


class RuntimeChecks(ConformanceBase):
    """The event loop stays free, runtime errors are mapped, and ``unload()`` is final."""

    @pytest.mark.parametrize("stream", [False, True], ids=["generate_async", "stream_async"])
    def test_async_calls_never_block_the_event_loop(self, llm: AbstractLLMInterface, stream: bool) -> None:
        """While an async call runs, the loop runs other tasks (a ticker) and never goes
        :data:`LOOP_BOUND` seconds without them."""
        expected = str(llm.generate(self.prompt, **self.greedy()))

        async def call() -> str:
            if not stream:
                return str(await llm.generate_async(self.prompt, **self.greedy()))
            chunks = await llm.generate_async(self.prompt, stream=True, **self.greedy())
            return "".join([chunk async for chunk in chunks])

        text, watch = asyncio.run(watch_loop(call))
        assert text == expected
        assert watch.ticks_during > 0, f"the call blocked the event loop for all of its {watch.ended - watch.started:.3f} s"
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
