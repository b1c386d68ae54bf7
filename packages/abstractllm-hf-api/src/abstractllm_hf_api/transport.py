"""HTTP for one model: a pooled connection set for sync calls, one per event loop for async, retries.

A model talks to one server, so it needs none of what ``httpx.Client`` adds on top of a
connection pool: no cookie jar, auth flows, redirects or event hooks. The pools are
httpx's own transports (``httpx.HTTPTransport`` / ``httpx.AsyncHTTPTransport``, the
connection pools inside every httpx client) and requests go straight to them, which saves
about a fifth of the time of a request to a fast local server. Proxies come from the
environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) as for any
httpx client, and TLS verification is on (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured).

One sync pool serves every thread; an async pool belongs to the event loop it was created
on, so there is one per running loop (normally exactly one); :meth:`Transport.close`
closes them all. Retries (see :class:`~abstractllm_hf_api.retry.RetryPolicy`) cover
connection failures and 429/502/503/504 answers, and happen only before a reply body is
handed on: once a stream has begun, a failure is raised, never retried. Redirects are not
followed, so the token never travels to a host it was not meant for. httpx itself is
imported with the first pool, so creating a model stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from abstractllm import __version__  # the packages release in lockstep: one version
from abstractllm.errors import AbstractLLMError, ProviderAPIError, RequestTimeoutError
from abstractllm_hf_api.deadline import deadline, restart
from abstractllm_hf_api.errors import error_for_status, error_for_transport
from abstractllm_hf_api.loop_pools import LoopPools, close_on_its_loop
from abstractllm_hf_api.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from abstractllm_hf_api.security import Token, mask_credentials, redact_http_logs

if TYPE_CHECKING:
    import asyncio

    import httpx

__all__ = ["Reply", "Transport", "environment_proxy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """A successful JSON answer: its status, headers and decoded body."""

    status: int
    headers: Mapping[str, str]
    body: Any


class Transport:
    """Sends JSON requests with retries and maps failures to ``abstractllm.errors``.

    ``token`` (if any) goes in the ``Authorization`` header of every request this
    transport sends; the caller decides beforehand whether the URL may receive it.
    ``server`` is the server's base URL; the proxy for it, if any, is read from the
    environment when the first pool opens (see :func:`environment_proxy`).
    """

    def __init__(
        self,
        *,
        token: Token | None,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
        max_connections: int,
        server: str,
    ) -> None:
        self._token = token
        self._retry = retry
        self._seconds = timeout
        self._timeout = {"connect": min(connect_timeout, timeout), "read": timeout, "write": timeout, "pool": timeout}
        self._max_connections = max_connections
        self._server = server
        common = {"User-Agent": f"abstractllm-hf-api/{__version__}", "Accept-Encoding": "gzip, deflate"}
        if token is not None:
            common["Authorization"] = f"Bearer {token.reveal()}"
            redact_http_logs(token)
        self._get_headers = {**common, "Accept": "application/json"}
        self._post_headers = {**self._get_headers, "Content-Type": "application/json"}
        self._stream_headers = {**common, "Accept": "text/event-stream", "Content-Type": "application/json"}
        self._sync_pool: httpx.HTTPTransport | None = None
        self._async_pools = LoopPools(lambda: self._new_pool(asynchronous=True))
        self._open_streams = 0
        self._ssl_context: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<Transport authorized={self._token is not None} retries={self._retry.max_retries}>"

    @property
    def token(self) -> Token | None:
        """The token this transport sends (a :class:`Token`, which never shows itself)."""
        return self._token

    @property
    def timeouts(self) -> Mapping[str, float]:
        """Seconds allowed to connect, read, write and wait for a pooled connection."""
        return dict(self._timeout)

    def within(self, seconds: float | None = None) -> contextlib.AbstractContextManager[None]:
        """A block whose network operations all end within ``seconds`` (default: ``timeout``)."""
        return deadline(self._seconds if seconds is None else seconds)

    @property
    def pools(self) -> int:
        """How many connection pools are open (one sync, plus one per event loop used)."""
        with self._lock:
            return (self._sync_pool is not None) + len(self._async_pools)

    # -- sync -----------------------------------------------------------------------------

    def _pool(self) -> httpx.HTTPTransport:
        """The sync pool, created on first use (so creating a model costs no TLS setup)."""
        pool = self._sync_pool
        if pool is None or self._closed:
            with self._lock:
                if self._closed:
                    raise ProviderAPIError("this model's HTTP connections are closed (the model was unloaded)")
                if self._sync_pool is None:
                    self._sync_pool = self._new_pool(asynchronous=False)
                pool = self._sync_pool
        return pool

    def get_json(self, url: str) -> Reply | None:
        """One GET without retries (for cheap probes): the reply, or None on any failure or error status."""
        import httpx

        request = self._request("GET", url, None, self._get_headers)
        try:
            with self.within():
                response = self._pool().handle_request(request)
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.HTTPError:
            return None
        if response.status_code >= 400:
            return None
        try:
            return Reply(response.status_code, response.headers, json.loads(response.content))
        except ValueError:
            return None

    def post_json(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> Reply:
        """POST ``payload``; the decoded JSON answer, after retries."""
        response, content = self._send(url, payload, features, stream=False)
        return Reply(response.status_code, response.headers, self._decode(content, url))

    def stream_lines(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> Iterator[str]:
        """POST ``payload`` and yield the answer's lines as they arrive (retries only before the first)."""
        import httpx

        response, _ = self._send(url, payload, features, stream=True)
        self._count_stream(+1)
        try:
            yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, url=url, during_stream=True) from exc
        finally:
            response.close()
            self._count_stream(-1)

    def _send(
        self, url: str, payload: Mapping[str, Any], features: tuple[str, ...], *, stream: bool
    ) -> tuple[httpx.Response, bytes]:
        """The response and its body (empty for a stream, whose body is left to read); an
        error answer's body is read up to :data:`ERROR_BODY_BYTES`."""
        import httpx

        request = self._request("POST", url, json.dumps(payload).encode(), self._stream_headers if stream else self._post_headers)
        attempt = 0
        while True:
            if attempt:
                restart(self._seconds)
            try:
                with self.within():
                    response = self._pool().handle_request(request)
                    content = b""
                    if not stream or response.status_code >= 300:
                        try:
                            content = b"".join(_capped(response.iter_bytes(), response.status_code))
                        finally:
                            response.close()
            except httpx.HTTPError as exc:
                if self._retryable_failure(exc, attempt):
                    self._wait_sync(url, attempt, type(exc).__name__, None)
                    attempt += 1
                    continue
                raise self._failure(exc, url) from exc
            logger.debug("POST %s: %d", url, response.status_code)
            if 300 <= response.status_code < 400:
                raise _redirect_error(response, url)
            if response.status_code < 400:
                return response, content
            error = self._status_error(response, content, url, features, attempt)
            if error is None:
                hint = self._retry.server_hint(response.status_code, response.headers, self._error_body(content))
                self._wait_sync(url, attempt, str(response.status_code), hint)
                attempt += 1
                continue
            raise error

    def _wait_sync(self, url: str, attempt: int, reason: str, hint: float | None) -> None:
        delay = self._retry.delay(attempt, hint)
        logger.info(
            "retrying POST %s after %s in %.2fs (retry %d of %d)", url, reason, delay, attempt + 1, self._retry.max_retries
        )
        time.sleep(delay)

    # -- async ----------------------------------------------------------------------------

    async def apost_json(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> Reply:
        """``post_json`` for asyncio."""
        response, content = await self._asend(url, payload, features, stream=False)
        return Reply(response.status_code, response.headers, self._decode(content, url))

    async def astream_lines(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> AsyncIterator[str]:
        """``stream_lines`` for asyncio."""
        import httpx

        response, _ = await self._asend(url, payload, features, stream=True)
        self._count_stream(+1)
        try:
            async for line in response.aiter_lines():
                yield line
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, url=url, during_stream=True) from exc
        finally:
            self._count_stream(-1)
            await response.aclose()

    async def _asend(
        self, url: str, payload: Mapping[str, Any], features: tuple[str, ...], *, stream: bool
    ) -> tuple[httpx.Response, bytes]:
        import httpx

        pool = await self._async_pool()
        request = self._request("POST", url, json.dumps(payload).encode(), self._stream_headers if stream else self._post_headers)
        attempt = 0
        while True:
            if attempt:
                restart(self._seconds)
            try:
                with self.within():
                    response = await pool.handle_async_request(request)
                    content = b""
                    if not stream or response.status_code >= 300:
                        try:
                            content = b"".join([chunk async for chunk in _acapped(response.aiter_bytes(), response.status_code)])
                        finally:
                            await response.aclose()
            except httpx.HTTPError as exc:
                if self._retryable_failure(exc, attempt):
                    await self._wait_async(url, attempt, type(exc).__name__, None)
                    attempt += 1
                    continue
                raise self._failure(exc, url) from exc
            logger.debug("POST %s: %d", url, response.status_code)
            if 300 <= response.status_code < 400:
                raise _redirect_error(response, url)
            if response.status_code < 400:
                return response, content
            error = self._status_error(response, content, url, features, attempt)
            if error is None:
                hint = self._retry.server_hint(response.status_code, response.headers, self._error_body(content))
                await self._wait_async(url, attempt, str(response.status_code), hint)
                attempt += 1
                continue
            raise error

    async def _wait_async(self, url: str, attempt: int, reason: str, hint: float | None) -> None:
        delay = self._retry.delay(attempt, hint)
        logger.info(
            "retrying POST %s after %s in %.2fs (retry %d of %d)", url, reason, delay, attempt + 1, self._retry.max_retries
        )
        import asyncio

        await asyncio.sleep(delay)

    async def _async_pool(self) -> httpx.AsyncHTTPTransport:
        if self._closed:
            raise ProviderAPIError("this model's HTTP connections are closed (the model was unloaded)")
        pool: httpx.AsyncHTTPTransport = await self._async_pools.get()
        return pool

    # -- shared ---------------------------------------------------------------------------

    def _request(self, method: str, url: str, content: bytes | None, headers: Mapping[str, str]) -> httpx.Request:
        import httpx

        return httpx.Request(method, url, content=content, headers=headers, extensions={"timeout": self._timeout})

    def _new_pool(self, *, asynchronous: bool) -> Any:
        import httpx

        from abstractllm_hf_api.deadline_backends import install as install_deadlines

        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=self._max_connections)
        kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
        with self._lock if asynchronous else contextlib.nullcontext():
            if self._ssl_context is None:  # loading the CA bundle takes ~50 ms: once per model, not per pool
                self._ssl_context = httpx.create_ssl_context()
        pool = kind(verify=self._ssl_context, limits=limits, proxy=environment_proxy(self._server), retries=0)
        install_deadlines(pool)
        return pool

    def _count_stream(self, change: int) -> None:
        with self._lock:
            self._open_streams += change

    def _failure(self, exc: httpx.HTTPError, url: str) -> AbstractLLMError:
        """The error for a failed attempt; waiting too long for a pooled connection names
        the streams left open, the usual cause."""
        import httpx

        if not isinstance(exc, httpx.PoolTimeout):
            return error_for_transport(exc, url=url)
        limit, seconds = self._max_connections, self._seconds
        if self._open_streams:
            return RequestTimeoutError(
                f"no connection to {url} became free within timeout={seconds:g}s: {self._open_streams} of the"
                f" max_connections={limit} are held by streams not read to their end nor closed; close a stream you"
                " stop reading early (stream.close(), await stream.aclose()) or raise max_connections",
                retryable=False,
            )
        return RequestTimeoutError(
            f"no connection to {url} became free within timeout={seconds:g}s: all max_connections={limit} stayed busy;"
            " raise max_connections, or timeout"
        )

    def _retryable_failure(self, exc: httpx.HTTPError, attempt: int) -> bool:
        import httpx

        not_retried = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)
        return isinstance(exc, httpx.TransportError) and not isinstance(exc, not_retried) and self._retry.should_retry(attempt)

    def _status_error(
        self, response: httpx.Response, content: bytes, url: str, features: tuple[str, ...], attempt: int
    ) -> AbstractLLMError | None:
        """None when the answer should be retried, else the error to raise."""
        status = response.status_code
        if status in RETRY_STATUSES and self._retry.should_retry(attempt):
            return None
        return error_for_status(
            status,
            self._error_body(content),
            url=url,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            features=features,
        )

    @staticmethod
    def _error_body(content: bytes) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            return content.decode("utf-8", errors="replace")

    @staticmethod
    def _decode(content: bytes, url: str) -> Any:
        try:
            return json.loads(content)
        except ValueError as exc:
            snippet = content[:200].decode("utf-8", errors="replace")
            raise ProviderAPIError(f"{url} answered with malformed JSON: {snippet!r}", original_exception=exc) from exc

    def close(self) -> None:
        """Close every pool; safe to call more than once. Called from inside an event loop,
        the running loop's pool closes as soon as the loop next runs (``aclose`` waits for it)."""
        for loop, keeper in self._take_pools():
            close_on_its_loop(loop, keeper)

    async def aclose(self) -> None:
        """Close every pool, the running loop's before this returns; safe to call more than once."""
        import asyncio

        running = asyncio.get_running_loop()
        for loop, keeper in self._take_pools():
            if loop is running:
                await keeper.aclose()
            else:
                close_on_its_loop(loop, keeper)

    def _take_pools(self) -> list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]]:
        """Mark the transport closed, close the sync pool, and hand over the async pools' keepers."""
        with self._lock:
            self._closed = True
            if self._sync_pool is not None:
                self._sync_pool.close()
        return self._async_pools.take()


