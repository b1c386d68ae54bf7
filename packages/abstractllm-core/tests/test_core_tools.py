from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

import pytest

from abstractllm._private.json_schema import schema_errors
from abstractllm._private.plugins import get_plugins
from abstractllm._private.structured import normalize_response_format, parse_structured
from abstractllm._private.tool_hooks import ToolCallContext, run_tool_calls, run_tool_calls_async
from abstractllm.errors import InvalidArgumentError, OutputParsingError
from abstractllm.hookspecs import hookimpl
from abstractllm.tools import ToolCall, ToolDefinition, check_tool_calls, normalize_tool_choice, normalize_tools


def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int | None = None) -> str:
    """Current weather for a city.

    Args:
        city: The city name.
        unit: Temperature unit.
    """
    return f"{city}: 21{unit}"


def test_schema_from_a_function() -> None:
    definition = ToolDefinition.from_function(get_weather)
    assert definition.name == "get_weather"
    assert definition.description == "Current weather for a city."
    schema = definition.input_schema
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"type": "string", "description": "The city name."}
    assert schema["properties"]["unit"]["enum"] == ["c", "f"]
    assert schema["properties"]["days"] == {"type": "integer", "default": None}
    assert definition.to_openai()["function"]["parameters"] == schema


def test_tools_in_every_accepted_shape() -> None:
    openai = {"type": "function", "function": {"name": "lookup", "description": "d", "parameters": {"type": "object"}}}
    tools = normalize_tools([get_weather, openai, ToolDefinition("x", "y")])
    assert [t.name for t in tools] == ["get_weather", "lookup", "x"]
    with pytest.raises(InvalidArgumentError, match="unique"):
        normalize_tools([get_weather, get_weather])
    with pytest.raises(InvalidArgumentError) as caught:
        normalize_tools([42])
    assert caught.value.parameter == "tools"


def test_tool_choice() -> None:
    tools = normalize_tools([get_weather])
    assert normalize_tool_choice(None, tools) == "auto"
    assert normalize_tool_choice("required", tools) == "required"
    assert normalize_tool_choice({"type": "function", "function": {"name": "get_weather"}}, tools) == "get_weather"
    with pytest.raises(InvalidArgumentError, match="names no tool") as caught:
        normalize_tool_choice("other", tools)
    assert caught.value.parameter == "tool_choice"
    with pytest.raises(InvalidArgumentError, match="needs tools"):
        normalize_tool_choice("required", ())


def test_bad_calls_are_reported_not_dropped() -> None:
    tools = normalize_tools([get_weather])
    calls = check_tool_calls(
        [
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_weather", {"unit": "k"}),
            ToolCall("rm_rf", {}),
            ToolCall.from_dict({"id": "c1", "function": {"name": "get_weather", "arguments": "{not json"}}),
        ],
        tools,
    )
    assert calls[0].error is None
    assert "missing required property 'city'" in (calls[1].error or "")
    assert "'k' is not one of" in (calls[1].error or "")
    assert "unknown tool 'rm_rf'" in (calls[2].error or "")
    assert "not valid JSON" in (calls[3].error or "") and calls[3].id == "c1"


def test_schema_checker() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "required": ["n"],
        "additionalProperties": False,
    }
    assert schema_errors({"n": 2, "tags": ["a"]}, schema) == []
    problems = schema_errors({"n": 0, "tags": ["a", 1, "c"], "x": True}, schema)
    assert any("less than 1" in p for p in problems)
    assert any("$.tags[1]: expected string" in p for p in problems)
    assert any("more than 2" in p for p in problems)
    assert any("unexpected property 'x'" in p for p in problems)
    assert schema_errors(True, {"type": "integer"}) != []


def test_structured_output_parsing() -> None:
    class Model:
        @staticmethod
        def model_json_schema() -> dict[str, Any]:
            return {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}

    fmt = normalize_response_format(Model)
    assert fmt is not None and fmt.kind == "json_schema" and fmt.name == "Model"
    assert parse_structured('{"a": 1}', fmt, "stop") == {"a": 1}
    with pytest.raises(OutputParsingError, match="cut off by max_tokens"):
        parse_structured('{"a": ', fmt, "length")
    with pytest.raises(OutputParsingError, match="not valid JSON"):
        parse_structured("{", fmt, "stop")
    with pytest.raises(OutputParsingError, match="does not match the schema"):
        parse_structured('{"a": "x"}', fmt, "stop")
    assert normalize_response_format({"type": "text"}) is None
    with pytest.raises(InvalidArgumentError) as caught:
        normalize_response_format({"type": "xml"})
    assert caught.value.parameter == "response_format"


