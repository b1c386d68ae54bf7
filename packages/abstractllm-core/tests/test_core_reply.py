"""Core's reply assembler: stop sequences, tool-call blocks, finish reason and constraint checks,
fed in pieces of every size (the same text must give the same reply however it is cut)."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm.backend import FALLBACK_MARKUP, ReplyAssembler, ToolMarkup
from abstractllm.request import GenerationParams, GenerationRequest, ResponseFormat
from abstractllm.response import Usage
from abstractllm.tools import ToolCall, ToolDefinition

WEATHER = ToolDefinition(
    "get_weather", "Get the weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
)
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def request(stop: tuple[str, ...] = (), tool_choice: str = "auto", **fields: Any) -> GenerationRequest:
    tools = (WEATHER,) if tool_choice != "none" else ()
    return GenerationRequest(messages=(), params=GenerationParams(stop=stop), tools=tools, tool_choice=tool_choice, **fields)


def assemble(
    text: str, size: int, reason: str | None = "stop", req: GenerationRequest | None = None, **options: Any
) -> tuple[str, str | None, list[tuple[str, dict[str, Any], str | None]], bool]:
    """Feed ``text`` in pieces of ``size``; the shown text, finish reason, calls and whether it stopped."""
    reply = ReplyAssembler(req or request(), **options)
    shown = "".join(reply.feed(text[i : i + size]) for i in range(0, len(text), size))
    final = reply.finish(reason, Usage(3, 4))
    assert final.usage == Usage(3, 4)
    choice = reply.choice()
    assert choice.text == shown + final.text and choice.finish_reason == final.finish_reason
    calls = [(call.name, call.arguments, call.error) for call in final.tool_calls or []]
    return shown + final.text, final.finish_reason, calls, reply.stopped


SIZES = (1, 2, 3, 5, 11, 1000)


@pytest.mark.parametrize("size", SIZES)
def test_text_outside_tool_blocks_is_kept_before_between_and_after_them(size: int) -> None:
    text = f"Let me check.{CALL} Then{CALL} I will answer. <tool"
    shown, reason, calls, _ = assemble(text, size)
    assert shown == "Let me check. Then I will answer. <tool"
    assert reason == "tool_calls"
    assert calls == [("get_weather", {"city": "Paris"}, None)] * 2


@pytest.mark.parametrize("size", SIZES)
def test_a_stop_sequence_straddling_pieces_ends_the_reply_and_is_never_shown(size: int) -> None:
    shown, reason, calls, stopped = assemble("one two THE END three", size, "length", request(stop=("THE END", "xyz")))
    assert (shown, reason, calls, stopped) == ("one two ", "stop", [], True)


@pytest.mark.parametrize("size", SIZES)
def test_a_stop_sequence_inside_a_block_cuts_the_call_which_is_reported_not_dropped(size: int) -> None:
    shown, reason, calls, _ = assemble(f"Hi {CALL}", size, "length", request(stop=("Paris",)))
    assert (shown, reason) == ("Hi ", "tool_calls")
    [(name, arguments, error)] = calls
    assert (name, arguments) == ("get_weather", {}) and "ends before its JSON does" in (error or "")


@pytest.mark.parametrize("size", SIZES)
def test_a_call_cut_by_max_tokens_is_length_and_no_call(size: int) -> None:
    assert assemble(f"Hi {CALL[:30]}", size, "length") == ("Hi ", "length", [], False)


@pytest.mark.parametrize("size", SIZES)
def test_a_malformed_block_is_a_call_with_an_error(size: int) -> None:
    shown, reason, calls, _ = assemble('A<tool_call>{"name": "get_weather", oops}</tool_call>B', size)
    assert (shown, reason) == ("AB", "tool_calls")
    assert calls[0][0] == "get_weather" and "not valid JSON" in (calls[0][2] or "")


def test_without_tools_offered_markup_is_plain_text() -> None:
    text = f"Hi {CALL}"
    assert assemble(text, 3, "stop", request(tool_choice="none")) == (text, "stop", [], False)
    assert assemble(text, 3, "length", request(), markup=None) == (text, "length", [], False)


def test_the_model_markup_and_reader_are_the_backends() -> None:
    markup = ToolMarkup("[CALL]", "[/CALL]")
    shown, reason, calls, _ = assemble('x[CALL]{"name": "get_weather", "arguments": {}}[/CALL]y', 4, markup=markup)
    assert (shown, reason, calls) == ("xy", "tool_calls", [("get_weather", {}, None)])
    from abstractllm.backend import ToolCallScan

    seen: list[str] = []

    def reader(raw: str) -> ToolCallScan:
        seen.append(raw)
        return ToolCallScan([ToolCall("get_time", {})])

    shown, reason, calls, _ = assemble(f"x{CALL}y", 4, read_calls=reader)
    assert (shown, reason, calls, seen) == ("xy", "tool_calls", [("get_time", {}, None)], [f"x{CALL}y"])


def test_a_prefix_is_shown_first_even_for_an_empty_reply() -> None:
    assert assemble("abc", 1, prefix="Q: ")[0] == "Q: abc"
    assert assemble("", 1, prefix="Q: ")[0] == "Q: "


def test_calls_a_server_read_come_first_and_its_length_is_kept() -> None:
    given = [ToolCall("get_weather", {"city": "Oslo"})]
    reply = ReplyAssembler(request())
    reply.feed(f"a{CALL}")
    final = reply.finish("length", tool_calls=given)
    assert final.finish_reason == "length"
    assert [call.arguments for call in final.tool_calls or []] == [{"city": "Oslo"}, {"city": "Paris"}]
    reply = ReplyAssembler(request())
    assert reply.finish(None, tool_calls=given).finish_reason == "tool_calls"
    assert ReplyAssembler(request()).finish(None).finish_reason == "stop"


def test_a_reply_ignoring_a_forced_call_or_the_schema_is_unmet() -> None:
    reply = ReplyAssembler(request(tool_choice="required"))
    reply.feed("no call")
    reply.finish("stop")
    assert reply.unmet is not None and reply.unmet.feature == "tool_choice" and "no tool call" in reply.unmet.problem
    schema = ResponseFormat("json_schema", {"type": "object", "required": ["age"]})
    for text, reason, unmet in (('{"age": 3}', "stop", None), ("{}", "stop", "response_format"), ('{"ag', "length", None)):
        reply = ReplyAssembler(request(tool_choice="none", response_format=schema))
        reply.feed(text)
        reply.finish(reason)
        assert (reply.unmet.feature if reply.unmet else None) == unmet


def test_an_assembler_takes_one_reply() -> None:
    reply = ReplyAssembler(request(), FALLBACK_MARKUP)
    reply.finish("stop")
    with pytest.raises(RuntimeError):
        reply.feed("more")
    with pytest.raises(RuntimeError):
        reply.finish("stop")
