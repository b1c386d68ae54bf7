"""Which token goes where, and keeping it out of every message.

Rules:
- A token not passed as ``api_key=`` (``HUGGINGFACE_API_KEY``, ``HF_TOKEN``,
  ``HUGGING_FACE_HUB_TOKEN`` or the file ``hf auth login`` writes, see
  :mod:`~abstractllm_hf_api.stored_token`) is sent only to HuggingFace's own hosts over https.
- A custom endpoint gets a token only when one is given for it explicitly (``api_key=``).
- A token is never sent over plain http to a host other than loopback unless the caller
  opts in with ``allow_insecure_token=True``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import weakref
from urllib.parse import urlsplit

from abstractllm.errors import AuthenticationError, InvalidArgumentError

__all__ = [
    "HF_HOST_SUFFIXES",
    "Token",
    "is_hf_host",
    "is_loopback",
    "mask_credentials",
    "redact",
    "redact_http_logs",
    "token_for",
]

HF_HOST_SUFFIXES = ("huggingface.co", "hf.co", "huggingface.cloud")
HOW_TO_SET = (
    "pass api_key=..., set HUGGINGFACE_API_KEY (or HF_TOKEN), or log in with `hf auth login`;"
    " create a token at https://huggingface.co/settings/tokens"
)


class Token:
    """A bearer token that never shows itself: its ``repr`` and ``str`` are masked."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The token itself, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Token('***')"

    __str__ = __repr__


def is_hf_host(url: str) -> bool:
    """Whether ``url`` is https on HuggingFace's own domains (or their subdomains)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    return parts.scheme == "https" and any(host == suffix or host.endswith("." + suffix) for suffix in HF_HOST_SUFFIXES)


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_for(
    url: str,
    value: str | None,
    *,
    explicit: bool,
    from_environment: bool,
    required: bool,
    allow_insecure: bool = False,
    source: str | None = None,
) -> Token | None:
    """The token to send to ``url``, or None; raises before any request when the rules forbid it.

    ``required`` (the hosted API) turns a missing token into ``AuthenticationError``
    saying how to set one; a token an HTTP header cannot carry (whitespace, control or
    non-ASCII characters, e.g. a stray newline) is an ``AuthenticationError`` too, raised
    without showing the token and naming ``source``, where it came from (``"api_key="``,
    an environment variable, the file of ``hf auth login``), when known.
    """
    usable: str | None = None
    if (value and explicit) or (value and from_environment and is_hf_host(url)):
        usable = value
    if usable is None:
        if required:
            reason = (
                "a token not passed as api_key= (from the environment or `hf auth login`) is only sent to"
                " HuggingFace's own https hosts, and "
                f"{urlsplit(url).hostname!r} is not one; pass api_key=... explicitly for it"
                if value and from_environment
                else f"no HuggingFace token was found; {HOW_TO_SET}"
            )
            raise AuthenticationError(f"the Inference API needs a token: {reason}")
        return None
    if not all("!" <= char <= "~" for char in usable):
        where = source or "api_key=..., HUGGINGFACE_API_KEY, HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the `hf auth login` file"
        raise AuthenticationError(
            f"the token {f'from {source} ' if source else ''}contains whitespace, control or non-ASCII characters,"
            f" which an HTTP header cannot carry (a stray space or newline?); check {where}"
        )
    if urlsplit(url).scheme == "http" and not is_loopback(url) and not allow_insecure:
        raise InvalidArgumentError(
            f"refusing to send a token over plain http to {urlsplit(url).hostname!r}; use https, or pass "
            "allow_insecure_token=True if you accept that the token travels unencrypted",
            parameter="allow_insecure_token",
            value=False,
            allowed="True to send the token over plain http",
        )
    return Token(usable)


def mask_credentials(url: str) -> str:
    """``url`` with everything between ``//`` and the last ``@`` before its query replaced by
    ``***`` (a password may itself hold ``/``, so the last ``@`` marks where the host begins)."""
    scheme, slashes, rest = url.partition("//")
    before_query = rest.split("?", 1)[0].split("#", 1)[0]
    if not slashes or "@" not in before_query:
        return url
    host_start = before_query.rindex("@") + 1
    return f"{scheme}//***@{rest[host_start:]}"


def redact(text: str, token: Token | None) -> str:
    """``text`` with every occurrence of the token replaced by ``***``."""
    if token is None or not text:
        return text
    secret = token.reveal()
    return text.replace(secret, "***") if secret else text


#: The loggers of httpx's HTTP layer; at DEBUG they print response headers, which an echoing server can fill with the token.
HTTP_LOGGERS = ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks", "httpx")


class _RedactingFilter(logging.Filter):
    """Rewrites a record of the HTTP layer's loggers that quotes a live token, with the token as ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: weakref.WeakSet[Token] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [token.reveal() for token in list(self.tokens) if token.reveal()]
        if secrets:
            text = record.getMessage()
            if any(secret in text for secret in secrets):
                for secret in secrets:
                    text = text.replace(secret, "***")
                record.msg, record.args = text, None
        return True


_FILTER = _RedactingFilter()
_FILTER_LOCK = threading.Lock()


def redact_http_logs(token: Token) -> None:
    """Keep ``token`` out of the log records of httpx's HTTP layer for as long as it lives."""
    with _FILTER_LOCK:
        if not _FILTER.tokens:
            for name in HTTP_LOGGERS:
                logger = logging.getLogger(name)
                if _FILTER not in logger.filters:
                    logger.addFilter(_FILTER)
        _FILTER.tokens.add(token)
