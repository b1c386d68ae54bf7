"""HTTP answers and httpx failures as ``abstractllm.errors``.

==============================  ============================================================
server answer / failure         error
==============================  ============================================================
401, 403                        ``AuthenticationError``
404                             ``ModelNotFoundError``
400, 422 (and 413)              ``InvalidArgumentError`` with the server's message
400/413/422 saying the prompt    ``ContextWindowExceededError`` (an ``InvalidArgumentError``),
does not fit                     with ``context_window`` / ``content_length`` when stated
400/413/422/500/501 naming a     ``UnsupportedFeatureError`` with the server's message
feature the request carried      (tools, ``response_format``)
429 (after retries)             ``RateLimitError`` with ``retry_after``
other 4xx, 5xx                  ``ProviderAPIError`` (502/503/504 marked retryable)
timeout                         ``RequestTimeoutError`` (a ``ProviderAPIError``, retryable)
refused / broken connection     ``ProviderConnectionError`` (a ``ProviderAPIError``, retryable)
bad JSON, truncated stream      ``ProviderAPIError``
==============================  ============================================================

Every error the backend raises passes through :func:`scrub` on its way out (one place,
whatever path built it): the token is redacted from its message, details, attributes and
``__cause__`` chain, and a message quoting a huge server reply is cut to
:data:`MAX_MESSAGE` characters, keeping its end (where the fix is named).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from abstractllm.errors import (
    AbstractLLMError,
    AuthenticationError,
    ContextWindowExceededError,
    InvalidArgumentError,
    ModelNotFoundError,
    ProviderAPIError,
    ProviderConnectionError,
    RateLimitError,
    RequestTimeoutError,
    UnsupportedFeatureError,
)
from abstractllm_hf_api.security import Token, redact

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_MESSAGE",
    "RedactedException",
    "error_for_status",
    "error_for_transport",
    "scrub",
    "server_message",
    "stream_error",
]

#: The longest error message (and detail string) the backend raises, in characters.
MAX_MESSAGE = 2048
_KEEP_END = 400


def cap(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters around a marker, keeping its start and its end."""
    if len(text) <= limit:
        return text
    head = limit - _KEEP_END - 40
    cut = len(text) - head - _KEEP_END
    return f"{text[:head]} [... {cut} characters cut ...] {text[len(text) - _KEEP_END :]}"


class RedactedException(Exception):
    """Stands in a ``__cause__`` chain for an exception whose text quoted the token:
    its type name and its text, redacted."""


def scrub(error: AbstractLLMError, token: Token | None) -> AbstractLLMError:
    """``error`` made safe to show, in place (and returned): the token redacted from its
    message, details and attributes, its message capped, and every exception in its
    ``__cause__`` / ``__context__`` chain whose text quotes the token replaced by a
    :class:`RedactedException`."""
    error.message = cap(redact(error.message, token))
    error.args = (error.message,)
    error.details = {key: _clean(value, token) for key, value in error.details.items()}
    for name in ("value", "allowed"):
        if hasattr(error, name):
            setattr(error, name, _clean(getattr(error, name), token))
    link: BaseException = error
    seen = {id(error)}
    while True:
        following = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
        if following is None or id(following) in seen:
            break
        seen.add(id(following))
        if _quotes(following, token):
            stand_in = RedactedException(f"{type(following).__name__}: {cap(redact(str(following), token))}")
            if link.__cause__ is following:
                link.__cause__ = stand_in
            else:
                link.__context__ = stand_in
            if getattr(link, "original_exception", None) is following:
                link.original_exception = stand_in  # type: ignore[attr-defined]
            following = stand_in
        link = following
    return error


def _quotes(exc: BaseException, token: Token | None) -> bool:
    if token is None or not token.reveal():
        return False
    secret = token.reveal()
    return any(secret in text for text in (str(exc), repr(exc), repr(getattr(exc, "__dict__", "")), repr(exc.args)))


def _clean(value: Any, token: Token | None) -> Any:
    if isinstance(value, str):
        return cap(redact(value, token))
    if isinstance(value, Mapping):
        return {key: _clean(item, token) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(item, token) for item in value)
    return value


