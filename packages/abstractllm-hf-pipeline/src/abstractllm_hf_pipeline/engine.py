"""One ``model.generate`` call for a batch of compatible jobs.

Prompts are left-padded into one batch. Every row keeps its own state — an
:class:`~abstractllm_hf_pipeline.decoding.IncrementalDecoder`, its stop sequences,
its ``max_tokens`` — advanced token by token by a stopping criterion while
``generate`` runs (needed for streaming, stop sequences and per-row limits), or by
replaying the generated ids afterwards (plain requests: no per-step work). Both paths
run the same code, so streamed and non-streamed replies are equal.

Usage contract: ``prompt_tokens`` is the length of the prompt's input ids (no
padding); ``completion_tokens`` counts, per returned sequence, the generated tokens
up to and including the one that ended it (the end-of-sequence token, the token that
completed a stop sequence, or the last one allowed by ``max_tokens``), summed over
the returned sequences.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList
from transformers.generation.utils import GenerateDecoderOnlyOutput

from abstractllm.options import GREEDY_BELOW_TEMPERATURE
from abstractllm.providers.huggingface import DEFAULT_PREFIX_CACHE_BYTES
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage
from abstractllm_hf_pipeline.constraints import GrammarCache, GrammarLogitsProcessor
from abstractllm_hf_pipeline.decoding import IncrementalDecoder, ReplyText
from abstractllm_hf_pipeline.loading import LoadedWeights
from abstractllm_hf_pipeline.options import OutputOptions
from abstractllm_hf_pipeline.prefix_cache import PrefixCache, batch_cache, cacheable, row_cache
from abstractllm_hf_pipeline.prompts import EncodedPrompt
from abstractllm_hf_pipeline.tool_calls import parse_tool_calls, tool_markup

__all__ = ["Engine", "Job", "Sink"]

logger = logging.getLogger(__name__)

#: The ``generate`` argument and output field of the key/value cache: ``cache`` since transformers 5.2x,
#: ``past_key_values`` before.
CACHE_FIELD = "cache" if "cache" in GenerateDecoderOnlyOutput.__dataclass_fields__ else "past_key_values"
#: torch seeds are 64-bit: a larger (or negative) seed is taken modulo 2**64, so every integer seed is usable.
SEED_MODULUS = 2**64


class Sink(Protocol):
    """Where a job's results go. Called from the generating thread."""

    def delta(self, delta: StreamDelta) -> None:
        """A piece of visible text (streaming jobs only)."""

    def finish(self, completion: Completion) -> None:
        """The complete answer; called once, last."""

    def fail(self, error: BaseException) -> None:
        """Generation failed; called once instead of ``finish``."""


@dataclass
class Job:
    """One request waiting to be generated."""

    request: GenerationRequest
    prompt: EncodedPrompt
    output: OutputOptions
    sink: Sink
    streaming: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def greedy(self) -> bool:
        """Greedy decoding: asked for, or a temperature too small to sample with (core's ``GREEDY_BELOW_TEMPERATURE``:
        dividing float32 logits by less overflows to inf/nan; core already stores such temperatures as 0)."""
        params = self.request.params
        return params.greedy or params.temperature < GREEDY_BELOW_TEMPERATURE

    @property
    def rows(self) -> int:
        """Batch rows this job takes: one per sequence when sampling, one when greedy (copies are identical)."""
        return 1 if self.greedy else self.request.params.num_return_sequences

    def batch_key(self) -> Hashable:
        """Jobs with equal keys can share one ``generate`` call (prompts, stops, limits and grammars may differ).

        A seeded sampled job gets a key of its own so that its result does not depend on company.
        """
        params = self.request.params
        if self.greedy:
            sampling: tuple[Any, ...] = ("greedy",)
        else:
            sampling = ("sample", params.temperature, params.top_p, params.top_k, id(self) if params.seed is not None else None)
        return (*sampling, params.repetition_penalty, self.rows)


@dataclass
class _Row:
    job: Job
    decoder: IncrementalDecoder
    reply: ReplyText
    length: int = 0
    reason: str | None = None


