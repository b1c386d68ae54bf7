"""Child process: async GGUF calls that are abandoned, closed early or cancelled, many times.

argv: model path, repetitions. Each scenario must end (the parent's deadline catches a
hang), the model must serve the next call with the sequential greedy reply, and
``asyncio.run`` must return. Prints the scenarios' outcomes; exits 3 on a wrong result.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import sys
from collections import Counter

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import UnsupportedOperationError

PROMPT = "Hello!"
LONG = {"raw": True, "temperature": 0, "max_tokens": 200}


class Wrong(Exception):
    pass


def check(text: str, expected: str) -> None:
    if text != expected:
        raise Wrong(f"{text!r} != {expected!r}")


async def whole(llm: AbstractLLMInterface) -> str:
    return str(await llm.generate_async(PROMPT, temperature=0, max_tokens=32))


async def leave_loop_keep_reference(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    stream = await llm.generate_async(PROMPT, temperature=0, stream=True, max_tokens=32)
    async for _ in stream:
        break
    try:
        check(await whole(llm), expected)
        outcomes["kept: served"] += 1
    except UnsupportedOperationError:
        outcomes["kept: refused"] += 1
    await stream.aclose()
    check(await whole(llm), expected)


async def leave_loop_keep_reference_call_in_a_task(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    """The next call runs in a task of its own (``wait_for``, ``create_task``) that the stream's task
    awaits: the stream can never resume, so the call is refused, as the sync API refuses it."""
    stream = await llm.generate_async(PROMPT, temperature=0, stream=True, max_tokens=32)
    async for _ in stream:
        break
    for call in (lambda: asyncio.wait_for(whole(llm), 10), lambda: asyncio.create_task(whole(llm))):
        try:
            check(await call(), expected)
            outcomes["kept, call in a task: served"] += 1
        except UnsupportedOperationError:
            outcomes["kept, call in a task: refused"] += 1
    await stream.aclose()
    check(await asyncio.wait_for(whole(llm), 10), expected)


async def slow_reader_keeps_the_model(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    """A stream read slowly (but within the grace) keeps the model: a call of another task waits, then is served."""
    stream = await llm.generate_async(PROMPT, temperature=0, stream=True, max_tokens=32)
    waiting = asyncio.create_task(whole(llm))
    parts = []
    async for chunk in stream:
        parts.append(str(chunk))
        if len(parts) <= 3:
            await asyncio.sleep(0.4)
    check("".join(parts), expected)
    check(await waiting, expected)
    outcomes["slow reader: served"] += 1


async def leave_loop_drop_reference(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    async for _ in await llm.generate_async(PROMPT, temperature=0, stream=True, max_tokens=32):
        break
    check(await whole(llm), expected)
    outcomes["dropped: served"] += 1


async def aclose_early(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    stream = await llm.generate_async("Numbers:", stream=True, **LONG)
    await stream.__anext__()
    await stream.aclose()
    check(await whole(llm), expected)
    outcomes["aclosed: served"] += 1


async def cancel_generate(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(llm.generate_async("Numbers:", **LONG), 0.01)
    check(await whole(llm), expected)
    outcomes["cancelled generate: served"] += 1


async def cancel_stream_consumer(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    async def consume() -> None:
        async for _ in await llm.generate_async("Numbers:", stream=True, **LONG):
            await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    check(await whole(llm), expected)
    outcomes["cancelled stream: served"] += 1


async def other_task_waits(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    async def streamed() -> str:
        stream = await llm.generate_async(PROMPT, temperature=0, stream=True, max_tokens=32)
        parts = []
        async for chunk in stream:
            parts.append(str(chunk))
            await asyncio.sleep(0.001)
        return "".join(parts)

    texts = await asyncio.gather(streamed(), whole(llm), streamed(), whole(llm))
    for text in texts:
        check(text, expected)
    outcomes["concurrent: served"] += 1


async def left_open_at_exit(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    global _left_open
    _left_open = await llm.generate_async("Numbers:", stream=True, **LONG)
    await _left_open.__anext__()
    outcomes["left open"] += 1


async def unload_during_async_calls(llm: AbstractLLMInterface, expected: str, outcomes: Counter[str]) -> None:
    """A model of its own (another cache budget) unloaded under a paused stream and a waiting call."""
    own = create_llm("huggingface", model_path=sys.argv[1], prefix_cache_bytes=12345)
    stream = await own.generate_async("Numbers:", stream=True, **LONG)
    await stream.__anext__()
    waiting = asyncio.create_task(own.generate_async(PROMPT, temperature=0, max_tokens=32))
    await asyncio.sleep(0.01)
    await own.aunload()
    for pending in (stream.__anext__(), waiting):
        try:
            await pending
        except UnsupportedOperationError:
            outcomes["unloaded: refused"] += 1
    await stream.aclose()
    check(await whole(llm), expected)


_left_open = None
SCENARIOS = [
    unload_during_async_calls,
    leave_loop_keep_reference,
    leave_loop_keep_reference_call_in_a_task,
    slow_reader_keeps_the_model,
    leave_loop_drop_reference,
    aclose_early,
    cancel_generate,
    cancel_stream_consumer,
    other_task_waits,
    left_open_at_exit,
]


def main() -> int:
    global _left_open
    path, repetitions = sys.argv[1], int(sys.argv[2])
    faulthandler.dump_traceback_later(100, exit=True)  # a hang shows where it is
    outcomes: Counter[str] = Counter()
    with create_llm("huggingface", model_path=path) as llm:
        expected = str(llm.generate(PROMPT, temperature=0, max_tokens=32))
        try:
            for _ in range(repetitions):
                for scenario in SCENARIOS:
                    asyncio.run(scenario(llm, expected, outcomes))
                    _left_open = None
                check(str(llm.generate(PROMPT, temperature=0, max_tokens=32)), expected)
        except Wrong as exc:
            print(dict(outcomes), "wrong reply:", exc)
            return 3
    print(dict(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
