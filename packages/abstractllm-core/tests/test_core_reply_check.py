"""The last-line check: a finished structured reply the schema rejects is an error, never a success."""

from __future__ import annotations

import pytest

from abstractllm._private.reply_check import StreamedReplyCheck, require_valid_reply
from abstractllm._private.structured import ResponseFormat
from abstractllm.errors import OutputParsingError

DIGIT = ResponseFormat(
    "json_schema", {"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}}, "required": ["n"]}
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"n": 12}', "breaks the schema"),
        ('{"n": 1', "not valid JSON"),
        ('{"n": 1} tail', "not valid JSON"),
        ('{"n": 1E400}', "beyond a double's range"),
        ('{"n": NaN}', "NaN, which is not JSON"),
        ("4.4E4444444444444444", "beyond a double's range"),
    ],
)
def test_a_finished_reply_the_schema_rejects_raises_with_its_text(text: str, problem: str) -> None:
    with pytest.raises(OutputParsingError, match=problem) as caught:
        require_valid_reply(text, DIGIT, "stop")
    assert caught.value.details == {"text": text, "finish_reason": "stop"}


def test_valid_cut_or_unconstrained_replies_pass() -> None:
    require_valid_reply('{"n": 7}', DIGIT, "stop")
    require_valid_reply('{"n": 12', DIGIT, "length")  # cut: reply.parsed says so
    require_valid_reply("<tool_call>...", DIGIT, "tool_calls")
    require_valid_reply("free text", None, "stop")
    require_valid_reply('{"a": 1}', ResponseFormat("json_object"), "stop")
    with pytest.raises(OutputParsingError):
        require_valid_reply("[1]", ResponseFormat("json_object"), "stop")


def test_a_stream_is_checked_at_its_finishing_delta() -> None:
    check = StreamedReplyCheck(DIGIT)
    check.feed('{"n": ', None)
    check.feed("1", None)
    with pytest.raises(OutputParsingError, match="breaks the schema"):
        check.feed("2}", "stop")
    valid = StreamedReplyCheck(DIGIT)
    for piece, reason in (('{"n"', None), (": 3}", None), ("", "stop")):
        valid.feed(piece, reason)
    StreamedReplyCheck(None).feed("anything", "stop")
