"""A call written another way is still a call: a reply that is one JSON call, fenced or bare,
naming an offered tool with valid arguments (``abstractllm._private.fenced_call``), and nothing
else. Every case is fed to core's reply assembler in pieces of every size, streamed and not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from abstractllm.backend import FALLBACK_MARKUP, ReplyAssembler
from abstractllm.request import GenerationParams, GenerationRequest, ResponseFormat
from abstractllm.response import Usage
from abstractllm.tools import ToolDefinition

WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
)
TIME = ToolDefinition("get_time", "Get the time.", {"type": "object", "properties": {}})
PARIS = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
ROME = '{"name": "get_weather", "parameters": {"city": "Rome"}}'
QWEN_REPLY = f"```json\n{PARIS}\n```"  # what the real Qwen2.5-Coder-0.5B-Instruct wrote

#: Replies that are calls: (reply, [(name, arguments)]).
CALLS: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {
    "json fence (Qwen2.5-Coder's reply)": (QWEN_REPLY, [("get_weather", {"city": "Paris"})]),
    "plain fence": (f"```\n{PARIS}\n```", [("get_weather", {"city": "Paris"})]),
    "JSON fence in capitals, whitespace around": (f"\n  ```JSON\n{PARIS}```  \n", [("get_weather", {"city": "Paris"})]),
    "bare object": (PARIS, [("get_weather", {"city": "Paris"})]),
    "parameters for arguments": (ROME, [("get_weather", {"city": "Rome"})]),
    "a list of calls in a fence": (
        f'```json\n[{PARIS}, {ROME}, {{"name": "get_time", "arguments": {{}}}}]\n```',
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"}), ("get_time", {})],
    ),
    "arguments first": ('{"arguments": {"city": "Oslo"}, "name": "get_weather"}', [("get_weather", {"city": "Oslo"})]),
}

#: Replies that stay text, with the tools offered.
TEXTS: dict[str, str] = {
    "ordinary JSON answer": '```json\n{"city": "Paris", "temperature": 22}\n```',
    "bare JSON answer": '{"answer": 42}',
    "unknown tool": '```json\n{"name": "get_stock", "arguments": {"symbol": "X"}}\n```',
    "arguments invalid for the schema": '```json\n{"name": "get_weather", "arguments": {"city": 7}}\n```',
    "a required argument missing": '```json\n{"name": "get_weather", "arguments": {}}\n```',
    "arguments not an object": '```json\n{"name": "get_weather", "arguments": "Paris"}\n```',
    "an extra key": '{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "1"}',
    "no arguments": '{"name": "get_time"}',
    "text before the fence": f"Sure! Here is the call:\n{QWEN_REPLY}",
    "text after the fence": f"{QWEN_REPLY}\nThis returns the weather.",
    "text after bare JSON": f"{PARIS} is how you would call it.",
    "two fences": f"{QWEN_REPLY}\n{QWEN_REPLY}",
    "another language's fence": f"```python\n{PARIS}\n```",
    "an unclosed fence": f"```json\n{PARIS}\n",
    "a list with one non-call": f'[{PARIS}, {{"answer": 1}}]',
    "an empty list": "[]",
    "invalid JSON": '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}\n```',
    "plain prose": "The weather in Paris is sunny.",
    "code": "```python\nprint('hi')\n```",
    "empty": "",
}

SIZES = (1, 2, 3, 7, 1000)


def request(tool_choice: str = "auto", response_format: ResponseFormat | None = None) -> GenerationRequest:
    return GenerationRequest(
        messages=(), params=GenerationParams(), tools=(WEATHER, TIME), tool_choice=tool_choice, response_format=response_format
    )


def assemble(text: str, size: int, req: GenerationRequest, reason: str = "stop") -> tuple[list[str], Any, Any]:
    """Feed ``text`` in pieces of ``size``: the deltas shown, the last delta and the finished choice."""
    reply = ReplyAssembler(req, FALLBACK_MARKUP)
    shown = [reply.feed(text[i : i + size]) for i in range(0, len(text), size)]
    final = reply.finish(reason, Usage(1, 2))
    choice = reply.choice()
    assert choice.text == "".join(shown) + final.text  # streamed and not: the same reply
    return shown, final, choice


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(CALLS))
def test_a_reply_that_is_one_json_call_is_that_call_and_never_shown(case: str, size: int) -> None:
    text, expected = CALLS[case]
    shown, final, choice = assemble(text, size, request())
    assert "".join(shown) == "" and final.text == "" and choice.text == ""
    assert final.finish_reason == choice.finish_reason == "tool_calls"
    assert [(call.name, call.arguments, call.error) for call in final.tool_calls] == [(n, a, None) for n, a in expected]
    assert len({call.id for call in final.tool_calls}) == len(expected)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(TEXTS))
def test_anything_else_stays_text_word_for_word(case: str, size: int) -> None:
    text = TEXTS[case]
    _, final, choice = assemble(text, size, request())
    assert choice.text == text
    assert (choice.finish_reason, choice.tool_calls, final.tool_calls) == ("stop", [], None)


@pytest.mark.parametrize(
    "req",
    [
        request(tool_choice="none"),
        GenerationRequest(messages=(), params=GenerationParams()),  # no tools offered
        request(response_format=ResponseFormat("json_object")),
    ],
    ids=["tool_choice none", "no tools", "response_format"],
)
def test_a_call_shaped_reply_is_text_when_no_call_was_asked_for(req: GenerationRequest) -> None:
    shown, final, choice = assemble(QWEN_REPLY, 3, req)
    assert "".join(shown) == QWEN_REPLY == choice.text  # and shown as it came, nothing held back
    assert final.tool_calls is None and choice.finish_reason == "stop"


def test_a_call_shaped_reply_cut_by_max_tokens_is_text() -> None:
    _, final, choice = assemble(QWEN_REPLY, 5, request(), reason="length")
    assert (choice.text, choice.finish_reason, final.tool_calls) == (QWEN_REPLY, "length", None)


def test_a_markup_call_wins_and_fenced_text_beside_it_is_kept() -> None:
    markup = '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>'
    _, final, choice = assemble(QWEN_REPLY + markup, 4, request())
    assert choice.text == QWEN_REPLY
    assert [call.name for call in final.tool_calls] == ["get_time"]


def test_a_fenced_call_meets_a_forced_tool_choice() -> None:
    reply = ReplyAssembler(request(tool_choice="get_weather"), FALLBACK_MARKUP)
    reply.feed(QWEN_REPLY)
    reply.finish("stop")
    assert reply.unmet is None and reply.choice().tool_calls[0].arguments == {"city": "Paris"}


@pytest.mark.parametrize(
    ("text", "shown_before_end"),
    [
        ("The weather is sunny today, I think.", "The weather is sunny today, I think."),
        ('{"city": "Paris", "temperature": 22, "sky": "clear"}', '{"city": "Paris", "temperature": 22, "sky": "clear"}'),
        ("```python\nprint('hi')\n", "```python\nprint('hi')\n"),
        (f"{PARIS} and then some words", f"{PARIS} and then some words"),
    ],
    ids=["prose", "JSON whose first key is no call's", "another language", "words after the JSON"],
)
def test_text_that_cannot_become_a_call_streams_without_waiting_for_the_end(text: str, shown_before_end: str) -> None:
    reply = ReplyAssembler(request(), FALLBACK_MARKUP)
    shown = "".join(reply.feed(char) for char in text)
    assert shown == shown_before_end  # everything seen before finish()
    assert reply.finish("stop").text == ""


def test_a_long_json_answer_is_released_once_its_first_key_rules_out_a_call() -> None:
    reply = ReplyAssembler(request(), FALLBACK_MARKUP)
    assert reply.feed('```json\n{"na') == ""  # may still be "name"
    assert reply.feed('tion": "France"') == '```json\n{"nation": "France"'
    assert reply.feed(", ") == ", "


@pytest.mark.parametrize("case", list(CALLS))
def test_every_start_of_a_call_is_held_back(case: str) -> None:
    """The gate never lets out a prefix of a reply that turns out to be a call."""
    text = CALLS[case][0]
    for cut in range(len(text) + 1):
        reply = ReplyAssembler(request(), FALLBACK_MARKUP)
        assert reply.feed(text[:cut]) == "", text[:cut]


def test_the_reply_json_round_trips_through_the_session_message_shape() -> None:
    _, final, _ = assemble(QWEN_REPLY, 1000, request())
    [call] = final.tool_calls
    assert json.loads(call.to_openai()["function"]["arguments"]) == {"city": "Paris"}
