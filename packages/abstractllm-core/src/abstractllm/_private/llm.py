"""The model object users hold: what ``create_llm`` returns."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from abstractllm._private.call_validation import CallValidator
from abstractllm._private.delivery import Delivery
from abstractllm._private.error_mapping import map_exception
from abstractllm._private.observe import Observer
from abstractllm.backend import Backend, BackendInfo, Capabilities
from abstractllm.backend.messages import Message
from abstractllm.config import ConfigManager
from abstractllm.errors import (
    AbstractLLMError,
    ContextWindowExceededError,
    UnsupportedFeatureError,
    UnsupportedOperationError,
)
from abstractllm.request import GenerationRequest
from abstractllm.response import GenerateResponse, StreamChunk, Timing

if TYPE_CHECKING:
    from abstractllm._private.plugins import Plugins

__all__ = ["AbstractLLMInterface"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AbstractLLMInterface:
    """A loaded model of some provider and mode.

    ``generate`` returns a :class:`GenerateResponse` (a ``str``), or with
    ``stream=True`` a generator of :class:`StreamChunk` (also ``str``).
    ``generate_async`` is the same for asyncio and never blocks the event loop.
    Parameters given to a call override the model's configuration for that call only.
    ``unload()`` (or leaving a ``with`` block) frees the model; the object is unusable after.
    """

    def __init__(self, backend: Backend, info: BackendInfo, config_manager: ConfigManager, plugins: Plugins) -> None:
        self._backend: Backend | None = backend
        self._info = info
        self._plugins = plugins
        self.config_manager = config_manager
        self._lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self._validator = CallValidator(info, config_manager)
        self._observer = Observer(plugins, info.provider, info.mode, self._model_name)
        self._delivery = Delivery(plugins, self._observer, info.provider, info.mode, lambda: self.model, self._map)

    # -- identity -------------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return self._info.provider

    @property
    def mode(self) -> str:
        return self._info.mode

    @property
    def model(self) -> str:
        return self._require_backend().model_name

    @property
    def backend(self) -> Backend:
        """The loaded backend (for plugin authors and tests)."""
        return self._require_backend()

    def __repr__(self) -> str:
        name = self._backend.model_name if self._backend is not None else "<unloaded>"
        return f"<{type(self).__name__} provider={self.provider!r} mode={self.mode!r} model={name!r}>"

    # -- configuration ------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The effective configuration; secrets such as ``api_key`` are masked."""
        return self.config_manager.get_config()

    @property
    def config(self) -> dict[str, Any]:
        """Alias of :meth:`get_config` as a property: the original library's ``provider.config``."""
        return self.get_config()

    def update_config(self, config: Mapping[Any, Any]) -> None:
        """Validate and change per-instance parameters (generation parameters apply to later calls)."""
        self.config_manager.update_config(config)

    def set_config(self, **kwargs: Any) -> None:
        self.update_config(kwargs)

    def get_param(self, name: Any, default: Any = None) -> Any:
        return self.config_manager.get_param(name, default)

    def get_capabilities(self) -> dict[str, Any]:
        """``ModelCapability`` values to values; look up with members or strings alike.

        Computed once per loaded model (capabilities do not change after loading); the
        caller gets a copy.
        """
        return self.capabilities.to_dict()

    @property
    def capabilities(self) -> Capabilities:
        """What the loaded model supports, typed: the backend's answer with every plugin's
        ``abstractllm_capabilities`` answer written over it (computed once per loaded model)."""
        backend = self._require_backend()
        if self._capabilities is None:
            merged: Capabilities | None = None
            for answer in reversed(self._plugins.hook.abstractllm_capabilities(backend=backend)):
                if answer:
                    merged = Capabilities.from_mapping(answer) if merged is None else merged.updated(answer)
            self._capabilities = merged or Capabilities()
        return self._capabilities

    # -- generation -----------------------------------------------------------------------

    @overload
    def generate(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse: ...

    @overload
    def generate(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> Generator[StreamChunk, None, None]: ...

    @overload
    def generate(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse | Generator[StreamChunk, None, None]: ...

    def generate(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse | Generator[StreamChunk, None, None]:
        """Generate a reply to ``prompt`` (a string, or a list of chat messages).

        A string is one user turn through the model's chat template (a raw completion on
        models without one); ``raw=True`` completes the string verbatim on any model.
        ``messages`` (the original library's keyword) is a conversation placed before
        ``prompt``. ``params`` are generation parameters (``temperature``, ``max_tokens``,
        ``top_p``, ``top_k``, ``repetition_penalty``, ``do_sample``,
        ``num_return_sequences``, ``seed``, ``stop`` and the backend's own).
        """
        request = self._build_request(prompt, system_prompt, stream, tools, tool_choice, response_format, raw, messages, params)
        backend = self._require_backend()
        if stream:
            return self._delivery.stream(backend, request)
        started = time.perf_counter()
        try:
            completion = self._plugins.call("abstractllm_generate", backend.generate, backend, request)
            response = self._delivery.response(completion, request, Timing(total=time.perf_counter() - started))
        except Exception as exc:
            error = self._map(exc)
            self._observer.call("generate", request, started, error=error)
            raise error from error.__cause__  # the backend's exception, or an abstractllm error's own cause
        self._observer.call("generate", request, started, completion=completion, timing=response.timing)
        return response

    @overload
    async def generate_async(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse: ...

    @overload
    async def generate_async(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> AsyncGenerator[StreamChunk, None]: ...

    @overload
    async def generate_async(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse | AsyncGenerator[StreamChunk, None]: ...

    async def generate_async(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        *,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        raw: bool = False,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> GenerateResponse | AsyncGenerator[StreamChunk, None]:
        """``generate`` for asyncio: awaiting gives the response, or with ``stream=True`` an async generator."""
        request = self._build_request(prompt, system_prompt, stream, tools, tool_choice, response_format, raw, messages, params)
        backend = self._require_backend()
        if stream:
            return self._delivery.stream_async(backend, request)
        started = time.perf_counter()
        try:
            completion = await self._plugins.call("abstractllm_generate_async", backend.generate_async, backend, request)
            response = self._delivery.response(completion, request, Timing(total=time.perf_counter() - started))
        except Exception as exc:
            error = self._map(exc)
            self._observer.call("generate_async", request, started, error=error)
            raise error from error.__cause__  # the backend's exception, or an abstractllm error's own cause
        except BaseException:  # cancelled
            self._observer.call("generate_async", request, started, abandoned=True)
            raise
        self._observer.call("generate_async", request, started, completion=completion, timing=response.timing)
        return response

    def count_tokens(
        self,
        prompt: str | Sequence[Message | Mapping[str, Any]],
        system_prompt: str | None = None,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
    ) -> int | None:
        """Exact prompt tokens ``generate`` sends for these arguments (chat template included, and the
        ``tools`` as ``tool_choice`` offers them), or None if the backend cannot tell. Bad ``tools`` or
        ``tool_choice``, and a backend's failure to render, raise what ``generate`` raises."""
        request = self._build_request(prompt, system_prompt, False, tools, tool_choice, None, False, None, {}, check_window=False)
        return self._backend_call(self._require_backend().count_tokens, request)

    # -- resources ------------------------------------------------------------------------

    def cache_info(self) -> dict[str, int] | None:
        """The prefix cache that lets later turns cost only their new tokens: ``hits``,
        ``misses``, ``bytes`` held and the mode's own counters; None where the mode keeps none."""
        return self._require_backend().cache_info()

    def unload(self) -> None:
        """Free the model (shared models are freed when their last user unloads). Idempotent."""
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    async def aunload(self) -> None:
        """``unload`` for asyncio: async connections are closed before this returns. Idempotent."""
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            await backend.aclose()

    def __enter__(self) -> AbstractLLMInterface:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.unload()

    async def __aenter__(self) -> AbstractLLMInterface:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aunload()

    # -- internals ------------------------------------------------------------------------

    def _require_backend(self) -> Backend:
        backend = self._backend
        if backend is None:
            raise UnsupportedOperationError(
                "this model was unloaded; create it again with create_llm(...)",
                provider=self.provider,
                mode=self.mode,
            )
        return backend

    def _map(self, error: BaseException) -> AbstractLLMError:
        return map_exception(error, self._info, self._model_name())

    def _build_request(
        self,
        prompt: Any,
        system_prompt: str | None,
        stream: bool,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        response_format: Any,
        raw: bool,
        messages: Sequence[Any] | None,
        params: Mapping[str, Any],
        *,
        check_window: bool = True,
    ) -> GenerationRequest:
        """Validate one call into a request; every error names this model's provider and mode."""
        try:
            request = self._validator.request(
                prompt, system_prompt, stream, tools, tool_choice, response_format, raw, messages, params
            )
            if request.tools or request.response_format is not None:
                self._check_features(request)
            return self._with_window_checked(request) if check_window else request
        except AbstractLLMError as error:
            error.with_context(provider=self.provider, mode=self.mode, model=self._model_name())
            raise

    def _backend_call(self, method: Callable[[GenerationRequest], T], request: GenerationRequest) -> T:
        """``method(request)``, its exception mapped as ``generate`` maps a backend's."""
        try:
            return method(request)
        except Exception as exc:
            error = self._map(exc)
            raise error from error.__cause__

    def _model_name(self) -> str | None:
        return self._backend.model_name if self._backend is not None else None

    def _check_features(self, request: GenerationRequest) -> None:  # errors get provider and mode in _build_request
        capabilities = self.capabilities
        if request.offers_tools and not capabilities.tool_use:
            raise UnsupportedFeatureError(
                f"{self.provider}/{self.mode} cannot call tools with this model",
                feature="tools",
            )
        if request.response_format is not None and not capabilities.structured_output:
            raise UnsupportedFeatureError(
                f"{self.provider}/{self.mode} cannot produce structured output with this model",
                feature="response_format",
            )

    def _with_window_checked(self, request: GenerationRequest) -> GenerationRequest:
        """``request``, now carrying its encoded prompt, once its length fits the context window."""
        backend = self._require_backend()
        window = self.capabilities.context_window
        if not isinstance(window, int):
            return request
        encoded = self._backend_call(backend.encode, request)
        if encoded is None:
            return request
        used = len(encoded)
        if used >= window:
            raise ContextWindowExceededError(
                f"the prompt takes {used} tokens but the context window of {self.model} is {window} tokens;"
                " shorten the prompt or the conversation",
                context_window=window,
                content_length=used,
                value=used,
                allowed=f"fewer than {window} prompt tokens",
            )
        return request.with_encoded(encoded)  # before any plugin sees it (see GenerationRequest.encoded)
