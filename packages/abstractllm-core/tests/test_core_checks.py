"""Structured replies and tool runs are checked: JSON Schema keywords, JSON errors, tool-call hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from abstractllm._private.json_schema import check_json
from abstractllm._private.plugins import get_plugins
from abstractllm._private.structured import ResponseFormat, parse_structured
from abstractllm._private.tool_hooks import ToolCallContext
from abstractllm.errors import OutputParsingError
from abstractllm.hookspecs import hookimpl
from abstractllm.response import GenerateResponse
from abstractllm.tools import ToolCall

#: Keywords pydantic emits that a subset checker used to ignore, each with a value that breaks it.
BROKEN: list[tuple[dict[str, Any], Any]] = [
    ({"type": "string", "pattern": "^[a-z]+$"}, "ABC"),
    ({"allOf": [{"type": "integer"}, {"minimum": 3}]}, 2),
    ({"type": "number", "exclusiveMinimum": 0}, 0),
    ({"type": "array", "prefixItems": [{"type": "string"}]}, [1]),
    ({"type": "integer", "multipleOf": 5}, 7),
    ({"type": "array", "uniqueItems": True}, [1, 1]),
]


@pytest.mark.parametrize(("schema", "value"), BROKEN)
def test_keywords_pydantic_emits_are_checked(schema: dict[str, Any], value: Any) -> None:
    assert check_json(value, schema).errors


def test_format_is_checked_with_jsonschema() -> None:
    pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    assert check_json({"email": "not an address"}, schema).errors
    assert not check_json({"email": "ann@example.org"}, schema).errors


_WITHOUT_JSONSCHEMA = textwrap.dedent(
    """
    import json, sys
    sys.modules["jsonschema"] = None  # as if it were not installed
    from abstractllm._private.json_schema import check_json
    cases = json.loads(sys.argv[1])
    print(json.dumps([[check_json(value, schema).errors, sorted(check_json(value, schema).unchecked)]
                      for schema, value in cases]))
    """
)


def test_without_jsonschema_the_subset_checks_and_names_what_it_did_not_check() -> None:
    unchecked = {"type": "string", "format": "hostname", "not": {"$ref": "https://example.org/elsewhere.json"}}
    cases = [*BROKEN, ({"type": "string", "format": "email", "not": {"const": "x"}}, "nope"), (unchecked, "nope")]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_JSONSCHEMA, json.dumps(cases)], capture_output=True, text=True, timeout=60, check=True
    )
    results = json.loads(done.stdout)
    assert all(errors and not unchecked for errors, unchecked in results[:-2])
    assert results[-2] == [["$: 'nope' is not a valid email"], []]  # format and not are checked
    assert results[-1] == [[], ["$ref", "format"]]  # a format it has no check for, a document it does not hold
    assert "JSON schema keywords not checked: $ref, format" in done.stderr


def test_a_reply_with_a_control_character_names_the_problem_once() -> None:
    with pytest.raises(OutputParsingError) as caught:
        parse_structured('{"a": "x\ny"}', ResponseFormat("json_object"), "stop")
    message = str(caught.value)
    assert "Invalid control character at line 1 column 9" in message
    assert "at at" not in message


class _Refuse:
    @hookimpl
    def abstractllm_before_tool_call(self, context: ToolCallContext) -> str | None:
        return f"{context.call.name} needs approval"


def test_execute_tool_calls_goes_through_the_hooks_so_a_refusal_holds() -> None:
    ran: list[str] = []

    def get_weather(city: str) -> str:
        ran.append(city)
        return "sunny"

    response = GenerateResponse("", tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="c1")])
    assert response.execute_tool_calls({"get_weather": get_weather})[0]["output"] == "sunny"
    plugins = get_plugins()
    plugins.register(_Refuse(), "refuse-for-test")
    try:
        [result] = response.execute_tool_calls({"get_weather": get_weather})
    finally:
        plugins.unregister("refuse-for-test")
    assert result == {
        "call_id": "c1",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
        "error": "get_weather needs approval",
        "refused": True,
    }
    assert ran == ["Paris"]
    assert response.execute_tool_calls({"get_weather": get_weather})[0]["output"] == "sunny"  # works again afterwards