class Gatekeeper:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, str | None]] = []

    @hookimpl
    def abstractllm_before_tool_call(self, context: ToolCallContext) -> str | None:
        return "refused: no deleting" if context.call.name == "delete" else None

    @hookimpl
    def abstractllm_after_tool_call(self, context: ToolCallContext, result: Any, error: BaseException | None) -> None:
        self.seen.append((context.call.name, result, type(error).__name__ if error else None))


@pytest.fixture
def gatekeeper() -> Any:
    plugins = get_plugins()
    keeper = Gatekeeper()
    plugins.register(keeper, "gatekeeper")
    yield keeper
    plugins.unregister("gatekeeper")


def test_tool_runs_go_through_the_hooks(gatekeeper: Gatekeeper) -> None:
    def delete(path: str) -> str:
        raise AssertionError("must never run")

    def divide(a: int, b: int) -> float:
        return a / b

    calls = [
        ToolCall("divide", {"a": 6, "b": 3}, id="1"),
        ToolCall("delete", {"path": "/"}, id="2"),
        ToolCall("divide", {"a": 1, "b": 0}, id="3"),
        ToolCall("not_given", {}, id="4"),
    ]
    results = run_tool_calls(calls, {"divide": divide, "delete": delete}, get_plugins())
    assert [(m.role, m.tool_call_id, m.content) for m in results] == [
        ("tool", "1", "2.0"),
        ("tool", "2", "refused: no deleting"),
        ("tool", "3", "error: ZeroDivisionError: division by zero"),
        ("tool", "4", "error: tool 'not_given' is not available"),
    ]
    assert gatekeeper.seen == [("divide", 2.0, None), ("divide", None, "ZeroDivisionError")]


def test_async_tools_are_awaited(gatekeeper: Gatekeeper) -> None:
    async def slow_echo(text: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"echo": text}

    results = asyncio.run(run_tool_calls_async([ToolCall("slow_echo", {"text": "hi"})], {"slow_echo": slow_echo}, get_plugins()))
    assert results[0].content == '{"echo": "hi"}'
    sync = run_tool_calls([ToolCall("slow_echo", {"text": "hi"})], {"slow_echo": slow_echo}, get_plugins())
    assert "use generate_with_tools_async" in (sync[0].content or "")


@pytest.mark.parametrize(
    ("schema", "defect"),
    [
        ({"type": 5}, "$.type: 5 is not a JSON type"),
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "$.properties.a.type: 'strin'"),
        ({"type": "object", "required": "a"}, "$.required: must be a list of property names"),
        ({"type": "array", "items": 3}, "$.items: a schema is an object, not int"),
        ({"anyOf": []}, "$.anyOf: must be a non-empty list of schemas"),
        ({"type": "string", "maxLength": -1}, "$.maxLength: must be an integer >= 0"),
        ({"type": "number", "multipleOf": 0}, "$.multipleOf: must be a finite number > 0"),
        ({"type": "object", "properties": []}, "$.properties: must be an object of name to schema"),
    ],
)
def test_an_unusable_schema_is_refused_before_any_model_runs(schema: dict[str, Any], defect: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(defect)) as caught:
        normalize_response_format({"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    assert caught.value.parameter == "response_format"
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    with pytest.raises(InvalidArgumentError, match=re.escape(defect)) as caught:
        normalize_tools([tool])
    assert caught.value.parameter == "tools" and "tools[0] ('f')" in str(caught.value)


def test_usable_schemas_pass_the_check() -> None:
    for schema in (
        {"type": ["string", "null"]},
        {"type": "object", "properties": {"type": {"type": "string"}, "x": True}, "additionalProperties": False},
        {"type": "array", "items": [{"type": "integer"}], "minItems": 1, "uniqueItems": True},
        {"$defs": {"p": {"type": "integer", "minimum": 0}}, "$ref": "#/$defs/p", "title": "anything", "format": "x"},
    ):
        assert normalize_response_format({"type": "json_schema", "json_schema": {"schema": schema}}) is not None
        assert normalize_tools([{"type": "function", "function": {"name": "f", "parameters": schema}}])
