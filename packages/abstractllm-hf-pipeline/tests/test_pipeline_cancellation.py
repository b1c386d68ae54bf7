"""Cancelled calls and abandoned streams stop generating at their next token; the rest of their batch goes on.

Progress is measured in decoding steps (``batcher.steps_run``), never in wall-clock time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface

LONG = 400  # tokens the cancelled request asks for; its grammar (a string of 2,000+ characters) forbids stopping sooner
FOREVER = {"type": "json_schema", "json_schema": {"name": "long", "schema": {"type": "string", "minLength": 2000}}}
NEXT = 8  # tokens of the call made after the cancellation
PROMPTS = ["The sky is", "The capital of France is", "1 2 3", "Hello"]


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(6000):  # polled, bounded: 30 s at most
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"gave up waiting until {what}")


@pytest.fixture
def batched(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """The shared tiny model, with a wide batching window so that calls started together share a batch."""
    model = create_llm("huggingface", model=str(chat_dir), model_type="pipeline", batch_window_ms=300)
    yield model
    model.unload()


def test_the_long_request_really_is_long(llm: AbstractLLMInterface) -> None:
    reply = llm.generate("Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER)
    assert reply.usage.completion_tokens == LONG  # so stopping early below is the cancellation's doing


@pytest.mark.parametrize("how", ["task.cancel", "wait_for"])
async def test_cancelled_call_stops_at_its_next_token(llm: AbstractLLMInterface, how: str) -> None:
    batcher = llm.backend.loaded.batcher
    start = batcher.steps_run
    call = llm.generate_async("Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER)
    if how == "task.cancel":
        task = asyncio.ensure_future(call)
        await _until(lambda: batcher.steps_run > start + 2, "the request generates")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(asyncio.TimeoutError):
            # the LONG tokens take 0.23 s or more on this machine: a 0.3 s timeout did not always expire first
            await asyncio.wait_for(call, timeout=0.05)
    at_cancel = batcher.steps_run
    reply = await llm.generate_async("The sky is", raw=True, temperature=0, max_tokens=NEXT)
    assert str(reply) == " blue."
    # the cancelled row ran at most the step in flight; then only the next call's steps
    assert batcher.steps_run - at_cancel <= 1 + NEXT
    assert at_cancel - start < LONG


def test_closed_stream_stops_at_its_next_token(llm: AbstractLLMInterface) -> None:
    batcher = llm.backend.loaded.batcher
    start = batcher.steps_run
    stream = llm.generate("Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER, stream=True)
    next(iter(stream))
    stream.close()
    at_close = batcher.steps_run
    assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=NEXT)) == " blue."
    assert batcher.steps_run - at_close <= 1 + NEXT
    assert at_close - start < LONG


async def test_abandoned_async_stream_stops_at_its_next_token(llm: AbstractLLMInterface) -> None:
    batcher = llm.backend.loaded.batcher
    start = batcher.steps_run
    stream = await llm.generate_async("Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    at_close = batcher.steps_run
    assert str(await llm.generate_async("The sky is", raw=True, temperature=0, max_tokens=NEXT)) == " blue."
    assert batcher.steps_run - at_close <= 1 + NEXT
    assert at_close - start < LONG


@pytest.mark.parametrize("cancelled", ["call", "stream"])
async def test_the_rest_of_a_batch_goes_on(batched: AbstractLLMInterface, cancelled: str) -> None:
    expected = [str(batched.generate(p, raw=True, temperature=0, max_tokens=24)) for p in PROMPTS]
    batcher = batched.backend.loaded.batcher
    batches, start = batcher.batches_run, batcher.steps_run
    others = [asyncio.ensure_future(batched.generate_async(p, raw=True, temperature=0, max_tokens=24)) for p in PROMPTS]
    if cancelled == "call":
        victim = asyncio.ensure_future(
            batched.generate_async("Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER)
        )
        await _until(lambda: batcher.steps_run > start + 2, "the batch generates")
        victim.cancel()
    else:
        stream = await batched.generate_async(
            "Numbers:", raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER, stream=True
        )
        async for _ in stream:
            break
        await stream.aclose()
    replies = await asyncio.gather(*others)
    assert [str(reply) for reply in replies] == expected
    assert batcher.batches_run == batches + 1  # one batch: the cancelled row shared it with the others
    assert batcher.steps_run - start <= 24 + 1  # and did not keep it running after they finished
