"""Results crossing from the generating thread to asyncio callers: one wake-up of the loop per burst, in order."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from abstractllm.response import Choice, Completion, StreamDelta, Usage
from abstractllm_hf_pipeline.sinks import AsyncFutureSink, AsyncQueueSink


def _completion(text: str) -> Completion:
    return Completion(choices=[Choice(text=text, finish_reason="stop")], usage=Usage(prompt_tokens=1, completion_tokens=1))


def _on_thread(work: Any) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()


def _count_wakeups(monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop) -> list[int]:
    """Counts the loop's ``call_soon_threadsafe`` calls (each one writes to its wake-up socket)."""
    calls = [0]
    original = loop.call_soon_threadsafe

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    return calls


async def test_results_posted_together_wake_the_loop_once_and_arrive_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    wakeups = _count_wakeups(monkeypatch, asyncio.get_running_loop())
    sinks = [AsyncFutureSink() for _ in range(16)]
    stream = AsyncQueueSink()

    def deliver() -> None:  # the generating thread, while this loop waits for it
        for step in range(3):
            stream.delta(StreamDelta(text=f"piece {step}"))
        for index, sink in enumerate(sinks):
            sink.finish(_completion(f"reply {index}"))
        stream.fail(RuntimeError("the stream failed"))

    _on_thread(deliver)  # blocks this loop: everything is posted before it runs any of it
    assert wakeups[0] == 1
    assert [(await sink.future).choices[0].text for sink in sinks] == [f"reply {index}" for index in range(16)]
    assert [(await stream.items.get()).text for _ in range(3)] == ["piece 0", "piece 1", "piece 2"]
    assert isinstance(await stream.items.get(), RuntimeError)
    _on_thread(lambda: sinks[0].finish(_completion("late")))  # a later burst wakes it again
    await asyncio.sleep(0)
    assert wakeups[0] == 2
    assert sinks[0].future.result().choices[0].text == "reply 0"  # delivered once: the late result is dropped


async def test_a_cancelled_caller_does_not_keep_the_others_from_their_results() -> None:
    first, second = AsyncFutureSink(), AsyncFutureSink()
    first.future.cancel()
    _on_thread(lambda: (first.finish(_completion("a")), second.fail(ValueError("b"))))
    with pytest.raises(ValueError, match="b"):
        await asyncio.wait_for(second.future, 30)


def test_results_for_a_closed_loop_are_dropped() -> None:
    loop = asyncio.new_event_loop()

    async def make() -> tuple[AsyncFutureSink, AsyncQueueSink]:
        return AsyncFutureSink(), AsyncQueueSink()

    sink, stream = loop.run_until_complete(make())
    loop.close()
    _on_thread(lambda: (sink.finish(_completion("x")), stream.delta(StreamDelta(text="y")), sink.fail(ValueError())))
    assert not sink.future.done()
    assert stream.items.empty()
