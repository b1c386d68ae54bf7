"""``count_tokens`` counts a request's tools, and Session fits a conversation with the tools it sends.

The tiny model's template renders tools (Hermes, natively) in both local modes; its window is 512 tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.backend.messages import Message
from abstractllm.errors import AbstractLLMError, ContextWindowExceededError, InvalidArgumentError
from abstractllm.session import Session

PROMPT = "What is the weather in Paris?"


def get_weather(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    return {"temperature": 22, "sky": "sunny"}


@pytest.fixture(params=["pipeline", "gguf"], scope="module")
def llm(request: pytest.FixtureRequest, tiny_models: Any) -> Iterator[Any]:
    if request.param == "gguf":
        pytest.importorskip("llama_cpp")
    where = {"model": str(tiny_models.pipeline_dir)} if request.param == "pipeline" else {"model_path": str(tiny_models.gguf_f32)}
    model = create_llm("huggingface", temperature=0, max_tokens=48, **where)
    assert model.get_capabilities()["tool_rendering"] == "native"
    yield model
    model.unload()


@pytest.mark.parametrize("tool_choice", [None, "auto", "required", "get_weather", "none"])
def test_the_count_with_tools_is_the_prompt_generate_sends(llm: Any, tool_choice: str | None) -> None:
    bare = llm.count_tokens(PROMPT)
    counted = llm.count_tokens(PROMPT, tools=[get_weather], tool_choice=tool_choice)
    reply = llm.generate(PROMPT, tools=[get_weather], tool_choice=tool_choice, max_tokens=2)
    assert counted == reply.usage.prompt_tokens
    if tool_choice == "none":  # no tool is offered: the template renders none
        assert counted == bare
    else:
        assert counted > bare + 20  # the tool's definition takes real prompt tokens
    chunks = list(llm.generate(PROMPT, tools=[get_weather], tool_choice=tool_choice, max_tokens=2, stream=True))
    assert chunks[-1].usage.prompt_tokens == counted


def test_a_conversation_with_tools_is_counted_as_sent(llm: Any) -> None:
    conversation = [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Hello there."},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": PROMPT},
    ]
    counted = llm.count_tokens(conversation, tools=[get_weather])
    assert counted == llm.generate(conversation, tools=[get_weather], max_tokens=2).usage.prompt_tokens
    assert counted > llm.count_tokens(conversation)


@pytest.mark.parametrize(
    ("tools", "tool_choice", "parameter"),
    [
        ("get_weather", None, "tools"),  # not a list
        ([get_weather], "get_time", "tool_choice"),  # names no tool
        ([get_weather], 5, "tool_choice"),
        (None, "required", "tool_choice"),  # needs tools
    ],
)
def test_bad_tools_raise_what_generate_raises(llm: Any, tools: Any, tool_choice: Any, parameter: str) -> None:
    with pytest.raises(InvalidArgumentError) as counted:
        llm.count_tokens(PROMPT, tools=tools, tool_choice=tool_choice)
    with pytest.raises(InvalidArgumentError) as generated:
        llm.generate(PROMPT, tools=tools, tool_choice=tool_choice, max_tokens=2)
    assert counted.value.parameter == generated.value.parameter == parameter
    assert str(counted.value) == str(generated.value)
    assert (counted.value.provider, counted.value.mode) == ("huggingface", llm.mode)
    assert llm.count_tokens(PROMPT, tools=[get_weather]) > llm.count_tokens(PROMPT)  # the model still works


def _history_that_fits_only_without_tools(llm: Any, session: Session, max_tokens: int) -> None:
    """Fill ``session`` until ``PROMPT`` after it, with ``get_weather`` offered, overflows the window,
    while without the tool it still fits (room kept for ``max_tokens``): what the fitting counted before."""
    window = llm.get_capabilities()["max_tokens"]
    newest = Message(role="user", content=PROMPT)
    index = 0
    while llm.count_tokens([*session.messages, newest], tools=[get_weather]) < window:
        session.add_message("user", "paris " * 8 + f"turn{index}")
        session.add_message("assistant", "ok")
        index += 1
    assert llm.count_tokens([*session.messages, newest]) < window - max_tokens


def test_the_session_leaves_out_old_turns_the_tools_would_not_leave_room_for(llm: Any) -> None:
    session = Session(system_prompt="You answer briefly.", provider=llm)
    _history_that_fits_only_without_tools(llm, session, 4)
    history = list(session.messages)
    sent = session._request_messages(llm, [Message(role="user", content=PROMPT)], {"tools": [get_weather], "max_tokens": 4})
    assert sent[0].content == "You answer briefly." and sent[-1].content == PROMPT
    assert len(sent) < len(history) + 1 and sent[1].content != history[1].content  # the oldest turn is left out
    reply = session.generate(PROMPT, tools=[get_weather], max_tokens=4)
    window = llm.get_capabilities()["max_tokens"]
    assert reply.usage.prompt_tokens == llm.count_tokens(sent, tools=[get_weather]) < window - 4
    assert session.messages[: len(history)] == history and len(session.messages) == len(history) + 2  # all kept
    with pytest.raises(ContextWindowExceededError):  # what sending the whole conversation does
        llm.generate(messages=history, prompt=PROMPT, tools=[get_weather], max_tokens=4)


async def test_streamed_and_async_session_calls_fit_with_their_tools_too(llm: Any) -> None:
    window = llm.get_capabilities()["max_tokens"]
    streamed = Session(provider=llm)
    _history_that_fits_only_without_tools(llm, streamed, 4)
    chunks = list(streamed.generate(PROMPT, tools=[get_weather], max_tokens=4, stream=True))
    assert chunks[-1].usage.prompt_tokens < window - 4 and streamed.messages[-2].content == PROMPT
    awaited = Session(provider=llm)
    _history_that_fits_only_without_tools(llm, awaited, 4)
    reply = await awaited.generate_async(PROMPT, tools=[get_weather], max_tokens=4)
    assert reply.usage.prompt_tokens < window - 4 and awaited.messages[-2].content == PROMPT


def test_a_tool_loop_fits_each_request_with_its_tools(llm: Any) -> None:
    """The first request forces the call (the tiny model does not call after this history on its own), the
    second offers the tool with tool_choice "auto": both fit, each counted with the tool it sends."""
    ran: list[str] = []

    def weather(city: str) -> dict[str, Any]:
        """Get the weather in a city."""
        ran.append(city)
        return get_weather(city)

    session = Session(provider=llm)
    _history_that_fits_only_without_tools(llm, session, 48)
    before = len(session.messages)
    answer = session.generate_with_tools(PROMPT, tool_functions={"get_weather": weather}, tool_choice="get_weather")
    assert len(ran) == 1 and isinstance(ran[0], str)
    assert [m.role for m in session.messages[before:]] == ["user", "assistant", "tool", "assistant"]
    assert session.messages[before + 1].tool_calls[0].name == "get_weather"
    window = llm.get_capabilities()["max_tokens"]
    assert answer.usage.prompt_tokens < window - 48
    assert answer.usage.prompt_tokens < llm.count_tokens(session.messages[:-1], tools=[get_weather])  # old turns left out


@pytest.mark.parametrize("mode", ["pipeline", "gguf"])
def test_a_template_that_refuses_the_conversation_fails_the_count_as_it_fails_generate(
    mode: str, family_models: dict[str, Any]
) -> None:
    """Mistral's template raises on two user turns in a row: count_tokens maps that error as generate does."""
    if mode == "gguf":
        pytest.importorskip("llama_cpp")
    folder, gguf = family_models["mistral"]
    llm = create_llm(
        "huggingface", prefix_cache_bytes=0, **({"model": str(folder)} if mode == "pipeline" else {"model_path": str(gguf)})
    )
    two_users = [{"role": "user", "content": "Hello."}, {"role": "user", "content": PROMPT}]
    try:
        with pytest.raises(AbstractLLMError) as counted:
            llm.count_tokens(two_users, tools=[get_weather])
        with pytest.raises(AbstractLLMError) as generated:
            llm.generate(two_users, tools=[get_weather], max_tokens=2)
        assert type(counted.value) is type(generated.value) and str(counted.value) == str(generated.value)
        assert "roles must alternate" in str(counted.value) and counted.value.__cause__ is not None
        # the same documented error in both modes: the caller's conversation, refused by the model's template
        assert isinstance(counted.value, InvalidArgumentError) and counted.value.parameter == "messages"
        assert llm.count_tokens(two_users[1:], tools=[get_weather]) > llm.count_tokens(two_users[1:])  # still works
    finally:
        llm.unload()