_TOOL_WORDS = re.compile(r"\btools?\b|tool_choice|function", re.IGNORECASE)
_FORMAT_WORDS = re.compile(r"response_format|grammar|json_schema|json_object", re.IGNORECASE)
# How servers say a prompt does not fit: OpenAI, vLLM and llama.cpp's server ("maximum
# context length is N tokens ... you requested M tokens", code context_length_exceeded),
# vLLM ("... is longer than the maximum model length of N"), TGI ("`inputs` tokens +
# `max_new_tokens` must be <= N. Given: M `inputs` tokens", "`inputs` must have less than N tokens").
_WINDOW = re.compile(
    r"maximum context length is (\d+)|maximum model length of (\d+)|must be <= (\d+)|must have less than (\d+) tokens",
    re.IGNORECASE,
)
_USED = re.compile(r"you requested (\d+) tokens|your request has (\d+)|Given: (\d+)|\(length (\d+)\)", re.IGNORECASE)


def server_message(body: Any) -> str:
    """The human-readable error in a server's reply body (OpenAI, TGI, FastAPI or plain text)."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return str(error.get("message") or error)
        if error:
            return str(error)
        for key in ("message", "detail"):
            if body.get(key):
                detail = body[key]
                return detail if isinstance(detail, str) else json.dumps(detail)
        return json.dumps(body)[:500]
    if isinstance(body, list) and body:
        return json.dumps(body)[:500]
    return str(body or "").strip()[:500]


def error_for_status(
    status: int,
    body: Any,
    *,
    url: str,
    retry_after: float | None = None,
    features: tuple[str, ...] = (),
) -> AbstractLLMError:
    """The error for an HTTP error answer; ``features`` names what the request asked for
    beyond plain generation (``"tools"``, ``"response_format"``)."""
    message = server_message(body)
    where = f"{url} answered {status}"
    details = {"status": status, "server_message": message}
    if status in (401, 403):
        hint = " (check the token: api_key=..., HUGGINGFACE_API_KEY or HF_TOKEN)"
        return AuthenticationError(f"{where}: {message}{hint}", details=details)
    if status == 404:
        return ModelNotFoundError(f"{where}: {message} (check the model id and the endpoint URL)", details=details)
    feature = _rejected_feature(message, features) if status in (400, 413, 422, 500, 501) else None
    if feature is not None:
        return UnsupportedFeatureError(
            f"the server does not support {feature} for this model: {message}", feature=feature, details=details
        )
    if status in (400, 413, 422) and _is_context_overflow(body, message):
        return ContextWindowExceededError(
            f"{where}: the prompt does not fit the model's context window: {message}"
            " (shorten the prompt or the conversation, or lower max_tokens)",
            context_window=_first_number(_WINDOW, message),
            content_length=_first_number(_USED, message),
            details=details,
        )
    if status in (400, 413, 422):
        return InvalidArgumentError(f"{where}: {message}", details=details)
    if status == 429:
        return RateLimitError(f"{where} (rate limited, retries exhausted): {message}", retry_after=retry_after, details=details)
    if status == 408:
        return RequestTimeoutError(f"{where}: {message}", details=details)
    return ProviderAPIError(f"{where}: {message}", details=details, retryable=status in (502, 503, 504))


def _is_context_overflow(body: Any, message: str) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code == "context_length_exceeded" or _WINDOW.search(message) is not None


def _first_number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(next(group for group in match.groups() if group is not None)) if match else None


def _rejected_feature(message: str, features: tuple[str, ...]) -> str | None:
    if "tools" in features and _TOOL_WORDS.search(message):
        return "tools"
    if "response_format" in features and _FORMAT_WORDS.search(message):
        return "response_format"
    return None


def error_for_transport(exc: httpx.HTTPError, *, url: str, during_stream: bool = False) -> AbstractLLMError:
    """The error for an httpx failure without an HTTP answer (timeouts, refused or cut
    connections), quoting the failure's own text."""
    import httpx

    kind = type(exc).__name__
    detail = str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"request to {url} timed out ({kind}); raise timeout= if the server is slow")
    if during_stream:
        return ProviderConnectionError(f"the stream from {url} was cut before it ended ({kind}: {detail})")
    if isinstance(exc, httpx.TransportError):
        return ProviderConnectionError(f"cannot reach {url} ({kind}: {detail})")
    return ProviderAPIError(f"request to {url} failed ({kind}: {detail})")


def stream_error(payload: Any, *, url: str) -> AbstractLLMError:
    """The error for an error event sent in the middle of a stream."""
    return ProviderAPIError(f"{url} sent an error in the stream: {server_message(payload)}")
