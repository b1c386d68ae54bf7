"""One decoding run on a loaded model: tokens in, text pieces out.

Streaming and non-streaming generation both iterate a :class:`Run`, so streamed text
joined is the non-streamed text by construction. Tokens are turned into text with an
incremental UTF-8 decoder (a character split over tokens is emitted whole) and fed to
core's reply assembler (``abstractllm.backend.ReplyAssembler``), which cuts stop sequences,
takes ``<tool_call>`` blocks out of the text and decides the finish reason.
The caller holds the model (``guard.generation``) while iterating; a set ``cancel``
event stops the run before its next token with :class:`GenerationCancelled`.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from abstractllm.blocks import ReplyAssembler, ToolMarkup
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import ToolCall
from abstractllm_hf_gguf.grammars import sampling_constraint
from abstractllm_hf_gguf.guard import GenerationCancelled
from abstractllm_hf_gguf.model import LoadedModel

__all__ = ["Plan", "Run", "sampling_arguments"]

_UTF8 = codecs.getincrementaldecoder("utf-8")

#: llama.cpp's own defaults, used when a parameter is not given.
_DEFAULT_TOP_K = 40
_DEFAULT_TOP_P = 0.95
_DEFAULT_MIN_P = 0.05


def sampling_arguments(params: GenerationParams) -> dict[str, Any]:
    """``Llama.generate`` keyword arguments for ``params``.

    Greedy (``temperature == 0`` or ``do_sample=False``) selects llama.cpp's greedy
    sampler; ``repetition_penalty`` becomes ``repeat_penalty`` (1 = none) either way.
    """
    arguments: dict[str, Any] = {"repeat_penalty": params.repetition_penalty or 1.0}
    if params.greedy:
        arguments.update(temp=0.0, top_k=1, top_p=1.0, min_p=0.0)
    else:
        arguments.update(
            temp=params.temperature,
            top_k=_DEFAULT_TOP_K if params.top_k is None else params.top_k,
            top_p=_DEFAULT_TOP_P if params.top_p is None else params.top_p,
            min_p=_DEFAULT_MIN_P,
        )
    return arguments


@dataclass(slots=True)
class Plan:
    """Everything a run needs, prepared (and validated) before the model lock is taken, and not changed after
    (not frozen: a frozen dataclass takes 1.1 µs to build instead of 0.4, on every call).

    ``stop`` holds the request's stop sequences and the chat format's; offered tools are
    called in ``markup``, the model's tool-call family's (core's tool rule), native or prompted;
    ``markers`` are the ids of that markup's special tokens, decoded as text.
    """

    request: GenerationRequest
    prompt_tokens: list[int]
    max_tokens: int
    sampling: dict[str, Any]
    grammar: Any
    stop: tuple[str, ...]
    stop_token_ids: frozenset[int]
    markup: ToolMarkup
    markers: frozenset[int]


class Run:
    """Iterate for text pieces; afterwards ``finish_reason``, ``completion_tokens`` and ``tool_calls`` are set.

    ``completion_tokens`` counts the tokens the model produced for the reply, up to and including
    the one that ended it (an end-of-generation or stop token too), as every mode counts them.
    """

    def __init__(self, model: LoadedModel, plan: Plan, seed: int, cancel: threading.Event | None = None) -> None:
        self._model = model
        self._plan = plan
        self._seed = seed
        self._cancel = cancel
        self.finish_reason = "length"
        self.completion_tokens = 0
        self.tool_calls: list[ToolCall] = []

    def __iter__(self) -> Iterator[str]:
        plan, model = self._plan, self._model
        budget = min(plan.max_tokens, model.n_ctx - len(plan.prompt_tokens))
        decoder = _UTF8(errors="replace")
        reply = ReplyAssembler(plan.request, plan.markup, stops=plan.stop)
        stopped = False
        if budget > 0:
            model.llama.set_seed(self._seed)
            model.prefix_cache.prepare(plan.prompt_tokens)
            constraint = sampling_constraint(plan.grammar, len(plan.prompt_tokens))  # a schema's mask, or a raw GBNF grammar
            tokens = model.llama.generate(plan.prompt_tokens, **constraint, **plan.sampling)
            try:
                for token in tokens:
                    if self._cancel is not None and self._cancel.is_set():
                        raise GenerationCancelled()
                    self.completion_tokens += 1
                    if model.is_end(token) or token in plan.stop_token_ids:
                        stopped = True
                        break
                    text = reply.feed(decoder.decode(model.piece(token, special=token in plan.markers)))
                    if text:
                        yield text
                    if reply.stopped:
                        stopped = True
                        break
                    if self.completion_tokens >= budget:
                        break
            finally:
                tokens.close()
        tail = "" if reply.stopped else reply.feed(decoder.decode(b"", final=True))
        final = reply.finish("stop" if stopped else "length")
        self.finish_reason, self.tool_calls = final.finish_reason or "stop", final.tool_calls or []
        if tail + final.text:
            yield tail + final.text
