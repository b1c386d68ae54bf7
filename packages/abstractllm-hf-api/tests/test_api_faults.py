"""Scripted faults from the in-repo HF server: retries, error mapping, broken streams (sync and async)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import (
    AuthenticationError,
    ContextWindowExceededError,
    InvalidArgumentError,
    ModelNotFoundError,
    ProviderAPIError,
    ProviderConnectionError,
    RateLimitError,
    RequestTimeoutError,
)


def make(fake: Any, protocol: str = "openai", **options: Any) -> Any:
    options.setdefault("retry_backoff", 0.01)
    return create_llm("huggingface", inference_api_url=fake.url, protocol=protocol, **options)


def greedy(**extra: Any) -> dict[str, Any]:
    return {"temperature": 0, "max_tokens": 6, **extra}


def test_429_is_retried_after_retry_after(fake: Any) -> None:
    llm = make(fake)
    fake.script({"status": 429, "retry_after": 1})
    started = time.monotonic()
    assert str(llm.generate("hi", **greedy()))
    assert time.monotonic() - started >= 0.9
    assert len(fake.posts()) == 2


def test_429_after_retries_is_rate_limit_error(fake: Any) -> None:
    llm = make(fake, max_retries=2)
    fake.script(*[{"status": 429, "retry_after": 0, "message": "slow down"}] * 3)
    with pytest.raises(RateLimitError, match="slow down") as caught:
        llm.generate("hi", **greedy())
    assert caught.value.retry_after == 0 and caught.value.retryable
    assert len(fake.posts()) == 3


def test_503_model_loading_waits_its_estimated_time(fake: Any) -> None:
    llm = make(fake)
    fake.script({"status": 503, "estimated_time": 0.6})
    started = time.monotonic()
    assert str(llm.generate("hi", **greedy()))
    assert time.monotonic() - started >= 0.55
    assert len(fake.posts()) == 2


def test_estimated_time_is_bounded_by_max_retry_wait(fake: Any) -> None:
    llm = make(fake, max_retry_wait=0.2)
    fake.script({"status": 503, "estimated_time": 3600})
    started = time.monotonic()
    assert str(llm.generate("hi", **greedy()))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(fake: Any, status: int) -> None:
    llm = make(fake)
    fake.script({"status": status}, {"status": status})
    assert str(llm.generate("hi", **greedy()))
    assert len(fake.posts()) == 3


def test_503_after_retries_is_retryable_provider_error(fake: Any) -> None:
    llm = make(fake, max_retries=1)
    fake.script({"status": 503}, {"status": 503})
    with pytest.raises(ProviderAPIError) as caught:
        llm.generate("hi", **greedy())
    assert caught.value.retryable


def test_500_is_provider_error_without_retry(fake: Any) -> None:
    llm = make(fake)
    fake.script({"status": 500, "message": "kaboom"})
    with pytest.raises(ProviderAPIError, match="kaboom") as caught:
        llm.generate("hi", **greedy())
    assert not caught.value.retryable
    assert len(fake.posts()) == 1


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (403, AuthenticationError), (404, ModelNotFoundError)])
def test_client_errors(fake: Any, status: int, error: type[Exception]) -> None:
    llm = make(fake)
    fake.script({"status": status, "message": f"scripted {status} answer"})
    with pytest.raises(error, match=f"scripted {status} answer"):
        llm.generate("hi", **greedy())
    assert len(fake.posts()) == 1


@pytest.mark.parametrize("status", [400, 422])
def test_invalid_requests_carry_the_server_message(fake: Any, status: int) -> None:
    llm = make(fake)
    fake.script({"status": status, "message": "max_tokens is too large for this model"})
    with pytest.raises(InvalidArgumentError, match="max_tokens is too large for this model") as caught:
        llm.generate("hi", **greedy())
    assert caught.value.details["server_message"] == "max_tokens is too large for this model"


@pytest.mark.parametrize(
    ("status", "message", "window", "used"),
    [
        (  # TGI
            422,
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4100 `inputs` tokens"
            " and 20 `max_new_tokens`",
            4096,
            4100,
        ),
        (  # vLLM
            400,
            "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the"
            " messages, 100 in the completion). Please reduce the length of the messages or completion.",
            2048,
            2100,
        ),
        (400, "The decoder prompt (length 9000) is longer than the maximum model length of 8192.", 8192, 9000),  # vLLM
    ],
)
def test_servers_context_window_messages_are_context_window_exceeded(
    fake: Any, status: int, message: str, window: int, used: int
) -> None:
    llm = make(fake)
    fake.script({"status": status, "message": message})
    with pytest.raises(ContextWindowExceededError) as caught:
        llm.generate("hi", **greedy())
    assert (caught.value.context_window, caught.value.content_length) == (window, used)
    assert message in str(caught.value) and caught.value.details["server_message"] == message
    assert len(fake.posts()) == 1  # not retried


def test_tgi_validation_error_is_invalid_argument(fake: Any) -> None:
    llm = make(fake, protocol="tgi", extra_body={"temperature": 0})
    with pytest.raises(InvalidArgumentError, match="temperature"):
        llm.generate("hi", **greedy())


def test_slow_reply_past_the_timeout(fake: Any) -> None:
    llm = make(fake, timeout=0.3)
    fake.script({"slow": 1.0})
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as caught:
        llm.generate("hi", **greedy())
    assert isinstance(caught.value, ProviderAPIError) and caught.value.retryable
    assert time.monotonic() - started < 1.0


async def test_slow_reply_past_the_timeout_async(fake: Any) -> None:
    llm = make(fake, timeout=0.3)
    fake.script({"slow": 1.0})
    with pytest.raises(RequestTimeoutError):
        await llm.generate_async("hi", **greedy())


def test_refused_connection_is_retryable_after_bounded_retries(closed_port: int) -> None:
    llm = create_llm(
        "huggingface", inference_api_url=f"http://127.0.0.1:{closed_port}", protocol="openai", max_retries=2, retry_backoff=0.01
    )
    with pytest.raises(ProviderConnectionError) as caught:
        llm.generate("hi", **greedy())
    assert isinstance(caught.value, ProviderAPIError) and caught.value.retryable


def test_dropped_connection_is_retried(fake: Any) -> None:
    llm = make(fake)
    fake.script({"drop": True})
    assert str(llm.generate("hi", **greedy()))
    assert len(fake.posts()) == 2


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
def test_bad_json_is_provider_error(fake: Any, protocol: str) -> None:
    llm = make(fake, protocol=protocol)
    fake.script({"bad_json": True})
    with pytest.raises(ProviderAPIError, match="malformed JSON"):
        llm.generate("hi", **greedy())


# -- streams ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
def test_multiline_events_and_comments(fake: Any, protocol: str) -> None:
    llm = make(fake, protocol=protocol)
    expected = str(llm.generate("a story", **greedy()))
    fake.script({"multiline": True})
    chunks = list(llm.generate("a story", stream=True, **greedy()))
    assert "".join(chunks) == expected
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
@pytest.mark.parametrize("fault", ["truncate_after", "end_after", "error_after"])
def test_broken_streams_raise_after_the_text_already_given(fake: Any, protocol: str, fault: str) -> None:
    llm = make(fake, protocol=protocol)
    fake.script({fault: 2})
    received = []
    with pytest.raises(ProviderAPIError) as caught:
        for chunk in llm.generate("a story", stream=True, **greedy()):
            received.append(chunk)
    assert len(received) == 2  # the text before the break was delivered
    assert len(fake.posts()) == 1  # and never a retry after text began
    if fault == "error_after":
        assert "scripted" in str(caught.value)
    if fault == "truncate_after":
        assert isinstance(caught.value, ProviderConnectionError)


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
@pytest.mark.parametrize("fault", ["truncate_after", "end_after", "error_after"])
async def test_broken_streams_async(fake: Any, protocol: str, fault: str) -> None:
    llm = make(fake, protocol=protocol)
    fake.script({fault: 1})
    received = []
    stream = await llm.generate_async("a story", stream=True, **greedy())
    with pytest.raises(ProviderAPIError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 1
    assert len(fake.posts()) == 1


def test_stream_opening_is_retried_before_any_text(fake: Any) -> None:
    llm = make(fake)
    fake.script({"status": 429, "retry_after": 0})
    chunks = list(llm.generate("a story", stream=True, **greedy()))
    assert "".join(chunks) and len(fake.posts()) == 2


async def test_async_retries(fake: Any) -> None:
    llm = make(fake)
    fake.script({"status": 503, "estimated_time": 0.1}, {"status": 429, "retry_after": 0})
    assert str(await llm.generate_async("hi", **greedy()))
    assert len(fake.posts()) == 3


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("how", ["sync", "stream", "async"])
def test_a_redirect_says_so_where_to_and_asks_for_the_final_url(fake: Any, status: int, how: str) -> None:
    import asyncio

    llm = make(fake, api_key="hf_secret_for_the_redirect_test")
    target = "https://elsewhere.example/v1/chat/completions"
    fake.script({"reply": {"status": status, "body": "", "headers": {"Location": target}}})
    with pytest.raises(ProviderAPIError) as caught:
        if how == "sync":
            llm.generate("hi", **greedy())
        elif how == "stream":
            list(llm.generate("hi", stream=True, **greedy()))
        else:
            asyncio.run(llm.generate_async("hi", **greedy()))
    message = str(caught.value)
    assert f"redirected the request ({status})" in message and target in message and "final URL" in message
    assert "inference_api_url=" in message and "without choices" not in message
    assert len(fake.posts()) == 1  # not followed: the token went nowhere else
    assert str(llm.generate("hi", **greedy()))


def test_a_redirect_location_with_credentials_is_masked(fake: Any) -> None:
    llm = make(fake)
    fake.script({"reply": {"status": 302, "headers": {"Location": "http://user:hunter2@elsewhere.example/"}}})
    with pytest.raises(ProviderAPIError, match="redirected") as caught:
        llm.generate("hi", **greedy())
    assert "hunter2" not in str(caught.value) and "***@elsewhere.example" in str(caught.value)


NAMELESS = {"function": {"arguments": '{"q": 1}'}}


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_without_a_name_is_the_servers_fault(fake: Any, stream: bool) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    llm = make(fake)
    if stream:
        piece = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **NAMELESS}]}, "finish_reason": "tool_calls"}]}
        fake.script({"reply": {"events": [json.dumps(piece), "[DONE]"]}})
    else:
        body = {"choices": [{"index": 0, "message": {"tool_calls": [NAMELESS]}, "finish_reason": "tool_calls"}]}
        fake.script({"reply": {"body": json.dumps(body)}})
    with pytest.raises(ProviderAPIError, match="tool call without a function name") as caught:
        result = llm.generate("hi", tools=[tool], stream=stream, **greedy())
        if stream:
            list(result)
    assert not isinstance(caught.value, InvalidArgumentError)
    assert "not the request" in str(caught.value)


def test_a_retried_stream_gets_its_own_timeout_after_waiting(fake: Any) -> None:
    """The wait the server asked for (1.5 s) is longer than timeout=1: the retry still gets its full timeout."""
    import asyncio

    llm = make(fake, timeout=1.0)
    fake.script({"status": 429, "retry_after": 1.5})
    assert "".join(llm.generate("a story", stream=True, **greedy()))

    async def astream() -> str:
        stream = await llm.generate_async("a story", stream=True, **greedy())
        return "".join([str(chunk) async for chunk in stream])

    fake.script({"status": 503, "retry_after": 1.5})
    assert asyncio.run(astream())
    assert len(fake.posts()) == 4
