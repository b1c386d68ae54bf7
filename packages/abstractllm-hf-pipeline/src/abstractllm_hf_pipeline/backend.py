"""The pipeline-mode backend: a shared, batched transformers model behind core's contract.

Every ``create_llm`` with the same :class:`~abstractllm_hf_pipeline.options.LoadSpec`
shares one :class:`LoadedModel` (core's reference-counted ``SharedModelCache``); the
last ``unload()`` stops its batcher thread and frees the weights. The batching
settings (``batch_window_ms`` per call, ``max_batch_size`` per loaded model: the first
creator's value) do not change results, only speed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from abstractllm.backend import Backend, BackendInfo, Capabilities
from abstractllm.blocks import SharedModelCache
from abstractllm.errors import UnsupportedOperationError
from abstractllm.providers.huggingface import DEFAULT_PREFIX_CACHE_BYTES
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta
from abstractllm.speculative import SpeculationStats, speculative_settings
from abstractllm_hf_pipeline.batcher import Batcher
from abstractllm_hf_pipeline.engine import Engine, Job
from abstractllm_hf_pipeline.loading import load_weights
from abstractllm_hf_pipeline.options import LoadSpec, OutputOptions
from abstractllm_hf_pipeline.prompts import EncodedPrompt, encode_prompt, has_chat_template, tool_rendering
from abstractllm_hf_pipeline.sinks import AsyncFutureSink, AsyncQueueSink, FutureSink, QueueSink
from abstractllm_hf_pipeline.tool_calls import tool_setup

__all__ = ["MODELS", "LoadedModel", "PipelineBackend"]

logger = logging.getLogger(__name__)

_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


class LoadedModel:
    """Weights, tokenizer, grammar cache and the batcher that owns generation for one load."""

    def __init__(self, spec: LoadSpec, token: str | None, max_batch_size: int, prefix_cache_bytes: int) -> None:
        weights = load_weights(spec, token)
        self.spec = spec
        self.model = weights.model
        self.tokenizer = weights.tokenizer
        self.chat_template = has_chat_template(self.tokenizer)
        self.context_window = _context_window(self.model.config, self.tokenizer)
        engine = Engine(weights, prefix_cache_bytes=prefix_cache_bytes)
        self.grammars = engine.grammars
        self.prefix_cache = engine.prefix_cache
        self.speculation: SpeculationStats = engine.speculator.stats
        self.batcher = Batcher(engine, max_batch_size=max_batch_size)

    def close(self) -> None:
        """Stop the worker and drop every reference to the weights and cached key/values. Garbage is
        collected only when the weights outlive their last reference (a reference cycle holds them)."""
        self.batcher.close()
        self.prefix_cache.clear()
        weights = weakref.ref(self.model)
        self.model = None  # type: ignore[assignment]
        self.tokenizer = None  # type: ignore[assignment]
        # The tokenizer is not looked at: the grammar cache holds it until this object goes, which
        # frees it by reference counting when no cycle holds it.
        if weights() is not None:
            gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


#: Every loaded model of this process, shared between ``create_llm`` calls.
MODELS: SharedModelCache[LoadedModel] = SharedModelCache(free=LoadedModel.close, collect=False)


def _context_window(config: Any, tokenizer: Any) -> int | None:
    for key in _CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else None


class PipelineBackend(Backend):
    """A transformers causal LM run locally (see the package README for every option)."""

    def __init__(
        self,
        info: BackendInfo,
        spec: LoadSpec,
        output: OutputOptions,
        *,
        token: str | None,
        batch_window: float,
        max_batch_size: int,
        prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
    ) -> None:
        self.info = info
        self.model_name = spec.source
        self._spec = spec
        self._output = output
        self._window = batch_window
        self._loaded: LoadedModel | None = MODELS.acquire(
            spec, lambda: LoadedModel(spec, token, max_batch_size, prefix_cache_bytes)
        )
        self._streams: dict[int, Job] = {}  # open streams of this object by id: ``close`` stops them
        self._streams_lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel:
        loaded = self._loaded
        if loaded is None:
            raise UnsupportedOperationError("this model was unloaded; create it again with create_llm(...)")
        return loaded

    # -- prompts ------------------------------------------------------------------------

    def encode(self, request: GenerationRequest) -> EncodedPrompt:
        loaded = self.loaded
        return encode_prompt(
            loaded.tokenizer,
            request,
            context_window=loaded.context_window,
            truncation=self._output.truncation,
            tools=tool_setup(loaded.tokenizer, self._output.tool_format),
        )

    def _prompt(self, request: GenerationRequest) -> EncodedPrompt:
        """The prompt core encoded while checking the window, or, for a request built after that, a fresh one."""
        encoded = request.encoded
        return encoded if isinstance(encoded, EncodedPrompt) else self.encode(request)

    def context_window(self) -> int | None:
        return self.loaded.context_window

    def cache_info(self) -> dict[str, int]:
        """The prefix cache of this loaded model: ``hits``, ``misses``, ``reused_tokens`` (prompt tokens not
        prefilled again), ``entries``, ``bytes`` held and ``budget_bytes`` (the ``prefix_cache_bytes`` option);
        and its speculative decoding: ``speculative_requests``, ``drafted_tokens``, ``accepted_tokens`` and
        ``verifications`` (forward passes that checked a draft)."""
        loaded = self.loaded
        return {**loaded.prefix_cache.info(), **loaded.speculation.info()}

    # -- generation ---------------------------------------------------------------------

    def _job(self, request: GenerationRequest, sink: Any, *, streaming: bool) -> Job:
        speculative_settings(request, self.info.mode)  # refuses speculation with sampling
        return Job(request=request, prompt=self._prompt(request), output=self._output, sink=sink, streaming=streaming)

    def _submit(self, job: Job, *, gather: bool) -> None:
        """Queue ``job``; ``gather`` (an async call, on its event loop): it waits for company, see
        :class:`~abstractllm_hf_pipeline.batcher.Batcher`."""
        window, loop = (self._window, asyncio.get_running_loop()) if gather else (0.0, None)
        try:
            self.loaded.batcher.submit(job, window=window, loop=loop)
        except RuntimeError as exc:
            raise UnsupportedOperationError("this model was unloaded; create it again with create_llm(...)") from exc

    def generate(self, request: GenerationRequest) -> Completion:
        sink = FutureSink()
        job = self._job(request, sink, streaming=False)
        self._submit(job, gather=False)
        try:
            return sink.future.result()
        except BaseException:
            job.cancelled.set()
            raise

    async def generate_async(self, request: GenerationRequest) -> Completion:
        sink = AsyncFutureSink()
        job = self._job(request, sink, streaming=False)
        self._submit(job, gather=True)
        try:
            return await sink.future
        except asyncio.CancelledError:
            job.cancelled.set()
            raise

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        sink = QueueSink()
        job = self._job(request, sink, streaming=True)
        self._open(job, gather=False)
        return self._drain(job, sink)

    def _open(self, job: Job, *, gather: bool) -> None:
        """Submit a streamed ``job`` and keep it among this object's open streams until it ends."""
        with self._streams_lock:
            self._streams[id(job)] = job
        try:
            self._submit(job, gather=gather)
        except BaseException:
            self._ended(job)
            raise

    def _ended(self, job: Job) -> None:
        job.cancelled.set()
        with self._streams_lock:
            self._streams.pop(id(job), None)

    def _item(self, item: StreamDelta | BaseException) -> StreamDelta:
        """A delta for the consumer; once this object is unloaded, ``UnsupportedOperationError`` instead."""
        if self._loaded is None:
            raise UnsupportedOperationError(
                "this model was unloaded while the stream was open; create it again with create_llm(...)"
            )
        if isinstance(item, BaseException):
            raise item
        return item

    def _drain(self, job: Job, sink: QueueSink) -> Iterator[StreamDelta]:
        try:
            while True:
                item = self._item(sink.items.get())
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            self._ended(job)

    def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        return self._stream_async(request)

    async def _stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        sink = AsyncQueueSink()
        job = self._job(request, sink, streaming=True)
        self._open(job, gather=True)
        try:
            while True:
                item = self._item(await sink.items.get())
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            self._ended(job)

    # -- description ----------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        loaded = self.loaded
        return Capabilities(
            context_window=loaded.context_window,
            seed=True,
            multiple_sequences=True,
            structured_output=True,
            tool_use=True,  # through the chat template, or the documented prompted fallback
            tool_rendering=tool_rendering(loaded.tokenizer) if loaded.chat_template else "prompted",
            tool_format=tool_setup(loaded.tokenizer, self._output.tool_format).family.name,
            chat_template=True if loaded.chat_template else "fallback",
            quantization=self._spec.quantization,
            dynamic_batching=True,
            parallel_inference=True,
        )

    def close(self) -> None:
        """Drop this user of the shared model at once: this object's open streams stop at their next
        token, and their next read raises ``UnsupportedOperationError``; the weights are freed when
        the last user closes (after blocking calls still running on them return)."""
        if self._loaded is None:
            return
        self._loaded = None
        with self._streams_lock:
            streams, self._streams = list(self._streams.values()), {}
        for job in streams:
            job.cancelled.set()
        MODELS.release(self._spec)
