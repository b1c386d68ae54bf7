"""From what a backend returned to what the caller gets: :class:`Delivery`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING

from abstractllm._private.observe import Observer, StreamClock
from abstractllm._private.reply_check import StreamedReplyCheck, require_valid_reply
from abstractllm.backend import Backend
from abstractllm.errors import AbstractLLMError, GenerationError
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, GenerateResponse, StreamChunk, StreamDelta, Timing
from abstractllm.tools import check_tool_calls

if TYPE_CHECKING:
    from abstractllm._private.plugins import Plugins

__all__ = ["Delivery"]


class Delivery:
    """Turns one model's completions and streams of deltas into responses and chunks: each reply
    checked against the request's ``response_format`` (never a false success) and its tool calls
    against the offered tools, a backend's exception mapped to ``abstractllm.errors``
    (``map_error``), and every stream reported to the call observer when it ends."""

    def __init__(
        self,
        plugins: Plugins,
        observer: Observer,
        provider: str,
        mode: str,
        model: Callable[[], str],
        map_error: Callable[[BaseException], AbstractLLMError],
    ) -> None:
        self._plugins = plugins
        self._observer = observer
        self.provider = provider
        self.mode = mode
        self._model = model
        self._map_error = map_error

    def response(self, completion: Completion, request: GenerationRequest, timing: Timing) -> GenerateResponse:
        if not completion.choices:
            raise self._map_error(GenerationError("the backend returned no sequence"))
        responses = []
        for choice in completion.choices:
            require_valid_reply(choice.text, request.response_format, choice.finish_reason)  # never a false success
            calls = check_tool_calls(choice.tool_calls, request.tools) if choice.tool_calls else []
            responses.append(
                GenerateResponse(
                    choice.text,
                    model=completion.model or self._model(),
                    provider=self.provider,
                    mode=self.mode,
                    finish_reason=choice.finish_reason,
                    usage=completion.usage,
                    timing=timing,
                    tool_calls=calls,
                    response_format=request.response_format,
                    plugins=self._plugins,
                )
            )
        first = responses[0]
        first.choices = responses
        return first

    @staticmethod
    def _chunk(
        delta: StreamDelta, request: GenerationRequest, clock: StreamClock, check: StreamedReplyCheck, model: str
    ) -> StreamChunk:
        clock.saw(delta)
        if delta.finish_reason is None and not delta.tool_calls:  # a piece of text: the common case, kept short
            check.feed(delta.text, None)
            return StreamChunk(delta.text, model=model)
        check.feed(delta.text, delta.finish_reason)  # the last chunk of a reply the schema rejects is an error
        calls = check_tool_calls(delta.tool_calls, request.tools) if delta.tool_calls else None
        timing = clock.timing() if delta.finish_reason is not None else None
        return StreamChunk(
            delta.text, finish_reason=delta.finish_reason, usage=delta.usage, tool_calls=calls, model=model, timing=timing
        )

    def stream(self, backend: Backend, request: GenerationRequest) -> Generator[StreamChunk, None, None]:
        clock = StreamClock(self._observer.active)
        check = StreamedReplyCheck(request.response_format)
        model = self._model()
        deltas = self._plugins.call("abstractllm_generate_stream", backend.stream, backend, request)
        try:
            for delta in deltas:
                yield self._chunk(delta, request, clock, check, model)
        except GeneratorExit:
            self._observer.stream("stream", request, clock, abandoned=True)
            raise
        except Exception as exc:
            error = self._map_error(exc)
            self._observer.stream("stream", request, clock, error=error)
            raise error from error.__cause__  # the backend's exception, or an abstractllm error's own cause
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()
        self._observer.stream("stream", request, clock)

    async def stream_async(self, backend: Backend, request: GenerationRequest) -> AsyncGenerator[StreamChunk, None]:
        clock = StreamClock(self._observer.active)
        check = StreamedReplyCheck(request.response_format)
        model = self._model()
        deltas = self._plugins.call("abstractllm_generate_stream_async", backend.stream_async, backend, request)
        try:
            async for delta in deltas:
                yield self._chunk(delta, request, clock, check, model)
        except GeneratorExit:
            self._observer.stream("stream_async", request, clock, abandoned=True)
            raise
        except Exception as exc:
            error = self._map_error(exc)
            self._observer.stream("stream_async", request, clock, error=error)
            raise error from error.__cause__  # the backend's exception, or an abstractllm error's own cause
        except BaseException:  # cancelled
            self._observer.stream("stream_async", request, clock, abandoned=True)
            raise
        finally:  # the backend's stream lets go of its model now, not when the loop finalises it
            close = getattr(deltas, "aclose", None)
            if close is not None:
                await close()
        self._observer.stream("stream_async", request, clock)
