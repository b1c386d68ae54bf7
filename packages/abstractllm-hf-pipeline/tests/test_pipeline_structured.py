"""Structured output and tool calls by constrained decoding (llguidance, as in GGUF), tools through the chat template."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm._private.token_constraint import JsonConstraint
from abstractllm.errors import InvalidArgumentError, OutputParsingError
from abstractllm.testing.constrained import ConstrainedDecodingCases
from abstractllm.tools import ToolDefinition
from tinymodel import EXPECTED_TOOL_CHATS, WEATHER_TOOL

CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome", "Berlin"]},
        "country": {"type": "string", "maxLength": 10},
        "population_millions": {"type": "integer", "minimum": 0, "maximum": 99},
    },
    "required": ["city", "country", "population_millions"],
    "additionalProperties": False,
}
CITY_FORMAT = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}
BOUNDED_WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
)
TIME_TOOL = ToolDefinition(
    "get_time",
    "Get the time in a city.",
    {"type": "object", "properties": {"city": {"enum": ["Paris", "Tokyo"]}}, "required": ["city"], "additionalProperties": False},
)
SAMPLINGS = [{"temperature": 0}, {"temperature": 1.0, "seed": 3}, {"temperature": 1.5}]


class TestConstrainedDecoding(ConstrainedDecodingCases):
    """The bounds and refusals GGUF meets too (abstractllm.testing.constrained, one table for both modes)."""

    mode = "pipeline"

    @classmethod
    def llm_arguments(cls, request: pytest.FixtureRequest) -> dict[str, Any]:
        return {"model": str(request.getfixturevalue("chat_dir"))}

    def constraint(self, llm: AbstractLLMInterface, schema: dict[str, Any]) -> JsonConstraint:
        vocabulary = llm._backend._loaded.grammars._llguidance_vocabulary("response_format")  # type: ignore[attr-defined]
        return JsonConstraint.compile(vocabulary, schema, mode="pipeline", parameter="response_format")


def _text(llm: AbstractLLMInterface, stream: bool, prompt: str, **kwargs: Any) -> tuple[str, Any]:
    if not stream:
        reply = llm.generate(prompt, **kwargs)
        return str(reply), reply
    chunks = list(llm.generate(prompt, stream=True, **kwargs))
    return "".join(chunks), chunks[-1]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("prompt", ["Give me the capital of Italy as JSON.", "Hello!", "zq"])
def test_json_schema_replies_validate(llm: AbstractLLMInterface, prompt: str, sampling: dict, stream: bool) -> None:
    text, last = _text(llm, stream, prompt, response_format=CITY_FORMAT, max_tokens=60, **sampling)
    assert last.finish_reason == "stop"
    jsonschema.validate(json.loads(text), CITY)


def test_json_object_and_pydantic_like_classes(llm: AbstractLLMInterface) -> None:
    reply = llm.generate("Describe Alice as JSON.", response_format={"type": "json_object"}, temperature=0, max_tokens=40)
    assert reply.parsed == {"name": "Alice", "age": 30}  # the trained answer, now guaranteed to be JSON

    class City:
        @classmethod
        def model_json_schema(cls) -> dict:
            return CITY

    jsonschema.validate(llm.generate("zq", response_format=City, temperature=0, max_tokens=60).parsed, CITY)


def test_reply_cut_by_max_tokens_says_so(llm: AbstractLLMInterface) -> None:
    reply = llm.generate("Hello!", response_format=CITY_FORMAT, temperature=0, max_tokens=4)
    assert reply.finish_reason == "length"
    with pytest.raises(OutputParsingError, match="max_tokens"):
        _ = reply.parsed


def test_grammar_is_compiled_once_per_schema(llm: AbstractLLMInterface) -> None:
    grammars = llm.backend.loaded.grammars
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}}, "required": ["n"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    before = grammars.compiles
    for _ in range(3):
        llm.generate("zq", response_format=fmt, temperature=0, max_tokens=20)
    assert grammars.compiles == before + 1


def test_unsupported_schema_is_an_invalid_argument(llm: AbstractLLMInterface) -> None:
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "bad", "schema": {"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}}},
    }
    with pytest.raises(InvalidArgumentError) as caught:
        llm.generate("zq", response_format=fmt, temperature=0, max_tokens=8)
    assert caught.value.parameter == "response_format"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_named_tool_choice_forces_a_valid_call(llm: AbstractLLMInterface, sampling: dict, stream: bool) -> None:
    text, last = _text(
        llm, stream, "Hello!", tools=[BOUNDED_WEATHER, TIME_TOOL], tool_choice="get_weather", max_tokens=80, **sampling
    )
    assert last.finish_reason == "tool_calls" and text == ""
    (call,) = last.tool_calls
    assert call.name == "get_weather" and call.error is None
    jsonschema.validate(call.arguments, BOUNDED_WEATHER.input_schema)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_required_tool_choice_calls_one_of_the_tools(llm: AbstractLLMInterface, sampling: dict) -> None:
    reply = llm.generate("zq", tools=[BOUNDED_WEATHER, TIME_TOOL], tool_choice="required", max_tokens=80, **sampling)
    (call,) = reply.tool_calls
    tool = {t.name: t for t in (BOUNDED_WEATHER, TIME_TOOL)}[call.name]
    jsonschema.validate(call.arguments, tool.input_schema)


def test_auto_tool_call_is_parsed_from_the_model_output(llm: AbstractLLMInterface) -> None:
    messages, tools, expected = EXPECTED_TOOL_CHATS[0]
    for stream in (False, True):
        text, last = _text(llm, stream, messages[0]["content"], tools=tools, temperature=0, max_tokens=60)
        assert text == "" and last.finish_reason == "tool_calls"
        assert [(c.name, c.arguments) for c in last.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert expected.startswith("<tool_call>")  # the model said it in the documented fallback format


def test_tool_choice_none_keeps_tools_out(llm: AbstractLLMInterface) -> None:
    with_tools = llm.generate("What is the weather in Paris?", tools=[WEATHER_TOOL], temperature=0, max_tokens=40)
    without = llm.generate(
        "What is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice="none", temperature=0, max_tokens=40
    )
    assert without.usage.prompt_tokens < with_tools.usage.prompt_tokens
    assert without.tool_calls == [] and "<tool_call>" not in str(without)


def test_tool_results_continue_the_conversation(llm: AbstractLLMInterface) -> None:
    messages, tools, expected = EXPECTED_TOOL_CHATS[1]
    reply = llm.generate(messages, tools=tools, temperature=0, max_tokens=40)
    assert str(reply) == expected and reply.finish_reason == "stop"


def test_response_template_is_read_with_parse_response(chat_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(chat_dir, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["response_template"] = {
        "start_anchor": "<|im_start|>assistant\n",
        "fields": {
            "content": {"content": "text"},
            "tool_calls": {
                "open": "[CALL]",
                "close": "[/CALL]",
                "content": "json",
                "repeats": True,
                "transform": {"type": "function", "function": "{content}"},
            },
        },
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    llm = create_llm("huggingface", model=str(folder))
    try:
        raw = llm.generate("Hello!", tools=[TIME_TOOL], tool_choice="get_time", temperature=0, max_tokens=40)
        assert [(c.name, c.error) for c in raw.tool_calls] == [("get_time", None)]
        assert raw.tool_calls[0].arguments["city"] in ("Paris", "Tokyo")
        assert llm.backend.loaded.batcher._engine.tools_for(llm.backend._output).markup.open == "[CALL]"
    finally:
        llm.unload()


def test_capabilities_claim_structured_output_and_tools(llm: AbstractLLMInterface, plain_llm: AbstractLLMInterface) -> None:
    caps = llm.get_capabilities()
    assert caps["supports_json_mode"] and caps["supports_structured_output"]
    assert caps["supports_tool_use"] and caps["supports_function_calling"]
    assert plain_llm.get_capabilities()["supports_json_mode"]
    assert caps["tool_rendering"] == "native"  # the tiny model's template renders tools
    plain = plain_llm.get_capabilities()
    assert plain["supports_tool_use"] and plain["tool_rendering"] == "prompted"  # no template: the fallback format


def test_a_forced_call_works_without_a_chat_template(plain_llm: AbstractLLMInterface) -> None:
    """The prompted fallback: the tools are described in the prompt and the call is forced by grammar."""
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}}, "required": ["city"]},
        },
    }
    reply = plain_llm.generate("What is the weather in Paris?", tools=[tool], tool_choice="required", max_tokens=40)
    assert reply.finish_reason == "tool_calls"
    assert [call.name for call in reply.tool_calls] == ["lookup"]
    assert isinstance(reply.tool_calls[0].arguments["city"], str)