def _redirect_error(response: httpx.Response, url: str) -> ProviderAPIError:
    location = mask_credentials(response.headers.get("location", "(no Location header)"))
    return ProviderAPIError(
        f"{url} redirected the request ({response.status_code}) to {location!r}; redirects are not followed, so that a"
        " token never travels to a host it was not given for: give the final URL (inference_api_url=, or"
        " api_base_url= for the router)",
        details={"status": response.status_code, "location": location},
    )


#: How much of an error answer's body is read (and so can be quoted); the rest is dropped with the connection.
ERROR_BODY_BYTES = 64 * 1024


def _capped(chunks: Iterator[bytes], status: int) -> Iterator[bytes]:
    """A body's chunks, all of them for a success, at most :data:`ERROR_BODY_BYTES` for an error."""
    kept = 0
    for chunk in chunks:
        yield chunk
        kept += len(chunk)
        if status >= 400 and kept >= ERROR_BODY_BYTES:
            return


async def _acapped(chunks: AsyncIterator[bytes], status: int) -> AsyncIterator[bytes]:
    """:func:`_capped` for asyncio."""
    kept = 0
    async for chunk in chunks:
        yield chunk
        kept += len(chunk)
        if status >= 400 and kept >= ERROR_BODY_BYTES:
            return


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``<scheme>_PROXY``, else ``ALL_PROXY``,
    unless ``NO_PROXY`` covers its host), read the way urllib and httpx read it; None for none."""
    import urllib.request

    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
