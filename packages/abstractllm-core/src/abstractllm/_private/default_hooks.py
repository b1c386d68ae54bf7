"""Core's own hook implementations: they run last and delegate to the loaded backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from typing import Any

from abstractllm.backend import Backend
from abstractllm.hookspecs import hookimpl
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta


@hookimpl(trylast=True)
def abstractllm_generate(backend: Backend, request: GenerationRequest) -> Completion:
    return backend.generate(request)


@hookimpl(trylast=True)
def abstractllm_generate_stream(backend: Backend, request: GenerationRequest) -> Iterator[StreamDelta]:
    return backend.stream(request)


@hookimpl(trylast=True)
def abstractllm_generate_async(backend: Backend, request: GenerationRequest) -> Awaitable[Completion]:
    return backend.generate_async(request)


@hookimpl(trylast=True)
def abstractllm_generate_stream_async(backend: Backend, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
    return backend.stream_async(request)


@hookimpl(trylast=True)
def abstractllm_capabilities(backend: Backend) -> Mapping[str, Any]:
    return backend.capabilities()
