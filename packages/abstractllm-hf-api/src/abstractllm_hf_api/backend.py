"""The loaded model of the ``api`` and ``endpoint`` modes: generation over a :class:`Protocol`."""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

from abstractllm.backend import Backend, BackendInfo, Capabilities, sequence_request
from abstractllm.blocks import FALLBACK_MARKUP, ReplyAssembler
from abstractllm.errors import AbstractLLMError, ProviderAPIError, UnsupportedFeatureError
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage
from abstractllm_hf_api.constraints import raise_unmet
from abstractllm_hf_api.errors import error_for_transport, scrub
from abstractllm_hf_api.openai_protocol import RESPONSE_FORMAT_DIALECTS, OpenAIChat
from abstractllm_hf_api.protocol import Call, Protocol, StreamState
from abstractllm_hf_api.sse import SSEEvent, aiter_sse, iter_sse
from abstractllm_hf_api.transport import Reply, Transport

__all__ = ["ApiBackend"]

logger = logging.getLogger(__name__)


class ApiBackend(Backend):
    """A model served over HTTP.

    ``protocol`` serves ordinary requests; ``raw_protocol`` (if any) serves ``raw=True``
    ones (a completion route next to a chat route). ``num_return_sequences`` is sent as
    ``n`` where the protocol has it; sequences a server does not return (llama.cpp's server
    ignores ``n``, TGI has none) are asked for in further requests (seed + i when seeded),
    and the usage is the sum of what every request used. Every reply's text is fed to core's
    reply assembler, as in the local modes: stop sequences are cut on this side too (a server
    that leaves them in its text never shows them), and ``<tool_call>`` blocks a server left
    in the text of a reply with tools offered are read as calls.
    """

    def __init__(
        self,
        info: BackendInfo,
        *,
        model_name: str,
        transport: Transport,
        protocol: Protocol,
        raw_protocol: Protocol | None,
        context_window: int | None,
        claims_seed: bool,
        where: str,
    ) -> None:
        self.info = info
        self.model_name = model_name
        self.transport = transport
        self.protocol = protocol
        self.raw_protocol = raw_protocol
        self._context_window = context_window
        self._claims_seed = claims_seed
        self._where = where

    def __repr__(self) -> str:
        return f"<ApiBackend mode={self.info.mode!r} model={self.model_name!r} at {self._where} protocol={self.protocol.name!r}>"

    # -- contract -------------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        protocol = self.protocol
        return Capabilities(
            context_window=self._context_window,
            seed=self._claims_seed,
            multiple_sequences=True,
            parallel_inference=True,
            structured_output=protocol.supports_json,
            tool_use=protocol.supports_tools,
            chat_template=protocol.chat_template,
        )

    def context_window(self) -> int | None:
        return self._context_window

    def _translate(self, error: Exception) -> AbstractLLMError | None:
        """An httpx error (named with this model's URL), or any error whose text shows the token,
        as an ``abstractllm`` error; None to leave ``error`` to core's mapping."""
        httpx = sys.modules.get("httpx")
        if httpx is not None and isinstance(error, httpx.HTTPError):
            return error_for_transport(error, url=self._where)
        token = self.transport.token
        if token is not None and token.reveal() in f"{error}{error!r}":
            return ProviderAPIError(f"{type(error).__name__}: {error}", original_exception=error)
        return None

    @contextlib.contextmanager
    def _scrubbed(self) -> Iterator[None]:
        """Every error leaving the block as an ``abstractllm`` error goes through :func:`scrub`
        (the one place where the token is redacted and long messages are cut)."""
        try:
            yield
        except AbstractLLMError as exc:
            scrub(exc, self.transport.token)
            raise
        except Exception as exc:
            mapped = self._translate(exc)
            if mapped is None:
                raise
            mapped.__cause__ = exc
            scrub(mapped, self.transport.token)  # redacts the cause chain too
            raise mapped from mapped.__cause__

    def close(self) -> None:
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def generate(self, request: GenerationRequest) -> Completion:
        with self._scrubbed():
            return self._generate(request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        """Deltas as they arrive. ``timeout`` bounds the wait for each delta: from the call to
        the first one (opening the stream included), then from each delta to the next."""
        with self._scrubbed():
            yield from self._stream(request)

    async def generate_async(self, request: GenerationRequest) -> Completion:
        with self._scrubbed():
            return await self._generate_async(request)

    async def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        """:meth:`stream` for asyncio, with the same bound on each wait."""
        deltas = self._stream_async(request)
        try:
            with self._scrubbed():
                async for delta in deltas:
                    yield delta
        finally:
            await deltas.aclose()

    # -- sync -----------------------------------------------------------------------------

    def _generate(self, request: GenerationRequest) -> Completion:
        protocol = self._protocol_for(request)
        wanted = request.params.num_return_sequences
        first = self._post(protocol, request, n=self._batch_size(protocol, wanted))
        completion = protocol.completion(first.body, first.headers, request)
        extras = [
            protocol.completion(reply.body, reply.headers, extra)
            for extra in self._extra_requests(request, wanted - len(completion.choices))
            for reply in [self._post(protocol, extra, n=1)]
        ]
        return self._finish(completion, extras, request)

    def _stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        protocol = self._protocol_for(request)
        within = self.transport.within
        with within():  # one deadline from the call to the first delta
            lines, state = self._open_stream(protocol, request)
            events, assembler = iter_sse(lines), _Assembler(state, request, self._where)
            try:
                delta = _next_delta(events, assembler, state)
            except BaseException:
                lines.close()
                raise
        try:
            while delta is not None:
                yield delta
                with within():
                    delta = _next_delta(events, assembler, state)
            with within(_DRAIN_SECONDS):
                _drain(lines)
            lines.close()
            yield from assembler.finish()
        finally:
            lines.close()

    def _post(self, protocol: Protocol, request: GenerationRequest, *, n: int) -> Reply:
        while True:
            call = protocol.call(request, stream=False, n=n)
            try:
                return self.transport.post_json(call.url, call.payload, call.features)
            except UnsupportedFeatureError as exc:
                if not self._next_dialect(protocol, call, exc):
                    raise

    def _open_stream(self, protocol: Protocol, request: GenerationRequest) -> tuple[Generator[str, None, None], StreamState]:
        """Open the stream (retries happen here, before any text) and return its lines."""
        while True:
            call = protocol.call(request, stream=True, n=1)
            lines = self.transport.stream_lines(call.url, call.payload, call.features)
            try:
                first = next(lines, None)
            except UnsupportedFeatureError as exc:
                if not self._next_dialect(protocol, call, exc):
                    raise
                continue
            return _prepend(first, lines), protocol.stream_state(request)

    # -- async ----------------------------------------------------------------------------

    async def _generate_async(self, request: GenerationRequest) -> Completion:
        protocol = self._protocol_for(request)
        wanted = request.params.num_return_sequences
        first = await self._apost(protocol, request, n=self._batch_size(protocol, wanted))
        completion = protocol.completion(first.body, first.headers, request)
        extra_requests = self._extra_requests(request, wanted - len(completion.choices))
        import asyncio

        replies = await asyncio.gather(*(self._apost(protocol, extra, n=1) for extra in extra_requests))
        extras = [
            protocol.completion(reply.body, reply.headers, extra) for reply, extra in zip(replies, extra_requests, strict=True)
        ]
        return self._finish(completion, extras, request)

    async def _stream_async(self, request: GenerationRequest) -> AsyncGenerator[StreamDelta, None]:
        protocol = self._protocol_for(request)
        within = self.transport.within
        with within():  # one deadline from the call to the first delta
            lines, state = await self._aopen_stream(protocol, request)
            events, assembler = aiter_sse(lines), _Assembler(state, request, self._where)
            try:
                delta = await _anext_delta(events, assembler, state)
            except BaseException:
                await lines.aclose()
                raise
        try:
            while delta is not None:
                yield delta
                with within():
                    delta = await _anext_delta(events, assembler, state)
            with within(_DRAIN_SECONDS):
                await _adrain(lines)
            await lines.aclose()
            for delta in assembler.finish():
                yield delta
        finally:
            await lines.aclose()

    async def _apost(self, protocol: Protocol, request: GenerationRequest, *, n: int) -> Reply:
        while True:
            call = protocol.call(request, stream=False, n=n)
            try:
                return await self.transport.apost_json(call.url, call.payload, call.features)
            except UnsupportedFeatureError as exc:
                if not self._next_dialect(protocol, call, exc):
                    raise

    async def _aopen_stream(self, protocol: Protocol, request: GenerationRequest) -> tuple[Any, StreamState]:
        while True:
            call = protocol.call(request, stream=True, n=1)
            lines = self.transport.astream_lines(call.url, call.payload, call.features)
            try:
                first = await anext(lines, None)
            except UnsupportedFeatureError as exc:
                if not self._next_dialect(protocol, call, exc):
                    raise
                continue
            return _aprepend(first, lines), protocol.stream_state(request)

    # -- shared ---------------------------------------------------------------------------

    def _protocol_for(self, request: GenerationRequest) -> Protocol:
        if not request.raw or not isinstance(self.protocol, OpenAIChat):
            return self.protocol
        if self.raw_protocol is None:
            raise UnsupportedFeatureError(
                f"raw=True needs a text-completion route, and {self._where} only serves chat; "
                "use provider='hf-inference' or an endpoint with /v1/completions or TGI's /generate",
                feature="raw",
            )
        if request.response_format is not None or request.offers_tools:
            raise UnsupportedFeatureError("raw=True completes text only: drop tools and response_format", feature="raw")
        return self.raw_protocol

    @staticmethod
    def _batch_size(protocol: Protocol, wanted: int) -> int:
        return wanted if isinstance(protocol, (OpenAIChat,)) or protocol.name == "openai-completions" else 1

    @staticmethod
    def _next_dialect(protocol: Protocol, call: Call, error: UnsupportedFeatureError) -> bool:
        """Switch an OpenAI chat route to the next ``response_format`` spelling after a rejection."""
        if error.feature != "response_format" or not isinstance(protocol, OpenAIChat) or "response_format" not in call.features:
            return False
        position = RESPONSE_FORMAT_DIALECTS.index(protocol.dialect)
        if position + 1 >= len(RESPONSE_FORMAT_DIALECTS):
            protocol.dialect = RESPONSE_FORMAT_DIALECTS[0]
            return False
        protocol.dialect = RESPONSE_FORMAT_DIALECTS[position + 1]
        logger.info("%s rejected response_format; trying the %r spelling", call.url, protocol.dialect)
        return True

    @staticmethod
    def _extra_requests(request: GenerationRequest, missing: int) -> list[GenerationRequest]:
        """Requests for the sequences after the first, one each (core's fan-out: seed + i)."""
        return [sequence_request(request, index + 1) for index in range(max(0, missing))]

    def _finish(self, completion: Completion, extras: list[Completion], request: GenerationRequest) -> Completion:
        choices: list[Choice] = list(completion.choices)
        prompt, generated = completion.usage.prompt_tokens, completion.usage.completion_tokens
        for extra in extras:
            choices.extend(extra.choices)
            prompt += extra.usage.prompt_tokens
            generated += extra.usage.completion_tokens
        replies = []
        for choice in choices[: request.params.num_return_sequences]:
            reply = ReplyAssembler(request, FALLBACK_MARKUP)
            reply.feed(choice.text)
            reply.finish(choice.finish_reason, tool_calls=choice.tool_calls)
            raise_unmet(reply.unmet, request, where=self._where)
            replies.append(reply.choice())
        return Completion(choices=replies, usage=Usage(prompt, generated), model=completion.model)


class _Assembler:
    """Turns stream events into deltas: their text fed to core's reply assembler, then one final
    delta (after checking that the reply honoured the request's constraints)."""

    def __init__(self, state: StreamState, request: GenerationRequest, where: str) -> None:
        self._state = state
        self._reply = ReplyAssembler(request, FALLBACK_MARKUP)
        self._request = request
        self._where = where

    def feed(self, event: SSEEvent) -> StreamDelta | None:
        text = self._reply.feed(self._state.feed(event))
        return StreamDelta(text=text) if text else None

    def finish(self) -> list[StreamDelta]:
        """The last deltas; raises when the reply ignored a forced tool call or the response format."""
        end = self._state.end()
        final = self._reply.finish(end.finish_reason, end.usage, end.tool_calls)
        raise_unmet(self._reply.unmet, self._request, where=self._where)
        if not final.text:
            return [final]
        return [StreamDelta(text=final.text), StreamDelta("", final.finish_reason, final.usage, final.tool_calls)]


#: Lines read after a stream's end marker (see :func:`_drain`), and the seconds allowed for them.
_TRAILING_LINES = 16
_DRAIN_SECONDS = 0.1


def _next_delta(events: Iterator[SSEEvent], assembler: _Assembler, state: StreamState) -> StreamDelta | None:
    """The next delta with text, or None once the server marked the end or the events ran out."""
    while not state.done:
        event = next(events, None)
        if event is None:
            return None
        delta = assembler.feed(event)
        if delta is not None:
            return delta
    return None


async def _anext_delta(events: AsyncIterator[SSEEvent], assembler: _Assembler, state: StreamState) -> StreamDelta | None:
    """:func:`_next_delta` for asyncio."""
    while not state.done:
        event = await anext(events, None)
        if event is None:
            return None
        delta = assembler.feed(event)
        if delta is not None:
            return delta
    return None


def _drain(lines: Iterator[str]) -> None:
    """Read the little that follows a stream's end marker (up to the end of the HTTP body),
    so that the connection goes back to the pool instead of being dropped and opened anew
    (a TLS handshake per stream). At most ``_TRAILING_LINES`` lines, within the caller's
    (short) deadline: a server that keeps the body open after its end marker costs its
    connection, never the caller's time. A failure here is ignored, since the reply is complete."""
    with contextlib.suppress(AbstractLLMError):
        for _ in itertools.islice(lines, _TRAILING_LINES):
            pass


async def _adrain(lines: AsyncIterator[str]) -> None:
    """:func:`_drain` for asyncio."""
    with contextlib.suppress(AbstractLLMError):
        count = 0
        async for _ in lines:
            count += 1
            if count >= _TRAILING_LINES:
                break


def _prepend(first: str | None, rest: Iterator[str]) -> Generator[str, None, None]:
    try:
        if first is not None:
            yield first
            yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


async def _aprepend(first: str | None, rest: Any) -> AsyncIterator[str]:
    try:
        if first is not None:
            yield first
            async for line in rest:
                yield line
    finally:
        with contextlib.suppress(RuntimeError):
            await rest.aclose()
