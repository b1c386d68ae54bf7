"""Tokens: where they go, where they never go, and that they never show."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import AuthenticationError, InvalidArgumentError
from abstractllm_hf_api.security import Token, is_hf_host, is_loopback, token_for

SECRET = "hf_SeCrEtToKeN0123456789abcdef"


def test_hf_hosts_and_loopback() -> None:
    assert is_hf_host("https://router.huggingface.co/v1")
    assert is_hf_host("https://abc.us-east-1.aws.endpoints.huggingface.cloud")
    assert is_hf_host("https://hf.co/x")
    assert not is_hf_host("http://router.huggingface.co")  # not over http
    assert not is_hf_host("https://huggingface.co.evil.example")
    assert not is_hf_host("https://evilhuggingface.co")
    assert is_loopback("http://127.0.0.1:8080") and is_loopback("http://localhost:1") and is_loopback("http://[::1]:2")
    assert not is_loopback("http://10.0.0.1")


def test_environment_token_goes_only_to_hf_hosts() -> None:
    common = {"explicit": False, "from_environment": True, "required": False}
    assert token_for("https://xyz.endpoints.huggingface.cloud", SECRET, **common) is not None
    assert token_for("https://my-vllm.example.com", SECRET, **common) is None
    assert token_for("http://127.0.0.1:8000", SECRET, **common) is None


def test_token_repr_is_masked() -> None:
    token = Token(SECRET)
    assert SECRET not in repr(token) and SECRET not in str(token) and SECRET not in f"{token}"


def test_environment_token_is_not_sent_to_a_custom_endpoint(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGINGFACE_API_KEY", SECRET)
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai")
    llm.generate("hi", temperature=0, max_tokens=4)
    assert "Authorization" not in fake.posts()[0]["headers"]


@pytest.mark.parametrize("variable", ["HUGGINGFACE_API_KEY", "HF_TOKEN"])
def test_explicit_token_is_sent_to_its_endpoint(fake: Any, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "hf_from_env_not_this_one")
    fake.expected_token = SECRET
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", api_key=SECRET)
    assert str(llm.generate("hi", temperature=0, max_tokens=4))
    assert fake.posts()[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_no_token_over_plain_http_to_another_host_unless_allowed() -> None:
    with pytest.raises(InvalidArgumentError, match="allow_insecure_token") as caught:
        create_llm("huggingface", inference_api_url="http://10.1.2.3:8080", protocol="openai", api_key=SECRET)
    assert SECRET not in str(caught.value)
    llm = create_llm(
        "huggingface", inference_api_url="http://10.1.2.3:8080", protocol="openai", api_key=SECRET, allow_insecure_token=True
    )
    assert llm.backend.transport is not None
    llm.unload()
    # without a token, plain http anywhere is fine
    create_llm("huggingface", inference_api_url="http://10.1.2.3:8080", protocol="openai").unload()


def test_api_mode_without_token_fails_before_any_request(fake: Any) -> None:
    with pytest.raises(AuthenticationError, match="HUGGINGFACE_API_KEY"):
        create_llm("huggingface", model="org/model", use_inference_api=True, api_base_url=fake.url)
    assert fake.received == []


def test_api_mode_does_not_send_an_environment_token_to_a_foreign_router(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(AuthenticationError, match="api_key") as caught:
        create_llm("huggingface", model="org/model", use_inference_api=True, api_base_url=fake.url)
    assert SECRET not in str(caught.value)
    assert fake.received == []


@pytest.mark.parametrize("variable", ["HUGGINGFACE_API_KEY", "HF_TOKEN"])
def test_api_mode_takes_the_token_from_the_environment_for_hf(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, SECRET)
    llm = create_llm("huggingface", model="org/model", use_inference_api=True)  # HF's router: https, an HF host
    token = llm.backend.transport.token
    assert token is not None and token.reveal() == SECRET
    llm.unload()


def test_the_token_never_shows(fake: Any, caplog: pytest.LogCaptureFixture) -> None:
    """repr, config, every log line at DEBUG, error messages (even one where the server echoes it)."""
    caplog.set_level(logging.DEBUG)
    fake.expected_token = "another-token"  # the server rejects ours and echoes what it got
    llm = create_llm("huggingface", model="org/model", use_inference_api=True, api_key=SECRET, api_base_url=fake.url)
    shown = [repr(llm), repr(llm.backend), repr(llm.backend.transport), repr(llm.config_manager), str(llm.get_config())]
    with pytest.raises(AuthenticationError) as caught:
        llm.generate("hi", max_tokens=4)
    assert SECRET in fake.posts()[0]["headers"]["Authorization"]  # it was sent, and echoed back
    error = caught.value
    shown += [str(error), repr(error), str(error.details), "".join(traceback.format_exception(error))]
    fake.expected_token = None
    fake.script({"status": 500, "message": f"trace: Bearer {SECRET}"})
    with pytest.raises(Exception) as second:
        llm.generate("hi", max_tokens=4)
    shown += [str(second.value), "".join(traceback.format_exception(second.value))]
    list(llm.generate("hi", max_tokens=4, stream=True))
    llm.unload()
    shown += [record.getMessage() for record in caplog.records]
    assert any(record.name == "abstractllm_hf_api.transport" and "POST" in record.getMessage() for record in caplog.records)
    assert all(SECRET not in text for text in shown)


@pytest.mark.parametrize("during_stream", [False, True])
def test_a_transport_failure_that_quotes_the_token_is_redacted(during_stream: bool) -> None:
    import httpx

    from abstractllm_hf_api.errors import error_for_transport, scrub

    failure = httpx.ConnectError(f"proxy refused 'Authorization: Bearer {SECRET}'")
    try:
        raise error_for_transport(failure, url="https://example.org", during_stream=during_stream) from failure
    except Exception as raised:
        error = scrub(raised, Token(SECRET))  # type: ignore[arg-type]
    assert SECRET not in str(error) and "Bearer ***" in str(error)
    assert error.__cause__ is not None and SECRET not in repr(error.__cause__) and "Bearer ***" in str(error.__cause__)
    assert SECRET not in "".join(traceback.format_exception(error))


PASSWORD = "pa55-W0rd/with@signs"


@pytest.mark.parametrize(
    ("option", "url"),
    [
        ("inference_api_url", "http://alice:{p}@127.0.0.1:{port}"),
        ("inference_api_url", "https://alice:{p}@example.org/v1/chat/completions"),
        ("endpoint_url", "http://{p}@127.0.0.1:{port}/v1"),  # a token given as the user name
        ("api_base_url", "https://bob:{p}@router.example"),
    ],
)
def test_credentials_in_a_url_are_refused_and_never_shown(
    fake: Any, caplog: pytest.LogCaptureFixture, option: str, url: str
) -> None:
    """Decision: credentials are never taken from a URL (httpx would not send them, and the URL
    is shown in the model's name, its configuration and logs); the error masks them."""
    caplog.set_level(logging.DEBUG)
    port = fake.url.rsplit(":", 1)[1]
    given = url.format(p=PASSWORD, port=port)
    options: dict[str, Any] = {option: given}
    if option == "api_base_url":
        options.update(model="org/model", use_inference_api=True, api_key=SECRET)
    with pytest.raises(InvalidArgumentError, match="credentials") as caught:
        create_llm("huggingface", **options)
    error = caught.value
    assert error.parameter == option and "api_key" in str(error) and "***@" in str(error)
    shown = [str(error), repr(error), repr(vars(error)), "".join(traceback.format_exception(error))]
    shown += [record.getMessage() for record in caplog.records]
    secret_part = PASSWORD.split("/")[0]
    assert all(secret_part not in text and "alice" not in text for text in shown)
    assert fake.received == []


def test_mask_credentials() -> None:
    from abstractllm_hf_api.security import mask_credentials

    assert mask_credentials("http://u:p@h:1/x?q=a@b") == "http://***@h:1/x?q=a@b"
    assert mask_credentials("http://u:p/q@h/x") == "http://***@h/x"
    assert mask_credentials("http://h:1/x?q=a@b") == "http://h:1/x?q=a@b"
