"""Core's one tool rule for local backends: markup, fallback prompt, forced-call schema, parser, probe."""

from __future__ import annotations

import json
from typing import Any

import pytest

from abstractllm._private.plain_prompt import plain_prompt_text
from abstractllm._private.tool_format import (
    UNPARSED_NAME,
    forced_call_schema,
    messages_with_tool_prompt,
    read_tool_calls,
    template_renders_tools,
    tool_prompt,
)
from abstractllm.backend.messages import Message
from abstractllm.enums import MessageRole
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import ToolCall, ToolDefinition

WEATHER = ToolDefinition(
    "get_weather", "Get the weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
)
CLOCK = ToolDefinition("get_time", "Get the time.", {"type": "object", "properties": {}})


def test_blocks_are_read_with_their_arguments_and_text_around_them_ignored() -> None:
    reply = (
        'Sure. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        '<tool_call> {"name": "get_time", "parameters": "{}"}</tool_call> done'
    )
    scan = read_tool_calls(reply)
    assert not scan.truncated
    assert [(call.name, call.arguments, call.error) for call in scan.calls] == [
        ("get_weather", {"city": "Paris"}, None),
        ("get_time", {}, None),
    ]


def test_a_block_that_is_not_a_call_is_reported_with_one_name_for_unreadable_calls() -> None:
    scan = read_tool_calls('<tool_call>{"name": "get_weather", "arguments": {broken</tool_call><tool_call>[1]</tool_call>')
    assert [call.name for call in scan.calls] == ["get_weather", UNPARSED_NAME]
    assert "not valid JSON" in (scan.calls[0].error or "")
    assert " at at " not in (scan.calls[0].error or "")
    assert "not a JSON object" in (scan.calls[1].error or "")


def test_a_call_cut_short_is_truncated_not_a_call_named_unknown() -> None:
    scan = read_tool_calls('<tool_call>{"name": "get_weather", "argu')
    assert scan.truncated and scan.calls == []
    unterminated_but_complete = read_tool_calls('<tool_call>{"name": "get_time", "arguments": {}}')
    assert not unterminated_but_complete.truncated
    assert [call.name for call in unterminated_but_complete.calls] == ["get_time"]


def test_forced_call_schema_names_the_chosen_tools() -> None:
    one = forced_call_schema([WEATHER, CLOCK], "get_time")
    assert one["properties"]["name"] == {"const": "get_time"}
    both = forced_call_schema([WEATHER, CLOCK], "required")
    assert [option["properties"]["name"]["const"] for option in both["anyOf"]] == ["get_weather", "get_time"]


def test_fallback_prompt_joins_the_system_message_and_shows_earlier_calls() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [ToolCall("get_weather", {"city": "Oslo"}, id="c1").to_openai()],
        },
        {"role": "tool", "content": "rain", "tool_call_id": "c1"},
    ]
    rendered = messages_with_tool_prompt(messages, [WEATHER])
    assert rendered[0]["content"].startswith("Be brief.\n\n" + tool_prompt([WEATHER]))
    assert '"name": "get_weather"' in rendered[0]["content"]
    assert rendered[2]["content"] == '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    assert "tool_calls" not in rendered[2]
    assert messages[0]["content"] == "Be brief."  # the caller's messages are left alone
    without_system = messages_with_tool_prompt(messages[1:2], [WEATHER])
    assert [message["role"] for message in without_system] == ["system", "user"]


def _drops(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages)


def _renders(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    return (json.dumps(tools) if tools else "") + _drops(messages, tools)


def _refuses(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    if tools:
        raise ValueError("this template takes no tools")
    return _drops(messages, tools)


def test_probe_tells_templates_that_render_tools_from_those_that_drop_them() -> None:
    assert template_renders_tools(_renders)
    assert not template_renders_tools(_drops)
    assert not template_renders_tools(_refuses)


def _request(messages: list[Message], *, prompt: str | None = None, tools: tuple[ToolDefinition, ...] = ()) -> GenerationRequest:
    return GenerationRequest(
        messages=tuple(messages),
        params=GenerationParams(),
        prompt=prompt,
        tools=tools,
        tool_choice="auto" if tools else "none",
    )


def test_one_user_turn_renders_the_same_as_a_string_a_message_list_or_a_session_turn() -> None:
    user = Message(role=MessageRole.USER.value, content="The capital of Norway")
    as_string = plain_prompt_text(_request([user], prompt="The capital of Norway"))
    as_messages = plain_prompt_text(_request([user]))
    assert as_string == as_messages == "The capital of Norway"
    system = Message(role=MessageRole.SYSTEM.value, content="Be brief.")
    assert plain_prompt_text(_request([system, user])) == "System: Be brief.\nUser: The capital of Norway\nAssistant:"


def test_tools_offered_to_a_model_without_template_use_the_fallback_format() -> None:
    user = Message(role=MessageRole.USER.value, content="Weather in Oslo?")
    called = Message(role=MessageRole.ASSISTANT.value, content="", tool_calls=[ToolCall("get_weather", {"city": "Oslo"})])
    result = Message(role=MessageRole.TOOL.value, content="rain", name="get_weather")
    text = plain_prompt_text(_request([user, called, result], tools=(WEATHER,)))
    lines = text.split("\n")
    assert lines[0] == "System: " + tool_prompt([WEATHER]).split("\n")[0]
    assert json.loads(lines[1])["name"] == "get_weather"
    assert 'Assistant: <tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>' in lines
    assert lines[-2:] == ["Tool (get_weather): rain", "Assistant:"]


def _in_system_turn_only(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """A template showing tools beside a system message only (vLLM's FunctionGemma template does)."""
    shown = json.dumps(tools) if tools and messages[0]["role"] == "system" else ""
    return "".join(str(message["content"]) for message in messages) + shown


def test_a_template_showing_tools_in_its_system_turn_only_renders_them() -> None:
    assert template_renders_tools(_in_system_turn_only)


def test_a_template_failing_on_no_tools_is_rendered_with_an_empty_list() -> None:
    from abstractllm._private.tool_format import render_chat

    def measures_tools(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        if tools is None:
            raise TypeError("object of type 'NoneType' has no len()")
        return f"{len(tools)} tools"

    messages = [{"role": "user", "content": "hi"}]
    assert render_chat(measures_tools, messages, None) == "0 tools"
    assert render_chat(measures_tools, messages, [{"type": "function"}]) == "1 tools"

    def refuses(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        raise ValueError(f"refused {tools!r}")

    with pytest.raises(ValueError, match=r"^refused None$"):  # the first failure, not the retry's
        render_chat(refuses, messages, None)