class _Tracker(StoppingCriteria):
    """Advances every row after each generated token and tells ``generate`` which rows are done."""

    def __init__(self, engine: Engine, rows: list[_Row], width: int) -> None:
        self._engine = engine
        self._rows = rows
        self._width = width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        step = input_ids.shape[1] - self._width
        last = input_ids[:, -1].tolist()
        done = []
        for row, token in zip(self._rows, last, strict=True):
            if row.reason is None:
                self._engine.advance(row, token, step)
            done.append(row.reason is not None)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class _Cancellation(StoppingCriteria):
    """Ends the rows of cancelled jobs at the next token (other rows go on) and counts decoding steps."""

    def __init__(self, engine: Engine, jobs: list[Job]) -> None:
        self._engine = engine
        self._jobs = jobs

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        self._engine.steps_run += 1
        done = [job.cancelled.is_set() for job in self._jobs]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class Engine:
    """Generates for batches of jobs on one loaded model. Not thread-safe: one caller at a time."""

    def __init__(self, weights: LoadedWeights, *, prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES) -> None:
        self.model = weights.model
        self.tokenizer = weights.tokenizer
        self.device = weights.device
        config = self.model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids: tuple[int, ...] = tuple(eos) if isinstance(eos, (list, tuple)) else ((eos,) if eos is not None else ())
        pad = config.pad_token_id if config.pad_token_id is not None else self.tokenizer.pad_token_id
        self.pad_id: int = pad if pad is not None else (self.eos_ids[0] if self.eos_ids else 0)
        self.markup = tool_markup(self.tokenizer)
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self.grammars = GrammarCache(self.tokenizer, self.vocab_size, self.eos_ids, self.markup)
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self._prefix_reusable = True  # False once the model's cache turns out not to be cuttable at any token
        #: Decoding steps run so far, over every ``generate`` call (a batch generating one token per row is one step).
        self.steps_run = 0

    # -- per token ----------------------------------------------------------------------

    def advance(self, row: _Row, token: int, step: int) -> None:
        """Account for ``token``, the ``step``-th generated token of ``row``."""
        row.length = step
        params = row.job.request.params
        if token in self.eos_ids:
            row.reason = "stop"
            return
        piece = row.decoder.push(token)
        if piece:
            visible = row.reply.feed(piece)
            if visible and row.job.streaming:
                row.job.sink.delta(StreamDelta(text=visible))
        if row.reply.stopped:
            row.reason = "stop"
        elif step >= params.max_tokens:
            row.reason = "length"
        elif row.job.cancelled.is_set():
            row.reason = "cancelled"

    # -- per batch ----------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> None:
        """Generate for ``jobs`` (equal ``batch_key``) and hand every result to its sink.

        Any exception fails every job of the batch (and is then re-raised for logging by
        the caller); the model stays usable.
        """
        try:
            completions = self._generate(jobs)
        except BaseException as exc:
            if exc.__traceback__ is not None:
                traceback.clear_frames(exc.__traceback__)  # drop the frames' tensors now
            for job in jobs:
                job.sink.fail(exc)
            return
        for job, completion in zip(jobs, completions, strict=True):
            job.sink.finish(completion)

    def _new_row(self, job: Job) -> _Row:
        prefix = job.prompt.text if job.output.return_full_text else ""
        marker = self.markup.open if job.request.tools and job.request.tool_choice != "none" else None
        return _Row(
            job=job,
            decoder=IncrementalDecoder(
                self.tokenizer,
                job.prompt.ids,
                skip_special_tokens=job.output.skip_special_tokens,
                clean_up_tokenization_spaces=job.output.clean_up_tokenization_spaces,
            ),
            reply=ReplyText(job.request.params.stop, marker, prefix),
        )

    def _reused(self, jobs: Sequence[Job]) -> tuple[list[tuple[int, DynamicCache | None]], DynamicCache | None]:
        """Per job, the length of its prompt's cached prefix and the cache entry holding it; and, for a batch of
        one job whose prompt extends an entry whole, that entry, taken out of the cache to generate on in place."""
        if not self.prefix_cache.enabled or not self._prefix_reusable or jobs[0].rows != 1:
            return [(0, None)] * len(jobs), None
        found = [self.prefix_cache.find(job.prompt.ids, take=len(jobs) == 1) for job in jobs]
        taken = next((cache for _, cache, whole in found if whole), None)
        return [(length, cache) for length, cache, _ in found], taken

    def _remember(self, jobs: Sequence[Job], rows: list[_Row], reused: list[tuple[int, Any]], width: int, output: Any) -> None:
        """Store every finished row's prompt and reply key/values (one row per job here; ``width``: the input's)."""
        cache = getattr(output, CACHE_FIELD)
        if not cacheable(cache):
            self._prefix_reusable = False
            logger.debug("prefix cache off for this model: its cache (%s) cannot be cut at any token", type(cache).__name__)
            return
        cached = max(length for length, _ in reused)
        fed = cache.get_seq_length() - width  # generated tokens whose key/values exist (the last one was never fed)
        generated = output.sequences[:, width:].tolist()
        for index, (job, row, (length, _)) in enumerate(zip(jobs, rows, reused, strict=True)):
            if job.cancelled.is_set():
                continue
            kept = min(row.length, fed)
            fresh = len(job.prompt.ids) - length
            spans = [(cached - length, cached), (width - fresh, width + kept)]
            self.prefix_cache.add([*job.prompt.ids, *generated[index][:kept]], row_cache(cache, index, spans))

    def _generate(self, jobs: Sequence[Job]) -> list[Completion]:
        params = jobs[0].request.params
        greedy = jobs[0].greedy
        reused, taken = self._reused(jobs)
        cached = max(length for length, _ in reused)
        width = cached + max(len(job.prompt.ids) - length for job, (length, _) in zip(jobs, reused, strict=True))
        input_ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for index, (job, (length, _)) in enumerate(zip(jobs, reused, strict=True)):
            ids = job.prompt.ids
            # [padding, reused prefix | padding, the rest]: the mask makes every row's positions those of its own tokens
            input_ids[index, cached - length : cached] = torch.tensor(ids[:length], dtype=torch.long)
            attention_mask[index, cached - length : cached] = 1
            input_ids[index, width - (len(ids) - length) :] = torch.tensor(ids[length:], dtype=torch.long)
            attention_mask[index, width - (len(ids) - length) :] = 1
        max_new = max(job.request.params.max_tokens for job in jobs)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention_mask.to(self.device),
            "max_new_tokens": max_new,
            "pad_token_id": self.pad_id,
            "eos_token_id": list(self.eos_ids) or None,
            "do_sample": not greedy,
            "num_return_sequences": jobs[0].rows,
        }
        if cached:
            kwargs[CACHE_FIELD] = taken if taken is not None else batch_cache(reused)
        remember = self.prefix_cache.enabled and self._prefix_reusable and jobs[0].rows == 1
        if remember:
            kwargs["return_dict_in_generate"] = True
        if not greedy:
            kwargs["temperature"] = params.temperature
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
            if params.top_k is not None:
                kwargs["top_k"] = params.top_k
            if params.seed is not None:
                torch.manual_seed(params.seed % SEED_MODULUS)
        if params.repetition_penalty is not None:
            kwargs["repetition_penalty"] = params.repetition_penalty
        grammars = [self.grammars.grammar_for(job.request) for job in jobs]
        if any(grammar is not None for grammar in grammars):
            per_row = [grammar for job, grammar in zip(jobs, grammars, strict=True) for _ in range(job.rows)]
            kwargs["logits_processor"] = [GrammarLogitsProcessor(per_row, width, self.vocab_size)]
        tracked = any(job.streaming or job.request.params.stop or job.request.params.max_tokens < max_new for job in jobs)
        criteria: list[StoppingCriteria] = [_Cancellation(self, [job for job in jobs for _ in range(job.rows)])]
        rows: list[_Row] = []
        if tracked:
            rows = [self._new_row(job) for job in jobs for _ in range(job.rows)]
            criteria.append(_Tracker(self, rows, width))
        kwargs["stopping_criteria"] = StoppingCriteriaList(criteria)
        with torch.inference_mode():
            output = self.model.generate(**kwargs)  # type: ignore[operator]
        sequences = output.sequences if remember else output
        if not tracked:  # built only now: a request too large for memory fails in generate, not here
            rows = [self._new_row(job) for job in jobs for _ in range(job.rows)]
        generated = sequences[:, width:].tolist()
        for row, ids in zip(rows, generated, strict=True):
            step = row.length
            while row.reason is None and step < len(ids):
                step += 1
                self.advance(row, ids[step - 1], step)
            if row.reason is None:
                row.reason = "length"
        if remember:
            with torch.inference_mode():
                self._remember(jobs, rows, reused, width, output)
        return [self._complete(job, [row for row in rows if row.job is job]) for job in jobs]

    def _complete(self, job: Job, rows: list[_Row]) -> Completion:
        choices = []
        for row in rows:
            tail = row.reply.feed(row.decoder.finish()) + row.reply.finish()
            if tail and job.streaming:
                job.sink.delta(StreamDelta(text=tail))
            calls = []
            if job.request.tools and job.request.tool_choice != "none":
                calls = parse_tool_calls(self.tokenizer, row.reply.raw, job.prompt.text, job.request.tools)
            reason = "tool_calls" if calls else ("stop" if row.reason == "cancelled" else row.reason)
            choices.append(Choice(text=row.reply.visible, finish_reason=reason, tool_calls=calls))
        copies = job.request.params.num_return_sequences // len(rows)
        if copies > 1:  # greedy: every sequence is the same one
            choices = [Choice(c.text, c.finish_reason, list(c.tool_calls)) for c in choices for _ in range(copies)]
        usage = Usage(prompt_tokens=len(job.prompt.ids), completion_tokens=sum(row.length for row in rows) * copies)
        return Completion(choices=choices, usage=usage)
