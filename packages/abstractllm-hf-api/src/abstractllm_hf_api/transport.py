"""HTTP for one model: a pooled ``httpx.Client``, pooled ``httpx.AsyncClient`` s, retries.

One ``httpx.Client`` serves every sync call. An ``httpx.AsyncClient`` belongs to the event
loop it was created on, so there is one per running loop (normally exactly one); both are
closed by :meth:`Transport.close`. Retries (see :class:`~abstractllm_hf_api.retry.RetryPolicy`)
cover connection failures and 429/502/503/504 answers, and happen only before a reply body
is handed on: once a stream has begun, a failure is raised, never retried. Redirects are not
followed, so the token never travels to a host it was not meant for. httpx itself is imported
with the first client, so creating a model stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.errors import AbstractLLMError, ProviderAPIError
from abstractllm_hf_api import __version__
from abstractllm_hf_api.errors import error_for_status, error_for_transport
from abstractllm_hf_api.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from abstractllm_hf_api.security import Token, redact

if TYPE_CHECKING:
    import asyncio

    import httpx

__all__ = ["Reply", "Transport"]

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
    """

    def __init__(
        self,
        *,
        token: Token | None,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
        max_connections: int,
    ) -> None:
        self._token = token
        self._retry = retry
        self._timeouts = (timeout, min(connect_timeout, timeout))
        self._max_connections = max_connections
        self._headers = {"User-Agent": f"abstractllm-hf-api/{__version__}", "Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token.reveal()}"
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self._sync_client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<Transport authorized={self._token is not None} retries={self._retry.max_retries}>"

    # -- sync -----------------------------------------------------------------------------

    @property
    def _client(self) -> httpx.Client:
        """The sync client, created on first use (so creating a model costs no TLS setup)."""
        client = self._sync_client
        if client is None:
            with self._lock:
                if self._closed:
                    raise ProviderAPIError("this model's HTTP clients are closed (the model was unloaded)")
                if self._sync_client is None:
                    self._sync_client = self._new_client(asynchronous=False)
                client = self._sync_client
        return client

    def get_json(self, url: str) -> Reply | None:
        """One GET without retries (for cheap probes): the reply, or None on any failure or error status."""
        import httpx

        try:
            response = self._client.get(url, headers=self._headers)
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
        response = self._send(url, payload, features, stream=False)
        return Reply(response.status_code, response.headers, self._decode(response, url))

    def stream_lines(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> Iterator[str]:
        """POST ``payload`` and yield the answer's lines as they arrive (retries only before the first)."""
        import httpx

        response = self._send(url, payload, features, stream=True)
        try:
            yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, url=url, during_stream=True) from exc
        finally:
            response.close()

    def _send(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...], *, stream: bool) -> httpx.Response:
        import httpx

        content = json.dumps(payload).encode()
        headers = {**(self._stream_headers if stream else self._headers), "Content-Type": "application/json"}
        attempt = 0
        while True:
            request = self._client.build_request("POST", url, content=content, headers=headers)
            try:
                response = self._client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                if self._retryable_failure(exc, attempt):
                    self._wait_sync(url, attempt, type(exc).__name__, None)
                    attempt += 1
                    continue
                raise error_for_transport(exc, url=url) from exc
            if response.status_code < 400:
                return response
            body = self._error_body(response.read() if stream else response.content)
            response.close()
            error = self._status_error(response, body, url, features, attempt)
            if error is None:
                hint = self._retry.server_hint(response.status_code, response.headers, body)
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
        response = await self._asend(url, payload, features, stream=False)
        return Reply(response.status_code, response.headers, self._decode(response, url))

    async def aget_json(self, url: str) -> Reply | None:
        """``get_json`` for asyncio."""
        import httpx

        try:
            response = await self._async_client().get(url, headers=self._headers)
        except httpx.HTTPError:
            return None
        if response.status_code >= 400:
            return None
        try:
            return Reply(response.status_code, response.headers, json.loads(response.content))
        except ValueError:
            return None

    async def astream_lines(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...] = ()) -> AsyncIterator[str]:
        """``stream_lines`` for asyncio."""
        import httpx

        response = await self._asend(url, payload, features, stream=True)
        try:
            async for line in response.aiter_lines():
                yield line
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, url=url, during_stream=True) from exc
        finally:
            await response.aclose()

    async def _asend(self, url: str, payload: Mapping[str, Any], features: tuple[str, ...], *, stream: bool) -> httpx.Response:
        import httpx

        client = self._async_client()
        content = json.dumps(payload).encode()
        headers = {**(self._stream_headers if stream else self._headers), "Content-Type": "application/json"}
        attempt = 0
        while True:
            request = client.build_request("POST", url, content=content, headers=headers)
            try:
                response = await client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                if self._retryable_failure(exc, attempt):
                    await self._wait_async(url, attempt, type(exc).__name__, None)
                    attempt += 1
                    continue
                raise error_for_transport(exc, url=url) from exc
            if response.status_code < 400:
                return response
            body = self._error_body(await response.aread() if stream else response.content)
            await response.aclose()
            error = self._status_error(response, body, url, features, attempt)
            if error is None:
                hint = self._retry.server_hint(response.status_code, response.headers, body)
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

    def _async_client(self) -> httpx.AsyncClient:
        if self._closed:
            raise ProviderAPIError("this model's HTTP clients are closed (the model was unloaded)")
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            with self._lock:
                client = self._async_clients.get(loop)
                if client is None:
                    client = self._new_client(asynchronous=True)
                    self._async_clients[loop] = client
        return client

    # -- shared ---------------------------------------------------------------------------

    def _new_client(self, *, asynchronous: bool) -> Any:
        import httpx

        timeout = httpx.Timeout(self._timeouts[0], connect=self._timeouts[1])
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=self._max_connections)
        kind = httpx.AsyncClient if asynchronous else httpx.Client
        return kind(timeout=timeout, limits=limits, follow_redirects=False)

    def _retryable_failure(self, exc: httpx.HTTPError, attempt: int) -> bool:
        import httpx

        not_retried = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)
        return isinstance(exc, httpx.TransportError) and not isinstance(exc, not_retried) and self._retry.should_retry(attempt)

    def _status_error(
        self, response: httpx.Response, body: Any, url: str, features: tuple[str, ...], attempt: int
    ) -> AbstractLLMError | None:
        """None when the answer should be retried, else the error to raise."""
        status = response.status_code
        if status in RETRY_STATUSES and self._retry.should_retry(attempt):
            return None
        return error_for_status(
            status,
            body,
            url=url,
            token=self._token,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            features=features,
        )

    @staticmethod
    def _error_body(content: bytes) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            return content.decode("utf-8", errors="replace")

    def _decode(self, response: httpx.Response, url: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError as exc:
            snippet = redact(response.content[:200].decode("utf-8", errors="replace"), self._token)
            raise ProviderAPIError(f"{url} answered with malformed JSON: {snippet!r}", original_exception=exc) from exc

    def close(self) -> None:
        """Close every client; safe to call more than once and from inside an event loop."""
        with self._lock:
            self._closed = True
            if self._sync_client is not None:
                self._sync_client.close()
            clients = list(self._async_clients.items())
            self._async_clients.clear()
        for loop, client in clients:
            _close_async_client(loop, client)


def _close_async_client(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    import asyncio

    if loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):
        running = asyncio.get_running_loop()
        if running is loop:
            task = loop.create_task(client.aclose())
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
            return
    if loop.is_running():
        future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=5)
        return
    with contextlib.suppress(Exception):
        loop.run_until_complete(client.aclose())


_PENDING: set[asyncio.Task[None]] = set()
