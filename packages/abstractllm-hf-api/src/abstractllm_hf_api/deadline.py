"""Deadlines that bound a whole request, not each socket operation.

httpx's timeouts apply to each read, so a server that sends its headers or body a byte at
a time never trips them. The pools of :class:`~abstractllm_hf_api.transport.Transport` read
through :class:`DeadlineBackend` / :class:`AsyncDeadlineBackend`, which clamp the timeout of
every connect, TLS handshake, read and write to the time left before the deadline of the
current context (set with :func:`deadline`), and raise httpcore's timeout once it passed.
A context without a deadline reads with httpx's own timeouts.

The deadline lives in a ``ContextVar``, so threads and asyncio tasks each have their own.
A ``with deadline(...)`` block must not span a ``yield`` of a generator (the caller's
context would keep it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore

__all__ = ["AsyncDeadlineBackend", "DeadlineBackend", "deadline", "install", "restart", "time_left"]


class _Ends:
    """When the current deadline passes (``time.monotonic()`` seconds); :func:`restart` moves it."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


_DEADLINE: ContextVar[_Ends | None] = ContextVar("abstractllm_hf_api_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation inside the block ends at most ``seconds`` from now.

    A deadline already set and earlier is kept (a nested block never extends it).
    """
    ends = time.monotonic() + seconds
    current = _DEADLINE.get()
    token = _DEADLINE.set(_Ends(ends if current is None else min(current.at, ends)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def restart(seconds: float) -> None:
    """Move the current deadline (if any) to ``seconds`` from now: a retry starts its own
    ``timeout`` after waiting, instead of inheriting what the failed attempt and the wait left."""
    current = _DEADLINE.get()
    if current is not None:
        current.at = time.monotonic() + seconds


def time_left(timeout: float | None) -> float | None:
    """``timeout`` clamped to the time left before the current deadline (None: no bound);
    raises ``httpcore.ReadTimeout`` once the deadline passed."""
    current = _DEADLINE.get()
    if current is None:
        return timeout
    left = current.at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, time_left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync network backend with every operation bounded by the current deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_tcp(host, port, time_left(timeout), local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, time_left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, time_left(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, time_left(timeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _AsyncStream:
        return _AsyncStream(await self._stream.start_tls(ssl_context, server_hostname, time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    """httpcore's async network backend with every operation bounded by the current deadline."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, time_left(timeout), local_address, socket_options)
        return _AsyncStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._backend.connect_unix_socket(path, time_left(timeout), socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def install(transport: Any) -> None:
    """Make an ``httpx.HTTPTransport`` / ``httpx.AsyncHTTPTransport`` read through the
    deadline backends. httpx has no public hook for its network backend, so this wraps the
    one its httpcore pool holds; it raises ``RuntimeError`` if httpx's layout changed
    (the package's tests catch that before a user does)."""
    pool: Any = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if pool is None or backend is None:
        raise RuntimeError("httpx's transport no longer exposes its network backend; abstractllm-hf-api needs updating")
    wrapper = AsyncDeadlineBackend if isinstance(backend, httpcore.AsyncNetworkBackend) else DeadlineBackend
    pool._network_backend = wrapper(backend)
