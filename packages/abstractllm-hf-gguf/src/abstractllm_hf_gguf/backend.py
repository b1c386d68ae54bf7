"""The gguf mode's :class:`~abstractllm.backend.Backend` over a shared llama.cpp model."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterator

from abstractllm.backend import Backend, BackendInfo, Capabilities, sequence_seed
from abstractllm.blocks import choose_family
from abstractllm.errors import ContextWindowExceededError
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage
from abstractllm_hf_gguf.chat import ChatFormat
from abstractllm_hf_gguf.decoding import Plan, Run, sampling_arguments
from abstractllm_hf_gguf.grammars import gbnf_grammar, response_grammar, tool_call_grammar
from abstractllm_hf_gguf.guard import GenerationCancelled, Hold, Owner
from abstractllm_hf_gguf.model import LoadedModel
from abstractllm_hf_gguf.prompts import Prompt, render_prompt
from abstractllm_hf_gguf.speculative import refuse_speculation
from abstractllm_hf_gguf.stepwise import StepwiseStream

__all__ = ["GGUFBackend"]

_PROBE = "\u2063probe\u2063"


_NO_TOKENS: frozenset[int] = frozenset()  # a plan without stop tokens or markers


class GGUFBackend(Backend):
    """One ``create_llm`` of a GGUF file: a chat format over a shared :class:`LoadedModel`.

    ``release`` is called once by ``close`` to drop this user of the shared model.
    Generations on the model are serialised by its guard; ``num_return_sequences``
    runs that many sequences (seeds ``seed``, ``seed + 1``, ...), usage counts the
    prompt once and every sequence's tokens.
    """

    def __init__(
        self,
        info: BackendInfo,
        model: LoadedModel,
        chat_format: ChatFormat | None,
        model_name: str,
        release: Callable[[], None],
        cache_key: Hashable,
        tool_format: str | None = None,
    ) -> None:
        self.info = info
        self.model_name = model_name
        self.cache_key = cache_key
        self._model = model
        self._chat_format = chat_format
        self._family = (
            chat_format.family(tool_format) if chat_format is not None else choose_family(None, native=False, named=tool_format)
        )
        markup = self._family.markup
        self._markers = frozenset(  # the special tokens written in the markers, decoded as their text
            token
            for marker in markup.markers()
            for token in model.tokenize(marker, add_bos=False)
            if not model.piece(token) and model.piece(token, special=True)
        )
        self._release: Callable[[], None] | None = release
        self._random = random.Random()
        self._capabilities = self._probe_capabilities()
        self._closing = threading.Lock()

    @property
    def model(self) -> LoadedModel:
        """The shared loaded model (for tests and plugins)."""
        return self._model

    @property
    def chat_format(self) -> ChatFormat | None:
        return self._chat_format

    # -- generation -------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Completion:
        plan = self._plan(request)
        with self._model.guard.generation(Owner.blocking()) as hold:
            return self._complete(request, plan, hold, None)

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        plan = self._plan(request)
        return self._stream(plan, self._seed(request))

    async def generate_async(self, request: GenerationRequest) -> Completion:
        """``generate`` with the model awaited on the event loop and the work in a worker thread;
        cancelling the awaiting task stops the work before its next token."""
        plan = await asyncio.to_thread(self._plan, request)
        guard = self._model.guard
        hold = await guard.acquire_async(Owner.of_task())
        cancel = threading.Event()
        started = threading.Lock()

        def work() -> Completion:
            with started:
                if cancel.is_set():
                    guard.release(hold)
                    raise GenerationCancelled()
                guard.enter(hold)
            try:
                return self._complete(request, plan, hold, cancel)
            finally:
                guard.release(hold)

        try:
            return await asyncio.to_thread(work)
        except asyncio.CancelledError:
            with started:
                cancel.set()
            if not hold.inside:  # the work never started (or already ended): nothing else releases
                guard.release(hold)
            raise

    def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        """The stream, advanced one chunk per worker-thread call while the model is held;
        closing it (or dropping it, or cancelling its consumer) releases the model at once,
        or after the current token."""
        return self._stream_async(request)

    async def _stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        plan = await asyncio.to_thread(self._plan, request)
        guard = self._model.guard
        hold = await guard.acquire_async(Owner.of_task())
        cancel = threading.Event()
        run = Run(self._model, plan, self._seed(request), cancel)
        steps = StepwiseStream(self._pieces(run, hold), cancel, guard.wake, done=lambda: guard.release(hold))
        try:
            while (delta := await asyncio.to_thread(steps.next)) is not None:
                yield delta
            steps.abandon()  # releases the model before the last delta
            yield self._final(plan, run)
        finally:
            steps.abandon()

    def _complete(self, request: GenerationRequest, plan: Plan, hold: Hold, cancel: threading.Event | None) -> Completion:
        choices = []
        produced = 0
        for seed in self._seeds(request):
            run = Run(self._model, plan, seed, cancel)
            text = "".join(run)
            choices.append(Choice(text, run.finish_reason, run.tool_calls))
            produced += run.completion_tokens
        return Completion(choices, Usage(len(plan.prompt_tokens), produced), model=self.model_name)

    def _stream(self, plan: Plan, seed: int) -> Iterator[StreamDelta]:
        with self._model.guard.generation(Owner.blocking()) as hold:
            run = Run(self._model, plan, seed)
            yield from self._pieces(run, hold)
        yield self._final(plan, run)

    def _pieces(self, run: Run, hold: Hold) -> Iterator[StreamDelta]:
        """``run``'s text pieces; between pieces the hold is out of llama.cpp (the model may be
        unloaded then, and resuming raises ``UnsupportedOperationError``)."""
        guard = self._model.guard
        if not hold.inside:  # a hold from guard.generation is inside already
            guard.enter(hold)
        pieces = iter(run)
        try:
            for text in pieces:
                guard.leave(hold)
                yield StreamDelta(text)
                guard.enter(hold)
        finally:
            pieces.close()  # type: ignore[attr-defined]
            guard.leave(hold)

    @staticmethod
    def _final(plan: Plan, run: Run) -> StreamDelta:
        return StreamDelta(
            "",
            finish_reason=run.finish_reason,
            usage=Usage(len(plan.prompt_tokens), run.completion_tokens),
            tool_calls=run.tool_calls or None,
        )

    # -- facts --------------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return self._capabilities

    def cache_info(self) -> dict[str, int]:
        """The shared model's prefix-cache counters (see ``PrefixCache.info``)."""
        return self._model.prefix_cache.info()

    def context_window(self) -> int:
        return self._model.n_ctx

    def encode(self, request: GenerationRequest) -> Prompt:
        with self._model.guard.reading():
            return render_prompt(self._model, self._chat_format, request, self._family)

    def close(self) -> None:
        with self._closing:
            release, self._release = self._release, None
        if release is not None:
            release()

    async def aclose(self) -> None:
        """``close`` in a worker thread: waiting for a running generation never blocks the event loop."""
        await asyncio.to_thread(self.close)

    # -- internals ------------------------------------------------------------------------

    def _prompt(self, request: GenerationRequest) -> Prompt:
        """The prompt core encoded while checking the window, or, for a request built after that, a fresh one."""
        encoded = request.encoded
        return encoded if isinstance(encoded, Prompt) else render_prompt(self._model, self._chat_format, request, self._family)

    def _plan(self, request: GenerationRequest) -> Plan:
        with self._model.guard.reading():
            return self._plan_unguarded(request)

    def _plan_unguarded(self, request: GenerationRequest) -> Plan:
        prompt = self._prompt(request)
        window = self._model.n_ctx
        if (
            len(prompt.tokens) >= window
        ):  # a wrapper may have changed the request after core checked it; llama.cpp must never see an overflow
            raise ContextWindowExceededError(
                f"the prompt takes {len(prompt.tokens)} tokens but the context window of {self.model_name} is {window} tokens",
                context_window=window,
                content_length=len(prompt.tokens),
                value=len(prompt.tokens),
                allowed=f"fewer than {window} prompt tokens",
            )
        params = request.params
        extra = params.extra
        if extra:
            refuse_speculation(extra.get("speculative"))
        grammar = None
        if request.forces_tool_call:  # one call in the model's tool-call family's markup, native or prompted
            grammar = tool_call_grammar(self._model, self._family.forced_call(request.tools, request.tool_choice), self._markers)
        if grammar is None and request.response_format is not None:
            grammar = response_grammar(self._model, request.response_format)
        if grammar is None and extra and extra.get("grammar"):
            grammar = gbnf_grammar(self._model, extra["grammar"])
        stop, stop_ids = params.stop, _NO_TOKENS
        if prompt.stop:  # the chat format's own end strings
            stop = tuple(dict.fromkeys((*params.stop, *prompt.stop)))
            stop_ids = frozenset(token for token in map(self._model.single_token, prompt.stop) if token is not None)
        return Plan(
            request=request,
            prompt_tokens=prompt.tokens,
            max_tokens=params.max_tokens,
            sampling=sampling_arguments(params),
            grammar=grammar,
            stop=stop,
            stop_token_ids=stop_ids,
            markup=self._family.markup,
            markers=self._markers if request.offers_tools else _NO_TOKENS,
        )

    def _seed(self, request: GenerationRequest) -> int:
        """The first sequence's seed: the request's, or a random one."""
        seed = request.params.seed
        return seed if seed is not None else self._random.getrandbits(31)

    def _seeds(self, request: GenerationRequest) -> list[int]:
        """One seed per sequence: ``seed``, ``seed + 1``, ... (core's fan-out)."""
        first = self._seed(request)
        return [sequence_seed(first, index) for index in range(request.params.num_return_sequences)]

    def _probe_capabilities(self) -> Capabilities:
        """What this file and chat format really support, found by rendering probes."""
        system_prompt = False
        if self._chat_format is None:
            system_prompt = True  # core's plain fallback renders the system line
        else:
            user = {"role": "user", "content": "hi"}
            try:
                system_prompt = _PROBE in self._chat_format.render([{"role": "system", "content": _PROBE}, user], None).text
            except Exception:  # a template that refuses system turns raises
                system_prompt = False
        return Capabilities(
            context_window=self._model.n_ctx,
            system_prompt=system_prompt,
            seed=True,
            multiple_sequences=True,
            structured_output=True,
            tool_use=True,  # through the template, or the documented prompted fallback
            tool_rendering=self._chat_format.tool_rendering if self._chat_format is not None else "prompted",
            tool_format=self._family.name,
            chat_template=True if self._chat_format is not None else "fallback",
            chat_format=self._chat_format.name if self._chat_format is not None else None,
            quantization=self._model.quantization(),
        )
