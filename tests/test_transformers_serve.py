"""The endpoint mode against HF's own OpenAI-compatible server, ``transformers serve`` (CPU, offline).

The server accepts ``tools``, ``tool_choice`` and ``response_format`` and ignores the last two
(it logs "Ignoring unsupported fields"). A reply that shows it ignored them must not pass as a
success: the call raises ``UnsupportedFeatureError`` saying so and what to do. Plain chat and
streams work as on any server. Served: the tiny model (fast, its answers are known) and the
real model (SmolLM2-135M-Instruct's transformers folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("numpy", reason="the tiny models (tinymodel) need numpy and torch")

from abstractllm import create_llm
from abstractllm.errors import OutputParsingError, UnsupportedFeatureError
from abstractllm.session import Session
from tinymodel import EXPECTED_CHATS

pytestmark = pytest.mark.slow

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


def _causes(error: BaseException) -> list[BaseException]:
    """``error``'s ``__cause__`` chain, stopping where it loops back."""
    chain: list[BaseException] = []
    cause = error.__cause__
    while cause is not None and all(cause is not seen for seen in (error, *chain)):
        chain.append(cause)
        cause = cause.__cause__
    return chain


def _served(model_dir: Any, log: Any) -> Iterator[Any]:
    from tinymodel.transformers_serve import serve_unavailable, transformers_serve

    reason = serve_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with transformers_serve(model_dir, log=log) as url:
        model = create_llm("huggingface", inference_api_url=url, protocol="openai", temperature=0, max_tokens=24, max_retries=0)
        yield model
        model.unload()


