"""Dynamic batching of concurrent calls, thread safety, async streaming and cancellation."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

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
