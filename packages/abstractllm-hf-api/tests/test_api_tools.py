"""Issue 9, API part: tools, tool_choice and response_format on the wire; tool calls back; the full loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import UnsupportedFeatureError
from abstractllm.session import Session


def validate(value: Any, schema: dict[str, Any]) -> None:
    """``jsonschema.validate`` (the tests that check a reply this way skip without jsonschema)."""
    jsonschema = pytest.importorskip("jsonschema", reason="checking a structured reply needs jsonschema")
    jsonschema.validate(value, schema)


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
CALLS: list[dict[str, Any]] = []


def get_weather(city: str, unit: str = "C") -> str:
    """Current weather of a city.

    Args:
        city: The city.
        unit: C or F.
    """
    CALLS.append({"city": city, "unit": unit})
    return f"sunny, 21 {unit} in {city}"


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"noon in {city}"


def endpoint(fake: Any, **options: Any) -> Any:
    return create_llm("huggingface", inference_api_url=fake.url, protocol="openai", **options)


def test_tools_and_tool_choice_on_the_wire(fake: Any) -> None:
    llm = endpoint(fake)
    for choice, wire in [
        ("auto", "auto"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ]:
        llm.generate("weather?", tools=[get_weather, get_time], tool_choice=choice, max_tokens=4)
        body = fake.posts()[-1]["body"]
        assert body["tool_choice"] == wire
        assert body["tools"][0]["function"]["name"] == "get_weather"
        assert body["tools"][0]["function"]["parameters"]["required"] == ["city"]
    # "required" over one tool is the same demand as naming it: sent in the form servers enforce
    llm.generate("weather?", tools=[get_weather], tool_choice="required", max_tokens=4)
    assert fake.posts()[-1]["body"]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    llm.generate("weather?", tools=[get_weather], tool_choice="none", max_tokens=4)
    assert "tools" not in fake.posts()[-1]["body"]


def test_tool_calls_come_back(fake: Any) -> None:
    fake.script({"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    response = endpoint(fake).generate("weather?", tools=[get_weather], max_tokens=8)
    assert response.finish_reason == "tool_calls" and response.has_tool_calls()
    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments, call.error) == ("call_0", "get_weather", {"city": "Paris"}, None)


def test_invalid_and_unknown_calls_are_reported(fake: Any) -> None:
    fake.script({"tool_call": [{"name": "get_weather", "arguments": {"town": "Paris"}}, {"name": "rm_rf", "arguments": {}}]})
    response = endpoint(fake).generate("weather?", tools=[get_weather], max_tokens=8)
    bad, unknown = response.tool_calls
    assert bad.error and "city" in bad.error
    assert unknown.error and "unknown tool" in unknown.error
    assert all("error" in result for result in response.execute_tool_calls({"get_weather": get_weather}))


def test_streamed_tool_call_deltas_are_assembled(fake: Any) -> None:
    fake.script(
        {
            "tool_call": [
                {"name": "get_weather", "arguments": {"city": "Rome", "unit": "F"}},
                {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
            ]
        }
    )
    chunks = list(endpoint(fake).generate("weather?", tools=[get_weather], stream=True, max_tokens=8))
    last = chunks[-1]
    assert last.finish_reason == "tool_calls"
    assert [(call.id, call.arguments) for call in last.tool_calls] == [
        ("call_0", {"city": "Rome", "unit": "F"}),
        ("call_1", {"city": "Paris", "unit": "C"}),
    ]


async def test_streamed_tool_calls_async(fake: Any) -> None:
    fake.script({"tool_call": {"name": "get_weather", "arguments": {"city": "Rome"}}})
    stream = await endpoint(fake).generate_async("weather?", tools=[get_weather], stream=True, max_tokens=8)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].tool_calls[0].arguments == {"city": "Rome"}


def test_server_rejecting_tools_is_unsupported_feature(fake: Any) -> None:
    fake.script({"reject_tools": True})
    with pytest.raises(UnsupportedFeatureError, match="does not support tools") as caught:
        endpoint(fake).generate("weather?", tools=[get_weather], max_tokens=8)
    assert caught.value.feature == "tools"
    assert "This model does not support tools (function calling)." in str(caught.value)


def test_tgi_native_cannot_call_tools(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="tgi")
    with pytest.raises(UnsupportedFeatureError):
        llm.generate("weather?", tools=[get_weather])
    assert fake.received == []


def test_full_tool_loop_with_a_session(fake: Any, tmp_path: Path) -> None:
    CALLS.clear()
    fake.script({"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}})
    session = Session(provider=endpoint(fake))
    answer = session.generate_with_tools("What is the weather in Paris?", tools=[get_weather], max_tokens=16)
    assert CALLS == [{"city": "Paris", "unit": "C"}]
    second = fake.posts()[1]["body"]["messages"]
    assert second[-1] == {"role": "tool", "content": "sunny, 21 C in Paris", "tool_call_id": "call_0", "name": "get_weather"}
    assert second[-2]["tool_calls"][0]["id"] == "call_0"
    assert "sunny, 21 C in Paris" in str(answer)
    session.save(tmp_path / "session.json")
    loaded = Session.load(tmp_path / "session.json")
    assert [m.to_dict() for m in loaded.messages] == [m.to_dict() for m in session.messages]
    assert [m.role for m in loaded.messages] == ["user", "assistant", "tool", "assistant"]


async def test_full_tool_loop_async(fake: Any) -> None:
    CALLS.clear()
    fake.script({"tool_call": {"name": "get_weather", "arguments": {"city": "Rome", "unit": "F"}}})
    session = Session(provider=endpoint(fake))
    answer = await session.generate_with_tools_async("Weather in Rome?", tools=[get_weather], max_tokens=16)
    assert CALLS == [{"city": "Rome", "unit": "F"}] and "21 F in Rome" in str(answer)


# -- structured output ---------------------------------------------------------------------------


def test_response_format_openai_shape(fake: Any) -> None:
    response = endpoint(fake).generate(
        "yes?", response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": ANSWER_SCHEMA}}, max_tokens=16
    )
    assert fake.posts()[0]["body"]["response_format"]["type"] == "json_schema"
    validate(response.parsed, ANSWER_SCHEMA)


def test_response_format_falls_back_to_the_servers_spelling_once(fake: Any) -> None:
    fake.reject_json_schema = True
    llm = endpoint(fake)
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": ANSWER_SCHEMA}}
    assert llm.generate("yes?", response_format=fmt, max_tokens=16).parsed == {"answer": "yes"}
    assert llm.generate("yes?", response_format=fmt, max_tokens=16).parsed == {"answer": "yes"}
    sent = [post["body"]["response_format"] for post in fake.posts()]
    assert [entry["type"] for entry in sent] == ["json_schema", "json_object", "json_object"]
    assert sent[1]["schema"] == ANSWER_SCHEMA


def test_tgi_grammar(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="tgi")
    fmt = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER_SCHEMA}}
    response = llm.generate("weather as JSON", response_format=fmt, max_tokens=32)
    assert fake.posts()[0]["body"]["parameters"]["grammar"] == {"type": "json", "value": WEATHER_SCHEMA}
    validate(response.parsed, WEATHER_SCHEMA)
    streamed = "".join(llm.generate("weather as JSON", response_format=fmt, max_tokens=32, stream=True))
    validate(json.loads(streamed), WEATHER_SCHEMA)


def test_router_passes_tools_and_response_format(fake: Any) -> None:
    llm = create_llm("huggingface", model="org/m", use_inference_api=True, api_key="hf_x", api_base_url=fake.url)
    fake.script({"tool_call": {"name": "get_weather", "arguments": {"city": "Rome", "unit": "C"}}})
    reply = llm.generate("weather?", tools=[get_weather, get_time], tool_choice="required", max_tokens=8)
    assert reply.tool_calls[0].name == "get_weather"
    assert fake.posts()[0]["body"]["tool_choice"] == "required"
    assert llm.generate("yes?", response_format={"type": "json_object"}, max_tokens=8).parsed == {}


# -- against the real llama.cpp server -------------------------------------------------------------


@pytest.fixture(scope="module")
def llama(llama_server: str) -> Any:
    model = create_llm("huggingface", inference_api_url=llama_server, max_retries=0)
    yield model
    model.unload()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("temperature", [0, 0.9])
def test_llama_cpp_named_tool_choice_gives_valid_arguments(llama: Any, stream: bool, temperature: float) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": WEATHER_SCHEMA}}
    kwargs = {"tools": [tool], "tool_choice": "get_weather", "temperature": temperature, "seed": 1, "max_tokens": 48}
    if not stream:
        response = llama.generate("What is the weather in Paris?", **kwargs)
        (call,) = response.tool_calls
    else:
        chunks = list(llama.generate("What is the weather in Paris?", stream=True, **kwargs))
        (call,) = chunks[-1].tool_calls
    assert call.name == "get_weather" and call.error is None
    validate(call.arguments, WEATHER_SCHEMA)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("temperature", [0, 0.9])
def test_llama_cpp_json_schema_output_validates(llama: Any, stream: bool, temperature: float) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER_SCHEMA}}
    kwargs = {"response_format": fmt, "temperature": temperature, "seed": 2, "max_tokens": 48}
    if stream:
        text = "".join(llama.generate("Weather as JSON.", stream=True, **kwargs))
        validate(json.loads(text), WEATHER_SCHEMA)
    else:
        validate(llama.generate("Weather as JSON.", **kwargs).parsed, WEATHER_SCHEMA)
