"""Sessions on backends that cannot count tokens: the server's context-window refusal makes
the session leave out old turns and send again; the history itself keeps every turn."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import ContextWindowExceededError
from abstractllm.session import Session

WINDOW = 120  # the in-repo server counts a message as its words + 3
LONG = "tell me more about the old harbour and its ships " * 3  # 30 words


def turns_sent(fake: Any) -> list[list[str]]:
    return [[m["content"] for m in post["body"]["messages"]] for post in fake.posts()]


def test_a_long_conversation_keeps_going_by_leaving_out_old_turns(fake: Any) -> None:
    fake.context_window = WINDOW
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    session = Session(system_prompt="Be brief.", provider=llm)
    requests = []
    for index in range(6):
        fake.reset()
        fake.context_window = WINDOW
        reply = session.generate(f"{LONG} question {index}", max_tokens=8, temperature=0)
        assert str(reply)
        sent = turns_sent(fake)
        requests.append(len(sent))
        last = sent[-1]
        assert last[0] == "Be brief." and last[-1] == f"{LONG} question {index}"  # system prompt and newest turn kept
    assert requests[0] == 1 and max(requests) == 2  # refused when full; the proportional cut fits at once
    assert requests.count(2) == 1  # later calls start from the size the server accepted
    assert len(session.messages) == 1 + 2 * 6  # the history keeps every turn
    assert len(last) < len(session.messages)  # ... but the last request left old ones out
    bigger = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    fake.reset()  # no context window now: another model gets the whole history
    session.generate("and now?", provider=bigger, max_tokens=8, temperature=0)
    assert len(turns_sent(fake)[0]) == len(session.messages) - 1
    bigger.unload()
    llm.unload()


def test_streams_and_async_calls_leave_out_old_turns_too(fake: Any) -> None:
    fake.context_window = WINDOW
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    session = Session(system_prompt="Be brief.", provider=llm)
    for index in range(3):
        session.generate(f"{LONG} warm-up {index}", max_tokens=8, temperature=0)
    text = "".join(session.generate(f"{LONG} streamed", stream=True, max_tokens=8, temperature=0))
    assert text and session.messages[-1].content == text  # recorded when the stream ended
    assert turns_sent(fake)[-1][-1] == f"{LONG} streamed"
    llm.unload()


async def test_async_session_leaves_out_old_turns(fake: Any) -> None:
    fake.context_window = WINDOW
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    session = Session(system_prompt="Be brief.", provider=llm)
    for index in range(3):
        assert str(await session.generate_async(f"{LONG} async {index}", max_tokens=8, temperature=0))
    stream = await session.generate_async(f"{LONG} async stream", stream=True, max_tokens=8, temperature=0)
    text = "".join([chunk async for chunk in stream])
    assert text and session.messages[-1].content == text
    assert len(session.messages) == 1 + 2 * 4
    await llm.aunload()


def test_a_newest_turn_that_alone_does_not_fit_is_still_an_error(fake: Any) -> None:
    fake.context_window = WINDOW
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    session = Session(system_prompt="Be brief.", provider=llm)
    session.generate("hello", max_tokens=8, temperature=0)
    fake.reset()
    fake.context_window = WINDOW
    with pytest.raises(ContextWindowExceededError) as caught:
        session.generate(LONG * 5, max_tokens=8, temperature=0)
    assert caught.value.context_window == WINDOW
    assert len(fake.posts()) == 2  # the full history, then system prompt + newest turn: nothing more to leave out
    llm.unload()


def test_a_tool_loop_leaves_out_old_turns_too(fake: Any) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    fake.context_window = WINDOW
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    session = Session(system_prompt="Be brief.", provider=llm)
    for index in range(3):
        session.generate(f"{LONG} warm-up {index}", max_tokens=8, temperature=0)
    fake.reset()
    fake.context_window = WINDOW
    call = {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    fake.script(call)
    answer = session.generate_with_tools(f"{LONG} weather?", tools=[get_weather], max_tokens=8, temperature=0)
    assert "sunny in Paris" in str(answer)
    sent = turns_sent(fake)
    assert len(sent) == 2  # the tool call and the answer, both cut to the size the server accepted during warm-up
    assert sent[1][-1] == "sunny in Paris" and sent[1][0] == "Be brief."
    assert [m.role for m in session.messages[-4:]] == ["user", "assistant", "tool", "assistant"]
    llm.unload()
