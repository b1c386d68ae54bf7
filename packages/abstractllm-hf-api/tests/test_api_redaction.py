"""Every error path of the API backend, against a server that echoes the token it received:
the token never shows (message, repr, details, attributes, the cause chain, DEBUG logs),
a huge error body becomes a short message, and the model still works afterwards."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import AbstractLLMError
from abstractllm_hf_api.errors import MAX_MESSAGE

SECRET = "hf_EcHoEdSeCrEt0123456789abcdef"

NAMELESS_CALL = json.dumps({"choices": [{"message": {"tool_calls": [{"function": {"arguments": '{"q": "{auth}"}'}}]}}]})
NAMELESS_DELTA = json.dumps(
    {
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{auth}"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    }
)
FREE_TEXT = json.dumps({"choices": [{"index": 0, "message": {"content": "free text {auth}"}, "finish_reason": "stop"}]})
FREE_DELTA = json.dumps({"choices": [{"index": 0, "delta": {"content": "free {auth}"}, "finish_reason": "stop"}]})
JSON_OBJECT = {"response_format": {"type": "json_object"}}
STATUSES = (400, 401, 403, 404, 408, 413, 422, 429, 500, 501, 503)
CHAT_ERROR = '{"error": {"message": "rejected the header {auth}"}}'
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


def _status(status: int, body: str = CHAT_ERROR) -> dict[str, Any]:
    return {"status": status, "body": body}


# (case id, protocol, stream, the server's scripted reply, extra generate() arguments)
CASES: list[tuple[str, str, bool, dict[str, Any], dict[str, Any]]] = [
    ("no-choices", "openai", False, {"body": '{"echo": "{auth}"}'}, {}),
    ("choices-not-a-list", "openai", False, {"body": '{"choices": "{auth}"}'}, {}),
    ("malformed-json", "openai", False, {"body": "<html>{auth}</html>"}, {}),
    (
        "tool-call-without-name",
        "openai",
        False,
        {"body": NAMELESS_CALL},
        {"tools": [TOOL]},
    ),
    *[
        (f"status-{status}", "openai", False, _status(status), {})
        for status in (400, 401, 403, 404, 408, 413, 422, 429, 500, 501, 503)
    ],
    ("context-overflow", "openai", False, _status(400, '{"error": "maximum context length is 10 tokens, {auth}"}'), {}),
    ("tools-rejected", "openai", False, _status(400, '{"error": "tools are not supported: {auth}"}'), {"tools": [TOOL]}),
    ("plain-text-error", "openai", False, _status(500, "upstream said {auth}"), {}),
    ("redirect", "openai", False, {"status": 307, "body": "", "headers": {"Location": "http://elsewhere.example/?t={auth}"}}, {}),
    ("stream-status-500", "openai", True, _status(500), {}),
    ("stream-malformed-json", "openai", True, {"events": ['{"choices": [ {auth}']}, {}),
    ("stream-unexpected-chunk", "openai", True, {"events": ['["{auth}"]']}, {}),
    ("stream-error-event", "openai", True, {"events": ['{"error": {"message": "{auth}"}}']}, {}),
    ("stream-truncated", "openai", True, {"events": ['{"choices": [{"index": 0, "delta": {"content": "{auth}"}}]}']}, {}),
    (
        "stream-tool-call-without-name",
        "openai",
        True,
        {
            "events": [
                json.dumps(
                    {
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{auth}"}}]},
                                "finish_reason": "tool_calls",
                            }
                        ]
                    }
                ),
                "[DONE]",
            ]
        },
        {"tools": [TOOL]},
    ),
    ("ignored-response-format", "openai", False, {"body": FREE_TEXT}, JSON_OBJECT),
    ("stream-ignored-response-format", "openai", True, {"events": [FREE_DELTA, "[DONE]"]}, JSON_OBJECT),
    ("ignored-tool-choice", "openai", False, {"body": FREE_TEXT}, {"tools": [TOOL], "tool_choice": "required"}),
    ("tgi-no-generated-text", "tgi", False, {"body": '{"echo": "{auth}"}'}, {}),
    ("tgi-malformed-json", "tgi", False, {"body": "{auth} is not JSON"}, {}),
    ("tgi-status-422", "tgi", False, _status(422, '{"error": "Input validation error: {auth}"}'), {}),
    ("tgi-stream-error", "tgi", True, {"events": ['{"error": "failed for {auth}"}']}, {}),
    ("tgi-stream-malformed-json", "tgi", True, {"events": ["{auth"]}, {}),
    ("tgi-stream-unexpected-chunk", "tgi", True, {"events": ['"{auth}"']}, {}),
]


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in found:
        found.append(link)
        link = link.__cause__ or link.__context__
    return found


def _everything_shown(error: BaseException) -> list[str]:
    shown = ["".join(traceback.format_exception(error))]
    for link in _chain(error):
        shown += [str(link), repr(link), repr(link.args), repr(vars(link))]
    return shown


def _run(llm: Any, stream: bool, extra: dict[str, Any], asynchronous: bool) -> None:
    import asyncio

    options = {"temperature": 0, "max_tokens": 4, **extra}
    if not asynchronous:
        result = llm.generate("hi", stream=stream, **options)
        if stream:
            list(result)
        elif result.tool_calls:
            raise AssertionError("a nameless tool call was accepted")
        return

    async def run() -> None:
        result = await llm.generate_async("hi", stream=stream, **options)
        if stream:
            [chunk async for chunk in result]

    asyncio.run(run())


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("case", "protocol", "stream", "reply", "extra"), CASES, ids=[case[0] for case in CASES])
def test_an_echoed_token_never_shows(
    fake: Any,
    caplog: pytest.LogCaptureFixture,
    case: str,
    protocol: str,
    stream: bool,
    reply: dict[str, Any],
    extra: dict[str, Any],
    asynchronous: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol=protocol, api_key=SECRET, max_retries=0)
    fake.script({"reply": reply})
    with pytest.raises(AbstractLLMError) as caught:
        _run(llm, stream, extra, asynchronous)
    assert fake.posts()[0]["headers"]["Authorization"] == f"Bearer {SECRET}"  # sent, and echoed back
    shown = _everything_shown(caught.value)
    shown += [record.getMessage() for record in caplog.records]
    shown += [str(record.exc_info) for record in caplog.records if record.exc_info]
    assert all(SECRET not in text for text in shown), [text for text in shown if SECRET in text]
    assert str(llm.generate("hi", temperature=0, max_tokens=4))  # the model still works
    llm.unload()


HUGE_TEXT = {"status": 500, "body": "upstream said {auth} " + "x" * 1000, "repeat": 50_000}  # ~51 MB of text
LONG_JSON = {"status": 500, "body": '{"error": {"message": "upstream said {auth} ' + "y" * 40_000 + ' (the end)"}}'}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reply", [HUGE_TEXT, LONG_JSON], ids=["50MB-text", "40KB-json-message"])
def test_a_huge_error_body_becomes_a_short_message(fake: Any, stream: bool, reply: dict[str, Any]) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", api_key=SECRET, max_retries=0)
    fake.script({"reply": reply})
    with pytest.raises(AbstractLLMError) as caught:
        result = llm.generate("hi", stream=stream, max_tokens=4)
        if stream:
            list(result)
    error = caught.value
    assert len(error.message) <= MAX_MESSAGE
    assert all(len(str(value)) <= MAX_MESSAGE for value in error.details.values())
    assert SECRET not in str(error) and "upstream said Bearer ***" in str(error)
    if reply is LONG_JSON:
        assert "characters cut" in error.message and error.message.endswith("(the end)")
    assert str(llm.generate("hi", temperature=0, max_tokens=4))
