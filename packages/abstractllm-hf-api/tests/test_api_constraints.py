"""A server that ignores a forced tool choice or a response format (as `transformers serve`
does) is named at the call, with what to do; a reply cut by max_tokens is still blamed on it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import OutputParsingError, UnsupportedFeatureError

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def endpoint(fake: Any) -> Any:
    return create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)


def call(llm: Any, how: str, **options: Any) -> Any:
    options = {"temperature": 0, "max_tokens": 8, **options}
    if how == "sync":
        return llm.generate("hi", **options)
    if how == "stream":
        return "".join(str(chunk) for chunk in llm.generate("hi", stream=True, **options))
    return asyncio.run(llm.generate_async("hi", **options))


HOWS = ["sync", "stream", "async"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("choice", ["required", "get_weather"])
def test_a_forced_tool_choice_without_a_call_is_named(fake: Any, how: str, choice: str) -> None:
    llm = endpoint(fake)
    fake.script({"ignore_constraints": True})
    with pytest.raises(UnsupportedFeatureError) as caught:
        call(llm, how, tools=[get_weather], tool_choice=choice)
    message = str(caught.value)
    assert caught.value.feature == "tool_choice"
    assert f"ignored tool_choice={choice!r}" in message and "no tool call" in message and "tool_choice='auto'" in message
    reply = call(llm, how, tools=[get_weather], tool_choice=choice)  # a server that honours it: no error
    if how != "stream":
        assert reply.tool_calls[0].name == "get_weather"


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("response_format", [JSON_SCHEMA, {"type": "json_object"}], ids=["json_schema", "json_object"])
def test_a_structured_reply_that_does_not_validate_is_named(fake: Any, how: str, response_format: dict[str, Any]) -> None:
    llm = endpoint(fake)
    fake.script({"ignore_constraints": True})
    with pytest.raises(UnsupportedFeatureError) as caught:
        call(llm, how, response_format=response_format)
    message = str(caught.value)
    assert caught.value.feature == "response_format"
    assert "ignored response_format" in message and "drop response_format" in message and "max_tokens" not in message
    assert call(llm, how, response_format=response_format)  # honoured: no error


def _reply(text: str, finish: str) -> dict[str, Any]:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]}
    return {"reply": {"body": json.dumps(body)}}


def test_free_text_cut_by_max_tokens_is_the_servers_fault_not_max_tokens(fake: Any) -> None:
    llm = endpoint(fake)
    fake.script(_reply("Sure! Here is a person who", "length"))
    with pytest.raises(UnsupportedFeatureError, match="ignored response_format"):
        llm.generate("hi", response_format=JSON_SCHEMA, max_tokens=8)


def test_json_cut_by_max_tokens_is_left_to_parsed_which_blames_max_tokens(fake: Any) -> None:
    llm = endpoint(fake)
    fake.script(_reply('{"name": "Ada", "ag', "length"))
    reply = llm.generate("hi", response_format=JSON_SCHEMA, max_tokens=8)
    with pytest.raises(OutputParsingError, match="max_tokens"):
        _ = reply.parsed


def test_a_complete_reply_that_breaks_the_schema_is_named(fake: Any) -> None:
    llm = endpoint(fake)
    fake.script(_reply('{"name": "Ada"}', "stop"))
    with pytest.raises(UnsupportedFeatureError, match=r"ignored response_format.*age"):
        llm.generate("hi", response_format=JSON_SCHEMA, max_tokens=8)


def test_auto_tool_choice_may_answer_in_text(fake: Any) -> None:
    llm = endpoint(fake)
    fake.script({"ignore_constraints": True})
    assert str(llm.generate("hi", tools=[get_weather], tool_choice="auto", max_tokens=8))


@pytest.mark.parametrize("how", ["sync", "async"])  # streams: packages/abstractllm-core/tests/test_core_reply_check.py
def test_a_finished_reply_is_never_a_success_the_schema_rejects(fake: Any, how: str) -> None:
    """Core's last-line check (abstractllm._private.reply_check): JSON the schema accepts but a
    number JSON cannot hold (1E400 reads as infinity) is an error."""
    llm = endpoint(fake)
    schema = {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    fake.script(_reply('{"n": 1E400}', "stop"))
    with pytest.raises(OutputParsingError, match="beyond a double's range") as caught:
        call(llm, how, response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert caught.value.details["text"] == '{"n": 1E400}' and caught.value.mode == "endpoint"
    fake.script(_reply('{"n": 1E4}', "stop"))
    assert call(llm, how, response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
