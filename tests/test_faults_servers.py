"""Faults of the fault suite: URLs, tokens and misbehaving servers."""

from __future__ import annotations

import pytest

from abstractllm import errors as E
from tests.fault_world import (
    SCHEMA_FORMAT,
    SECRET,
    TOKEN,
    TOOL,
    Case,
    World,
    api_with_token,
    check,
    env_token_to_loopback,
    fresh,
    ignored_constraint,
    make,
    on,
    served,
    too_slow,
    trickled,
    unreachable,
)

CASES: list[Case] = [
    # -- URLs and tokens
    make("endpoint", "bad-url", E.InvalidArgumentError, "inference_api_url='not a url'", inference_api_url="not a url"),
    make(
        "endpoint",
        "ftp-url",
        E.InvalidArgumentError,
        "endpoint_url='ftp://example.com/x' is not an http(s) URL",
        endpoint_url="ftp://example.com/x",
    ),
    make(
        "api",
        "bad-router-url",
        E.InvalidArgumentError,
        "api_base_url='nope'",
        model="org/model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url="nope",
    ),
    Case("unreachable-server", unreachable, E.ProviderConnectionError, "cannot reach http://127.0.0.1:", on("endpoint")),
    make("api", "no-token", E.AuthenticationError, "api_key", model="org/model", use_inference_api=True, api_key=None),
    make("api", "empty-token", E.InvalidArgumentError, "api_key", model="org/model", use_inference_api=True, api_key=""),
    Case(
        "environment-token-to-other-host",
        env_token_to_loopback,
        E.AuthenticationError,
        "only sent to HuggingFace's own",
        fresh("api"),
        hides=(SECRET,),
    ),
    Case("token-with-newline", api_with_token(SECRET + "\nX"), E.AuthenticationError, "newline", fresh("api"), hides=(SECRET,)),
    Case("token-not-ascii", api_with_token(SECRET + "é"), E.AuthenticationError, "non-ASCII", fresh("api"), hides=(SECRET,)),
    Case(
        "wrong-token",
        api_with_token(SECRET, expected="hf_the_right_one"),
        E.AuthenticationError,
        "401",
        fresh("api"),
        hides=(SECRET,),
    ),
    make(
        "endpoint",
        "token-over-plain-http",
        E.InvalidArgumentError,
        "allow_insecure_token",
        inference_api_url="http://example.com:9",
        api_key=SECRET,
    ),
    # -- servers that redirect, ignore what they were asked, or answer malformed calls
    *[
        served(
            {"reply": {"status": status, "body": "", "headers": {"Location": "https://elsewhere.example/v1"}}},
            E.ProviderAPIError,
            "redirected",
            model=model,
        )
        for status in (301, 302, 307, 308)
        for model in ("endpoint", "api")
    ],
    *[
        Case(
            f"{model}-ignored-tool-choice",
            ignored_constraint(model, tools=[TOOL], tool_choice="required"),
            E.UnsupportedFeatureError,
            "ignored",
            on(model),
        )
        for model in ("endpoint", "api")
    ],
    *[
        Case(
            f"{model}-ignored-json-schema",
            ignored_constraint(model, response_format=SCHEMA_FORMAT),
            E.UnsupportedFeatureError,
            "ignored",
            on(model),
        )
        for model in ("endpoint", "api")
    ],
    served(
        {"reply": {"body": '{"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]}'}},
        E.ProviderAPIError,
        "name",
    ),
    make(
        "endpoint",
        "credentials-in-url",
        E.InvalidArgumentError,
        "***@",
        inference_api_url="http://user:hunter2@127.0.0.1:9/v1",
    ),
    make(
        "api",
        "credentials-in-router-url",
        E.InvalidArgumentError,
        "***@",
        model="org/model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url="https://user:hunter2@router.example",
    ),
    *[
        Case(f"{model}-headers-a-byte-at-a-time", trickled(model, "headers"), E.RequestTimeoutError, "timed out", on(model))
        for model in ("endpoint", "tgi")
    ],
    Case("endpoint-body-a-byte-at-a-time", trickled("endpoint", "body"), E.RequestTimeoutError, "timed out", on("endpoint")),
    # -- server faults
    served({"status": 401}, E.AuthenticationError, "401"),
    served({"status": 403}, E.AuthenticationError, "403"),
    served({"status": 404}, E.ModelNotFoundError, "404"),
    served(
        {"status": 404, "message": "Model org/model does not exist"},
        E.ModelNotFoundError,
        "org/model does not exist",
        model="api",
    ),
    served({"status": 422, "message": "max_tokens is too large"}, E.InvalidArgumentError, "max_tokens is too large"),
    served({"status": 429, "retry_after": 0}, E.RateLimitError, "429"),
    served({"status": 429, "retry_after": 0}, E.RateLimitError, "429", model="api"),
    served({"status": 500, "message": "kaboom"}, E.ProviderAPIError, "kaboom"),
    served({"status": 500, "message": "kaboom"}, E.ProviderAPIError, "kaboom", model="tgi", stream=True),
    served({"status": 503, "estimated_time": 5}, E.ProviderAPIError, "currently loading", model="api"),
    served({"bad_json": True}, E.ProviderAPIError, "JSON"),
    served({"drop": True}, E.ProviderConnectionError, "Server disconnected"),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", stream=True),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", model="tgi", stream=True),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", model="api", stream=True),
    served({"end_after": 2}, E.ProviderAPIError, "ended before its last chunk", stream=True),
    served({"error_after": 2}, E.ProviderAPIError, "error in the stream", stream=True),
    Case("server-too-slow", too_slow, E.RequestTimeoutError, "timed out", on("endpoint")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    check(case, world, monkeypatch)
