"""Session tool loops and streams that fail or are interrupted leave the history as it was;
a forced ``tool_choice`` applies to the first round only.

Run against the API package's test server on loopback (scripted tool calls and server
errors, every request recorded) and the project's tiny models (trained to call get_weather).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import InvalidArgumentError, ProviderAPIError
from abstractllm.session import Session

CALLS: list[str] = []
WEATHER_CALL = {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}


def get_weather(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    CALLS.append(city)
    return {"temperature": 22, "sky": "sunny"}


class Abort(BaseException):
    """Raised by a tool to stop the loop half-way (not an Exception: it is not fed back to the model)."""


@pytest.fixture
def endpoint(router: Any) -> Iterator[Any]:
    router.reset()
    llm = create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0, max_tokens=8)
    yield llm
    llm.unload()
    router.reset()


@pytest.fixture
def session(endpoint: Any) -> Session:
    session = Session(system_prompt="keep me", provider=endpoint)
    session.generate("hello there")
    return session


def snapshot(session: Session) -> list[dict[str, Any]]:
    return [message.to_dict() for message in session.messages]


def test_a_server_error_in_a_later_round_leaves_the_history_as_it_was(session: Session, router: Any) -> None:
    before = snapshot(session)
    CALLS.clear()
    router.script(WEATHER_CALL, {"status": 500})
    with pytest.raises(ProviderAPIError):
        session.generate_with_tools("weather in Paris?", tools=[get_weather])
    assert CALLS == ["Paris"]  # the tool ran, yet nothing of the failed loop is remembered
    assert snapshot(session) == before
    router.script(WEATHER_CALL)
    answer = session.generate_with_tools("weather in Paris?", tools=[get_weather])
    assert [m.role for m in session.messages[len(before) :]] == ["user", "assistant", "tool", "assistant"]
    assert session.messages[-1].content == str(answer)


def test_a_tool_that_aborts_the_loop_leaves_the_history_as_it_was(session: Session, router: Any) -> None:
    def explode(city: str) -> str:
        """Get the weather in a city."""
        raise Abort

    before = snapshot(session)
    router.script(WEATHER_CALL)
    with pytest.raises(Abort):
        session.generate_with_tools("weather in Paris?", tool_functions={"get_weather": explode})
    assert snapshot(session) == before


async def test_a_cancelled_async_tool_loop_leaves_the_history_as_it_was(session: Session, router: Any) -> None:
    started = asyncio.Event()

    async def wait_forever(city: str) -> str:
        """Get the weather in a city."""
        started.set()
        await asyncio.get_running_loop().create_future()
        return "never"

    before = snapshot(session)
    router.script(WEATHER_CALL)
    task = asyncio.ensure_future(session.generate_with_tools_async("weather?", tool_functions={"get_weather": wait_forever}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert snapshot(session) == before
    router.script({"status": 503, "message": "overloaded"})
    with pytest.raises(ProviderAPIError):
        await session.generate_with_tools_async("weather?", tools=[get_weather])
    assert snapshot(session) == before
    await session.generate_async("hello again")
    assert [m.content for m in session.messages[: len(before) + 1]][-1] == "hello again"


def test_a_stream_that_fails_midway_records_nothing(session: Session, router: Any) -> None:
    before = snapshot(session)
    router.script({"error_after": 1})
    stream = session.generate("tell me more", stream=True)
    with pytest.raises(ProviderAPIError):
        for _ in stream:
            pass
    assert snapshot(session) == before
    text = "".join(session.generate("tell me more", stream=True))
    assert [m.content for m in session.messages[len(before) :]] == ["tell me more", text]


@pytest.mark.parametrize("forced", ["required", "get_weather"])
def test_a_forced_tool_choice_applies_to_the_first_round_only(session: Session, router: Any, forced: str) -> None:
    router.reset()
    CALLS.clear()
    router.script(WEATHER_CALL)
    session.generate_with_tools("weather in Paris?", tools=[get_weather], tool_choice=forced)
    choices = [post["body"].get("tool_choice") for post in router.posts()]
    named = {"type": "function", "function": {"name": "get_weather"}}  # "required" over one tool is sent named
    assert choices == [named, "auto"]
    assert CALLS == ["Paris"]


def test_the_last_allowed_round_asks_for_an_answer_without_tools(session: Session, router: Any) -> None:
    router.reset()
    router.script(WEATHER_CALL)
    session.generate_with_tools("weather in Paris?", tools=[get_weather], tool_choice="required", max_tool_rounds=1)
    bodies = [post["body"] for post in router.posts()]
    assert len(bodies) == 2
    assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert "tools" not in bodies[1]


@pytest.fixture(params=["pipeline", "gguf"], scope="module")
def tiny(request: pytest.FixtureRequest, tiny_models: Any) -> Iterator[Any]:
    where = {"model": str(tiny_models.pipeline_dir)} if request.param == "pipeline" else {"model_path": str(tiny_models.gguf_f32)}
    model = create_llm("huggingface", temperature=0, max_tokens=48, **where)
    yield model
    model.unload()


@pytest.mark.parametrize("forced", ["required", "get_weather"])
def test_a_model_forced_to_call_a_tool_answers_after_one_round(tiny: Any, forced: str) -> None:
    CALLS.clear()
    session = Session(provider=tiny)
    answer = session.generate_with_tools("What is the weather in Paris?", tools=[get_weather], tool_choice=forced)
    assert CALLS == ["Paris"]
    assert str(answer) == "It is sunny and 22 degrees in Paris."
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


def test_a_cancelled_tool_loop_on_a_local_model_records_nothing_and_the_session_goes_on(tiny: Any) -> None:
    session = Session(provider=tiny)

    async def main() -> None:
        started = asyncio.Event()

        async def wait_forever(city: str) -> str:
            """Get the weather in a city."""
            started.set()
            await asyncio.get_running_loop().create_future()
            return "never"

        task = asyncio.ensure_future(
            session.generate_with_tools_async("What is the weather in Paris?", tool_functions={"get_weather": wait_forever})
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert session.messages == []
        stream = await session.generate_async("What is the capital of France?", stream=True)
        await anext(stream)
        await stream.aclose()
        assert session.messages == []

    asyncio.run(main())
    CALLS.clear()
    answer = session.generate_with_tools("What is the weather in Paris?", tools=[get_weather])
    assert str(answer) == "It is sunny and 22 degrees in Paris."
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


@pytest.mark.parametrize("rounds", [0, -1, 1.5, None, True])
def test_max_tool_rounds_must_be_a_positive_integer(session: Session, rounds: Any) -> None:
    before = snapshot(session)
    with pytest.raises(InvalidArgumentError) as caught:
        session.generate_with_tools("weather in Paris?", tools=[get_weather], max_tool_rounds=rounds)
    assert caught.value.parameter == "max_tool_rounds"
    assert snapshot(session) == before


def strict_openai_sequence(messages: list[dict[str, Any]]) -> None:
    """The message-order rule strict OpenAI-compatible servers enforce: every tool call of an assistant
    message is answered by a ``tool`` message with its id before any other message, and a ``tool``
    message answers a call still pending. Raises AssertionError naming the first breach."""
    pending: set[str] = set()
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            assert message.get("tool_call_id") in pending, f"message {index}: a tool result for no pending call: {message}"
            pending.discard(message["tool_call_id"])
            continue
        assert not pending, f"message {index} ({role}) follows tool calls that have no result: {sorted(pending)}"
        if role == "assistant":
            pending = {call["id"] for call in message.get("tool_calls") or []}
    assert not pending, f"the messages end on tool calls that have no result: {sorted(pending)}"


def test_the_strict_validator_rejects_an_unanswered_tool_call() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    asked = [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
    with pytest.raises(AssertionError, match="no result"):
        strict_openai_sequence([*asked, {"role": "user", "content": "and tomorrow?"}])
    with pytest.raises(AssertionError, match="no pending call"):
        strict_openai_sequence([*asked, {"role": "tool", "tool_call_id": "call_2", "content": "x"}])
    strict_openai_sequence([*asked, {"role": "tool", "tool_call_id": "call_1", "content": "x"}])


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_calls_made_past_the_round_limit_get_a_result_so_the_next_turn_is_valid(
    session: Session, router: Any, driver: str
) -> None:
    router.reset()
    CALLS.clear()
    before = len(session.messages)
    router.script(WEATHER_CALL, {**WEATHER_CALL, "call_anyway": True})  # the model calls again after its last round
    ask = {"tools": [get_weather], "max_tool_rounds": 1}
    if driver == "sync":
        answer = session.generate_with_tools("weather in Paris?", **ask)
    else:
        answer = asyncio.run(session.generate_with_tools_async("weather in Paris?", **ask))
    assert CALLS == ["Paris"]  # the call past the limit was not run
    assert answer.tool_calls
    assert [m.role for m in session.messages[before:]] == ["user", "assistant", "tool", "assistant", "tool"]
    last = session.messages[-1]
    assert last.tool_call_id == answer.tool_calls[0].id
    assert last.content == "error: not run: the tool loop reached its limit of 1 round(s) (max_tool_rounds)"
    assert last.metadata["error"] is True
    session.generate("and tomorrow?")
    strict_openai_sequence(router.posts()[-1]["body"]["messages"])
    assert session.messages[-2].content == "and tomorrow?"


class Unshowable:
    """A tool result that neither JSON nor repr can turn into text."""

    def __repr__(self) -> str:
        raise RuntimeError("this object has no repr")


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_tool_result_that_cannot_be_turned_into_text_is_given_as_the_tools_error(
    session: Session, router: Any, driver: str
) -> None:
    def unshowable(city: str) -> Unshowable:
        """Get the weather in a city."""
        return Unshowable()

    router.reset()
    before = snapshot(session)
    router.script(WEATHER_CALL)
    ask = {"tool_functions": {"get_weather": unshowable}}
    if driver == "sync":
        answer = session.generate_with_tools("weather in Paris?", **ask)
    else:
        answer = asyncio.run(session.generate_with_tools_async("weather in Paris?", **ask))
    assert snapshot(session)[: len(before)] == before
    new = session.messages[len(before) :]
    assert [m.role for m in new] == ["user", "assistant", "tool", "assistant"]
    assert new[2].content == (
        "error: get_weather returned a Unshowable that cannot be turned into text (RuntimeError: this object has no repr)"
    )
    assert new[2].metadata["error"] is True
    assert new[3].content == str(answer)
    sent = router.posts()[-1]["body"]["messages"]
    assert sent[-1]["role"] == "tool" and "cannot be turned into text" in sent[-1]["content"]  # the model was told
    strict_openai_sequence(sent)


def test_a_system_prompt_given_to_the_loop_holds_for_every_round(session: Session, router: Any) -> None:
    router.reset()
    router.script(WEATHER_CALL)
    session.generate_with_tools("weather in Paris?", tools=[get_weather], system_prompt="answer in French")
    systems = [[m["content"] for m in post["body"]["messages"] if m["role"] == "system"] for post in router.posts()]
    assert systems == [["answer in French"], ["answer in French"]]  # was: the session's own in the second round
    assert session.messages[0].content == "keep me"  # the history keeps the session's