@pytest.fixture(scope="module")
def llm(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``transformers serve`` on the tiny model (ChatML template)."""
    yield from _served(tiny_models.pipeline_dir, tmp_path_factory.mktemp("transformers-serve") / "server.log")


@pytest.fixture(scope="module")
def real(real_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``transformers serve`` on the real model's transformers folder."""
    yield from _served(real_model.pipeline_dir, tmp_path_factory.mktemp("transformers-serve-real") / "server.log")


@pytest.mark.parametrize(("messages", "expected"), EXPECTED_CHATS[:3])
def test_plain_chat_gives_the_tiny_models_answer(llm: Any, messages: list[dict[str, str]], expected: str) -> None:
    reply = llm.generate(messages)
    assert (str(reply), reply.finish_reason) == (expected, "stop")
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


def test_a_stream_joins_to_the_reply(llm: Any) -> None:
    messages, expected = EXPECTED_CHATS[3]
    chunks = list(llm.generate(messages, stream=True))
    # Text chunks, then the final one. How many: transformers serve sends one event per piece when its
    # reader keeps up, and joins the texts queued meanwhile into one event when it fell behind (its
    # read_queue_outputs says so), as on a loaded machine: CI once got the whole reply in one event.
    assert len(chunks) >= 2 and all(str(chunk) for chunk in chunks[:-1]), chunks
    assert "".join(chunks) == expected
    assert chunks[-1].finish_reason == "stop"


@pytest.mark.parametrize("choice", ["required", "get_weather"])
def test_an_ignored_forced_tool_choice_raises_at_the_call(llm: Any, choice: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        llm.generate("Hello!", tools=[get_weather], tool_choice=choice)
    error = caught.value
    assert error.feature == "tool_choice"
    assert f"ignored tool_choice={choice!r}" in str(error) and "no tool call" in str(error)
    assert "tool_choice='auto'" in str(error)  # what to do instead
    assert error.details["finish_reason"] == "stop"
    assert "max_tokens" not in str(error)  # the reply ended by itself: its length is not the cause
    assert str(llm.generate("Hello!")) == "Hello! How can I help you today?"  # the model still works


def test_an_ignored_forced_tool_choice_in_a_stream_raises(llm: Any) -> None:
    stream = llm.generate("Hello!", tools=[get_weather], tool_choice="required", stream=True)
    with pytest.raises(UnsupportedFeatureError, match="ignored tool_choice='required'"):
        for _ in stream:
            pass


def test_a_tool_loop_whose_forced_call_is_ignored_raises_and_keeps_the_history(llm: Any) -> None:
    session = Session(provider=llm)
    with pytest.raises(UnsupportedFeatureError, match="ignored tool_choice='required'"):
        session.generate_with_tools("Hello!", tools=[get_weather], tool_choice="required", max_tool_rounds=2)
    assert [message.role for message in session.messages] == []
    assert str(session.generate("Hello!")) == "Hello! How can I help you today?"
    assert [message.role for message in session.messages] == ["user", "assistant"]


def test_a_call_the_server_leaves_as_text_is_read_on_this_side(llm: Any) -> None:
    """The server gives the template the tools, but reads calls back only for models whose
    tokenizer declares a response schema; the tiny model's ``<tool_call>`` blocks come back as
    text, and the client reads them by the rule of every mode (the same reply as streamed)."""
    reply = llm.generate("What is the weather in Paris?", tools=[get_weather], tool_choice="auto", max_tokens=60)
    assert reply.finish_reason == "tool_calls"
    assert [call.name for call in reply.tool_calls] == ["get_weather"]
    assert "<tool_call>" not in str(reply)
    chunks = list(llm.generate("What is the weather in Paris?", tools=[get_weather], stream=True, max_tokens=60))
    assert "".join(chunks) == str(reply) and chunks[-1].finish_reason == "tool_calls"
    assert [(call.name, call.arguments) for call in chunks[-1].tool_calls] == [
        (call.name, call.arguments) for call in reply.tool_calls
    ]


@pytest.mark.parametrize("response_format", [JSON_SCHEMA, {"type": "json_object"}], ids=["json_schema", "json_object"])
def test_an_ignored_response_format_raises_at_the_call(llm: Any, response_format: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        llm.generate("What is the capital of France?", response_format=response_format, max_tokens=60)
    error = caught.value
    assert error.feature == "response_format"
    assert f"ignored response_format ({response_format['type']})" in str(error)
    assert "drop response_format" in str(error)
    assert error.details["finish_reason"] == "stop"
    assert "max_tokens" not in str(error)
    assert isinstance(error.original_exception, OutputParsingError)  # what did not parse


def test_an_ignored_response_format_keeps_what_did_not_parse_as_its_cause(llm: Any) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        llm.generate("What is the capital of France?", response_format={"type": "json_object"}, max_tokens=60)
    assert caught.value.__cause__ is not caught.value
    assert any(isinstance(cause, OutputParsingError) for cause in _causes(caught.value))


def test_json_that_ended_but_breaks_the_schema_is_not_blamed_on_max_tokens(llm: Any) -> None:
    """The tiny model writes JSON-looking text for this prompt and stops; it does not parse."""
    with pytest.raises(UnsupportedFeatureError) as caught:
        llm.generate("Describe a person called Ann as JSON.", response_format=JSON_SCHEMA, max_tokens=60)
    assert caught.value.details["finish_reason"] == "stop"
    assert caught.value.details["reply_start"].startswith("{")
    assert "max_tokens" not in str(caught.value)


def test_json_cut_by_max_tokens_is_left_for_parsed_which_names_the_cause(llm: Any) -> None:
    reply = llm.generate("Describe a person called Ann as JSON.", response_format=JSON_SCHEMA, max_tokens=12)
    assert reply.finish_reason == "length" and str(reply).startswith("{")
    with pytest.raises(OutputParsingError, match="max_tokens"):
        reply.parsed


@pytest.mark.real_model
def test_the_real_model_chats_and_an_ignored_required_raises(real: Any) -> None:
    reply = real.generate("What is the capital of France?", max_tokens=12)
    assert reply.finish_reason == "stop" and "Paris" in str(reply)
    with pytest.raises(UnsupportedFeatureError, match="ignored tool_choice='required'"):
        real.generate("What is the capital of France?", tools=[get_weather], tool_choice="required", max_tokens=12)
