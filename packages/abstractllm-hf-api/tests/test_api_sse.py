"""The SSE decoder and the retry policy on their own."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator

from abstractllm_hf_api.retry import RetryPolicy, parse_retry_after
from abstractllm_hf_api.sse import SSEEvent, aiter_sse, iter_sse

LINES = [
    ": a comment",
    "event: message",
    'data: {"a": 1,',
    'data:  "b": 2}',
    "",
    "",
    "id: 7",
    "retry: 100",
    "data:[DONE]",
    "",
    "event: error",
    'data: {"error": "boom"}',
    "",
    "data: incomplete at the end",
]
EXPECTED = [SSEEvent('{"a": 1,\n "b": 2}'), SSEEvent("[DONE]"), SSEEvent('{"error": "boom"}', "error")]


def test_iter_sse_multiline_comments_names_and_an_unfinished_event() -> None:
    assert list(iter_sse(LINES)) == EXPECTED


def test_crlf_line_endings() -> None:
    assert list(iter_sse([line + "\r\n" for line in LINES])) == EXPECTED


async def test_aiter_sse() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in LINES:
            yield line

    assert [event async for event in aiter_sse(lines())] == EXPECTED


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


def test_backoff_grows_is_jittered_and_capped() -> None:
    policy = RetryPolicy(max_retries=3, backoff=1.0, max_wait=5.0)
    assert all(0.5 <= policy.delay(0) <= 1.0 for _ in range(50))
    assert all(2.0 <= policy.delay(2) <= 4.0 for _ in range(50))
    assert len({policy.delay(1) for _ in range(20)}) > 1
    assert policy.delay(10) <= 5.0 and policy.delay(0, hint=60) == 5.0
    assert policy.should_retry(2) and not policy.should_retry(3)
    assert RetryPolicy.server_hint(503, {}, {"estimated_time": 12.5}) == 12.5
    assert RetryPolicy.server_hint(429, {"retry-after": "2"}, None) == 2.0
