"""Structured output and tools through constrained decoding (llguidance, as in the pipeline mode) and the GGUF chat template."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm._private.structured import ResponseFormat
from abstractllm._private.token_constraint import JsonConstraint
from abstractllm.errors import OutputParsingError
from abstractllm.testing.constrained import ConstrainedDecodingCases
from abstractllm.tools import ToolDefinition
from abstractllm_hf_gguf.grammars import response_grammar
from tinymodel import EXPECTED_TOOL_CHATS, WEATHER_TOOL

CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Berlin", "Rome"]},
        "country": {"type": "string", "maxLength": 12},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "capital", "schema": CITY}}
SAMPLED = [
    {"temperature": 0},
    {"temperature": 1.5, "seed": 1},
    {"temperature": 1.5, "seed": 2},
    {"temperature": 1.0, "top_k": 5, "seed": 3},
]


class TestConstrainedDecoding(ConstrainedDecodingCases):
    """The bounds and refusals the pipeline mode meets too (abstractllm.testing.constrained, one table for both modes)."""

    mode = "gguf"

    @classmethod
    def llm_arguments(cls, request: pytest.FixtureRequest) -> dict[str, Any]:
        return {"model_path": str(request.getfixturevalue("gguf_f32"))}

    def constraint(self, llm: AbstractLLMInterface, schema: dict[str, Any]) -> JsonConstraint:
        return response_grammar(llm._backend.model, ResponseFormat("json_schema", schema))  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings", SAMPLED)
def test_json_schema_replies_validate_streamed_and_not(llm: AbstractLLMInterface, settings: dict) -> None:
    response = llm.generate("Give me the capital of Italy as JSON.", response_format=FORMAT, max_tokens=48, **settings)
    jsonschema.validate(json.loads(str(response)), CITY)
    assert response.parsed == json.loads(str(response)) and response.finish_reason == "stop"
    streamed = "".join(
        llm.generate("Give me the capital of Italy as JSON.", response_format=FORMAT, max_tokens=48, stream=True, **settings)
    )
    jsonschema.validate(json.loads(streamed), CITY)
    if "seed" in settings or settings["temperature"] == 0:
        assert streamed == str(response)


def test_the_grammar_really_constrains(llm: AbstractLLMInterface) -> None:
    free = str(llm.generate("Describe Alice as JSON.", temperature=0))
    assert free == '{"name": "Alice", "age": 30}'
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(free), CITY)
    constrained = llm.generate("Describe Alice as JSON.", temperature=0, response_format=FORMAT, max_tokens=48)
    jsonschema.validate(constrained.parsed, CITY)


def test_json_object_and_pydantic_style_classes(llm: AbstractLLMInterface) -> None:
    response = llm.generate(
        "What is the capital of France?",
        system_prompt="Answer in JSON.",
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=48,
    )
    assert isinstance(response.parsed, dict) and response.parsed == json.loads(str(response))

    class Capital:
        @classmethod
        def model_json_schema(cls) -> dict:
            return CITY

    jsonschema.validate(
        llm.generate("Give me the capital of Italy as JSON.", response_format=Capital, temperature=0, max_tokens=48).parsed, CITY
    )


def test_a_reply_cut_by_max_tokens_says_so(llm: AbstractLLMInterface) -> None:
    response = llm.generate("Give me the capital of Italy as JSON.", response_format=FORMAT, temperature=0, max_tokens=3)
    assert response.finish_reason == "length"
    with pytest.raises(OutputParsingError, match="max_tokens"):
        response.parsed


def test_a_raw_gbnf_grammar_constrains(llm: AbstractLLMInterface) -> None:
    grammar = 'root ::= ("yes" | "no") "."'
    for settings in ({"temperature": 0}, {"temperature": 2.0, "seed": 4}):
        assert str(llm.generate("Hello!", grammar=grammar, max_tokens=8, **settings)) in ("yes.", "no.")


# -- tools ---------------------------------------------------------------------------------------

WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather in a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "enum": ["Paris", "Berlin", "Rome"]},
            "unit": {"type": "string", "enum": ["C", "F"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
)
TIME = ToolDefinition(
    "get_time",
    "Get the time in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 10}},
        "required": ["city"],
        "additionalProperties": False,
    },
)


def test_auto_tool_call_through_the_template_is_parsed(llm: AbstractLLMInterface) -> None:
    messages, tools, expected = EXPECTED_TOOL_CHATS[0]
    response = llm.generate(messages, tools=tools, temperature=0, max_tokens=64)
    assert str(response) == "" and response.finish_reason == "tool_calls"
    call = json.loads(expected.removeprefix("<tool_call>").removesuffix("</tool_call>"))
    assert [(c.name, c.arguments, c.error) for c in response.tool_calls] == [(call["name"], call["arguments"], None)]
    chunks = list(llm.generate(messages, tools=tools, temperature=0, max_tokens=64, stream=True))
    assert "".join(chunks) == "" and chunks[-1].finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in chunks[-1].tool_calls] == [(call["name"], call["arguments"])]


def test_tool_results_continue_the_conversation(llm: AbstractLLMInterface) -> None:
    messages, tools, expected = EXPECTED_TOOL_CHATS[1]
    assert str(llm.generate(messages, tools=tools, temperature=0, max_tokens=64)) == expected
    first = llm.generate(EXPECTED_TOOL_CHATS[0][0], tools=[WEATHER_TOOL], temperature=0, max_tokens=64)
    follow_up = [
        *EXPECTED_TOOL_CHATS[0][0],
        {"role": "assistant", "content": "", "tool_calls": [c.to_openai() for c in first.tool_calls]},
        {
            "role": "tool",
            "tool_call_id": first.tool_calls[0].id,
            "name": "get_weather",
            "content": '{"temperature": 22, "sky": "sunny"}',
        },
    ]
    assert str(llm.generate(follow_up, tools=[WEATHER_TOOL], temperature=0, max_tokens=64)) == expected


@pytest.mark.parametrize("settings", SAMPLED)
@pytest.mark.parametrize("choice", ["get_weather", "get_time", "required"])
def test_forced_tool_calls_validate(llm: AbstractLLMInterface, settings: dict, choice: str) -> None:
    tools = [WEATHER, TIME]
    schemas = {tool.name: tool.input_schema for tool in tools}
    response = llm.generate("Hello!", tools=tools, tool_choice=choice, max_tokens=64, **settings)
    assert response.finish_reason == "tool_calls" and len(response.tool_calls) == 1
    call = response.tool_calls[0]
    assert call.error is None and (choice == "required" or call.name == choice)
    jsonschema.validate(call.arguments, schemas[call.name])
    chunks = list(llm.generate("Hello!", tools=tools, tool_choice=choice, max_tokens=64, stream=True, **settings))
    final = chunks[-1]
    assert final.finish_reason == "tool_calls" and len(final.tool_calls) == 1
    jsonschema.validate(final.tool_calls[0].arguments, schemas[final.tool_calls[0].name])
    if "seed" in settings or settings["temperature"] == 0:
        assert (final.tool_calls[0].name, final.tool_calls[0].arguments) == (call.name, call.arguments)


def test_tool_functions_run_from_the_response(llm: AbstractLLMInterface) -> None:
    def get_weather(city: str, unit: str) -> str:
        return f"22 {unit} in {city}"

    response = llm.generate(
        "What is the weather in Paris?", tools=[WEATHER], tool_choice="get_weather", temperature=0, max_tokens=64
    )
    [result] = response.execute_tool_calls({"get_weather": get_weather})
    assert result["output"] == f"22 {response.tool_calls[0].arguments['unit']} in {response.tool_calls[0].arguments['city']}"


def test_tool_choice_none_offers_no_tools(llm: AbstractLLMInterface) -> None:
    with_tools = llm.generate("What is the weather in Paris?", tools=[WEATHER_TOOL], temperature=0, max_tokens=64)
    without = llm.generate(
        "What is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice="none", temperature=0, max_tokens=64
    )
    assert without.usage.prompt_tokens < with_tools.usage.prompt_tokens
    assert without.tool_calls == []


@pytest.mark.parametrize(
    ("body", "name", "problem"),
    [
        ('{"name": "launch_rockets", "arguments": {}}', "launch_rockets", "unknown tool"),
        ('{"name": "get_weather", "arguments": {"city": "Oslo"}}', "get_weather", "invalid arguments"),
        ('{"name": "get_weather", "arguments": {broken', "get_weather", "not valid JSON"),
    ],
)
def test_bad_tool_calls_are_reported_not_dropped(llm: AbstractLLMInterface, body: str, name: str, problem: str) -> None:
    grammar = "root ::= " + json.dumps("Sure. <tool_call>" + body + "</tool_call>")
    for stream in (False, True):
        if stream:
            chunks = list(llm.generate("Hello!", tools=[WEATHER], grammar=grammar, temperature=0, max_tokens=64, stream=True))
            text, calls = "".join(chunks), chunks[-1].tool_calls
        else:
            response = llm.generate("Hello!", tools=[WEATHER], grammar=grammar, temperature=0, max_tokens=64)
            text, calls = str(response), response.tool_calls
        assert text == "Sure. "
        assert len(calls) == 1 and calls[0].name == name and problem in (calls[0].error or "")
