"""Dynamic batching of concurrent calls, thread safety, async streaming and cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from tinymodel import EXPECTED_COMPLETIONS

PROMPTS = [prompt for prompt, _ in EXPECTED_COMPLETIONS] + ["Numbers:", "1 2 3", "zq", "France ,"]
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome", "Berlin"]},
        "country": {"type": "string", "maxLength": 12},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}
DEADLINE = 120.0  # seconds: far longer than the calls below take, far shorter than the window of ``patient``


def _sequential(llm: AbstractLLMInterface, **params: object) -> list[str]:
    return [str(llm.generate(prompt, raw=True, temperature=0, **params)) for prompt in PROMPTS]


async def test_concurrent_async_calls_are_batched_and_equal_sequential(llm: AbstractLLMInterface) -> None:
    expected = _sequential(llm, max_tokens=24)
    batcher = llm.backend.loaded.batcher
    batches_before = batcher.batches_run
    replies = await asyncio.gather(*(llm.generate_async(p, raw=True, temperature=0, max_tokens=24) for p in PROMPTS))
    assert [str(reply) for reply in replies] == expected
    assert batcher.batches_run - batches_before < len(PROMPTS)  # fewer generate calls than requests
    assert batcher.largest_batch > 1
    usages = [reply.usage for reply in replies]
    assert usages == [llm.generate(p, raw=True, temperature=0, max_tokens=24).usage for p in PROMPTS]


async def test_mixed_batch_limits_stops_and_constraints(llm: AbstractLLMInterface) -> None:
    import jsonschema

    plain = [str(llm.generate(p, raw=True, temperature=0, max_tokens=n)) for p, n in zip(PROMPTS, range(3, 40, 3))]
    cut_expected = str(llm.generate("Numbers:", raw=True, temperature=0, max_tokens=32, stop='"description"'))
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA}}
    calls = [llm.generate_async(p, raw=True, temperature=0, max_tokens=n) for p, n in zip(PROMPTS, range(3, 40, 3))]
    calls.append(llm.generate_async("Numbers:", raw=True, temperature=0, max_tokens=32, stop='"description"'))
    calls.append(llm.generate_async("Give me the capital of Italy as JSON.", response_format=fmt, temperature=0, max_tokens=40))
    replies = await asyncio.gather(*calls)
    assert [str(reply) for reply in replies[: len(plain)]] == plain
    assert str(replies[-2]) == cut_expected
    jsonschema.validate(replies[-1].parsed, SCHEMA)


def test_sync_calls_from_threads_equal_sequential(llm: AbstractLLMInterface) -> None:
    expected = _sequential(llm, max_tokens=16)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda p: str(llm.generate(p, raw=True, temperature=0, max_tokens=16)), PROMPTS * 2))
    assert replies == expected * 2


async def test_concurrent_async_streams(llm: AbstractLLMInterface) -> None:
    expected = _sequential(llm, max_tokens=16)

    async def collect(prompt: str) -> str:
        stream = await llm.generate_async(prompt, raw=True, temperature=0, max_tokens=16, stream=True)
        return "".join([chunk async for chunk in stream])

    assert list(await asyncio.gather(*(collect(p) for p in PROMPTS))) == expected


async def test_abandoned_streams_and_cancelled_calls_leave_the_model_working(llm: AbstractLLMInterface) -> None:
    stream = llm.generate("Numbers:", raw=True, temperature=0, max_tokens=64, stream=True)
    first = next(iter(stream))
    stream.close()
    assert first
    task = asyncio.ensure_future(llm.generate_async("Numbers:", raw=True, temperature=0, max_tokens=64))
    await asyncio.sleep(0)
    task.cancel()
    astream = await llm.generate_async("1 2 3", raw=True, temperature=0, max_tokens=64, stream=True)
    async for _ in astream:
        break
    await astream.aclose()
    assert str(await llm.generate_async("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."


@pytest.fixture
def patient(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """A load of its own (device='cpu' makes a different sharing key) whose async calls may wait ten minutes for
    company; unloading it stops its worker, whatever a failed test left queued."""
    model = create_llm("huggingface", model=str(chat_dir), device="cpu", batch_window_ms=600_000)
    yield model
    model.unload()


async def test_a_lone_async_call_does_not_wait_out_the_batching_window(patient: AbstractLLMInterface) -> None:
    reply = await asyncio.wait_for(patient.generate_async("The sky is", raw=True, temperature=0, max_tokens=8), DEADLINE)
    assert str(reply) == " blue."


async def test_calls_and_streams_started_together_run_as_one_batch_without_waiting_out_the_window(
    patient: AbstractLLMInterface,
) -> None:
    expected = _sequential(patient, max_tokens=24)
    batcher = patient.backend.loaded.batcher
    batches = batcher.batches_run

    async def call(prompt: str) -> str:
        return str(await patient.generate_async(prompt, raw=True, temperature=0, max_tokens=24))

    async def collect(prompt: str) -> str:
        stream = await patient.generate_async(prompt, raw=True, temperature=0, max_tokens=24, stream=True)
        return "".join([chunk async for chunk in stream])

    started = [(collect if index % 2 else call)(prompt) for index, prompt in enumerate(PROMPTS)]
    replies = await asyncio.wait_for(asyncio.gather(*started), DEADLINE)
    assert list(replies) == expected
    assert batcher.batches_run == batches + 1  # every call queued in one loop turn: one batch


async def test_the_window_still_ends_when_the_callers_loop_does_not_come_round(
    chat_dir: Path, patient: AbstractLLMInterface
) -> None:
    brief = create_llm("huggingface", model=str(chat_dir), device="cpu", batch_window_ms=50)  # shares patient's load
    try:
        batcher = brief.backend.loaded.batcher
        batches = batcher.batches_run
        task = asyncio.ensure_future(brief.generate_async("The sky is", raw=True, temperature=0, max_tokens=8))
        await asyncio.sleep(0)  # the call is queued during this turn; its loop comes round only when we await again
        deadline = time.monotonic() + DEADLINE
        while batcher.batches_run == batches:  # this loop stays busy: the batch starts when the window runs out
            assert time.monotonic() < deadline, "the call waited for its busy event loop"
            time.sleep(0.001)
        assert str(await task) == " blue."
    finally:
        brief.unload()
