"""A session keeps a true history: only a completed reply records its turns.

Every path (sync, async, stream, async stream) is driven against the real n-gram backend:
a call that fails or is abandoned leaves ``session.messages`` exactly as it was, and the
same session then records a normal exchange.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from abstractllm import Session
from abstractllm.errors import ContextWindowExceededError, InvalidArgumentError, UnsupportedFeatureError


@pytest.fixture
def session(ngram: Any) -> Session:
    session = Session(system_prompt="be brief", provider=ngram)
    session.generate("the capital of", temperature=0)
    return session


def snapshot(session: Session) -> list[dict[str, Any]]:
    return [message.to_dict() for message in session.messages]


def goes_on(session: Session, before: list[dict[str, Any]]) -> None:
    """The history is as it was, and the next call records exactly its two turns."""
    assert snapshot(session) == before
    reply = session.generate("rome is", temperature=0, max_tokens=2)
    assert snapshot(session)[: len(before)] == before
    assert [m.content for m in session.messages[len(before) :]] == ["rome is", str(reply)]


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -1},
        {"max_tokens": 0},
        {"tempreature": 0.5},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"prompt": "paris " * 300},
        {"prompt": "the capital \ud800 of"},
        {"prompt": b"the capital of"},
        {"prompt": "   "},
    ],
    ids=["temperature", "max_tokens", "unknown", "unsupported-tools", "too-long", "surrogate", "bytes", "blank"],
)
def test_a_failed_call_leaves_the_history_as_it_was(session: Session, bad: dict[str, Any]) -> None:
    before = snapshot(session)
    prompt = bad.pop("prompt", "rome is")
    with pytest.raises((InvalidArgumentError, UnsupportedFeatureError, ContextWindowExceededError)) as caught:
        session.generate(prompt, **bad)
    if isinstance(caught.value, InvalidArgumentError) and not bad:
        assert caught.value.parameter == "prompt", caught.value
    goes_on(session, before)


def test_a_stream_closed_after_one_chunk_records_nothing(session: Session) -> None:
    before = snapshot(session)
    stream = session.generate("the capital of", stream=True, temperature=0)
    assert next(stream)
    assert snapshot(session) == before  # nothing until the stream ends
    stream.close()
    goes_on(session, before)


def test_an_abandoned_stream_records_nothing(session: Session) -> None:
    before = snapshot(session)
    stream = session.generate("the capital of", stream=True, temperature=0)
    next(stream)
    del stream
    gc.collect()
    goes_on(session, before)


def test_a_stream_read_to_its_end_records_both_turns(session: Session) -> None:
    before = snapshot(session)
    text = "".join(session.generate("rome is", stream=True, temperature=0, max_tokens=3))
    assert [m.content for m in session.messages[len(before) :]] == ["rome is", text]
    assert session.messages[-1].metadata["usage"]["completion_tokens"] == 3


def test_a_failed_stream_request_records_nothing(session: Session) -> None:
    before = snapshot(session)
    with pytest.raises(InvalidArgumentError):
        session.generate("rome is", stream=True, top_p=2)  # checked at the call, as the model's own stream
    with pytest.raises(ContextWindowExceededError):
        next(session.generate("paris " * 300, stream=True))
    goes_on(session, before)


async def test_async_failures_cancellations_and_abandoned_streams_record_nothing(session: Session) -> None:
    before = snapshot(session)
    with pytest.raises(InvalidArgumentError):
        await session.generate_async("rome is", temperature=-1)
    with pytest.raises(InvalidArgumentError):
        await session.generate_async("rome is", stream=True, seed=-1)

    task = asyncio.ensure_future(session.generate_async("the capital of", temperature=0))
    await asyncio.sleep(0)  # the call is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert snapshot(session) == before

    stream = await session.generate_async("the capital of", stream=True, temperature=0)
    assert await anext(stream)
    await stream.aclose()
    assert snapshot(session) == before

    stream = await session.generate_async("the capital of", stream=True, temperature=0)
    async for _ in stream:
        break
    await stream.aclose()
    assert snapshot(session) == before

    reply = await session.generate_async("rome is", temperature=0, max_tokens=2)
    stream = await session.generate_async("paris is", stream=True, temperature=0, max_tokens=2)
    text = "".join([chunk async for chunk in stream])
    assert [m.content for m in session.messages[len(before) :]] == ["rome is", str(reply), "paris is", text]


def test_a_tool_loop_that_fails_at_once_records_nothing(session: Session) -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    before = snapshot(session)
    with pytest.raises(UnsupportedFeatureError):  # the n-gram model cannot call tools
        session.generate_with_tools("the capital of", tools=[lookup])
    with pytest.raises(UnsupportedFeatureError):
        asyncio.run(session.generate_with_tools_async("the capital of", tools=[lookup]))
    goes_on(session, before)
