"""One ``model.generate`` call for a batch of compatible jobs.

Prompts are left-padded into one batch. Every row keeps its own state (see
:mod:`~abstractllm_hf_pipeline.progress`): an
:class:`~abstractllm_hf_pipeline.decoding.IncrementalDecoder`, its stop sequences, its
``max_tokens``. It is advanced token by token while ``generate`` runs when needed
(streaming, stop sequences, per-row limits), else all at once when the row ends; both
paths run the same code, so streamed and non-streamed replies are equal. A job gets its
result as soon as its rows end, not when the batch does.

A greedy batch can yield to newcomers between two decoding steps (``run``'s
``yield_to``): it stops, and each unfinished job is handed back with a
:class:`~abstractllm_hf_pipeline.progress.Resume` (its ids so far, the key/values of all
but the last one, and its row), so that the next batch continues it beside the newcomers
instead of making them wait for the whole batch. The continuation prefills only its last
token, so its reply is the one an uninterrupted batch makes.

Usage contract: ``prompt_tokens`` is the length of the prompt's input ids (no
padding); ``completion_tokens`` counts, per returned sequence, the generated tokens
up to and including the one that ended it (the end-of-sequence token, the token that
completed a stop sequence, or the last one allowed by ``max_tokens``), summed over
the returned sequences.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import torch
from transformers import DynamicCache, StoppingCriteriaList
from transformers.generation.utils import GenerateDecoderOnlyOutput

from abstractllm.blocks import ReplyAssembler
from abstractllm.options import GREEDY_BELOW_TEMPERATURE
from abstractllm.providers.huggingface import DEFAULT_PREFIX_CACHE_BYTES
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta, Usage
from abstractllm.speculative import SpeculativeSettings
from abstractllm_hf_pipeline.constraints import GrammarCache, GrammarLogitsProcessor
from abstractllm_hf_pipeline.decoding import IncrementalDecoder
from abstractllm_hf_pipeline.loading import LoadedWeights
from abstractllm_hf_pipeline.options import OutputOptions
from abstractllm_hf_pipeline.prefix_cache import PrefixCache, batch_cache, cacheable, row_cache
from abstractllm_hf_pipeline.progress import Batch, Resume, Row, StepWatch
from abstractllm_hf_pipeline.prompts import EncodedPrompt
from abstractllm_hf_pipeline.speculative import Speculator
from abstractllm_hf_pipeline.tool_calls import ToolSetup, call_reader, tool_setup
from abstractllm_hf_pipeline.yielding import Costs

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
    #: Set when the job's batch yielded before the job finished: where the next batch continues it.
    resume: Resume | None = None

    @property
    def ids(self) -> Sequence[int]:
        """The token ids the next batch starts from: the prompt's, then those generated so far."""
        return self.resume.ids if self.resume is not None else self.prompt.ids

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

    @property
    def speculative(self) -> SpeculativeSettings | None:
        """The ``speculative`` settings of a greedy job (the backend refuses them for sampling), or None."""
        settings = self.request.params.extra.get("speculative")
        return settings if isinstance(settings, SpeculativeSettings) and self.greedy else None

    def batch_key(self) -> Hashable:
        """Jobs with equal keys can share one ``generate`` call (prompts, stops, limits and grammars may differ).

        A seeded sampled job gets a key of its own so that its result does not depend on company, and so does a
        speculative job: it runs alone (see :mod:`~abstractllm_hf_pipeline.speculative`).
        """
        params = self.request.params
        if self.speculative is not None:
            return ("speculative", id(self))
        if self.greedy:
            sampling: tuple[Any, ...] = ("greedy",)
        else:
            sampling = ("sample", params.temperature, params.top_p, params.top_k, id(self) if params.seed is not None else None)
        return (*sampling, params.repetition_penalty, self.rows)


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
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self.grammars = GrammarCache(self.tokenizer, self.vocab_size, self.eos_ids)
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self._prefix_reusable = True  # False once the model's cache turns out not to be cuttable at any token
        #: Decoding steps run so far, over every ``generate`` call (a batch generating one token per row is one step).
        self.steps_run = 0
        #: What this model's batches cost, measured as they run (for the decisions to regroup rows).
        self.costs = Costs()
        #: Runs the speculative jobs (one per batch) and counts their drafts.
        self.speculator = Speculator(self.model, CACHE_FIELD)

    # -- per token ----------------------------------------------------------------------

    def advance(self, row: Row, token: int, step: int) -> None:
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

    def replay(self, row: Row, base: int, ids: Sequence[int]) -> None:
        """Advance ``row`` over the tokens of ``ids`` (what this batch generated for it; ``base``: the tokens it
        had before) that it has not accounted for, until it ends."""
        step = row.length
        if row.reason is None and not row.job.streaming and not row.job.request.params.stop:
            self._replay_unwatched(row, ids[step - base :])
            return
        while row.reason is None and step - base < len(ids):
            step += 1
            self.advance(row, ids[step - base - 1], step)

    def _replay_unwatched(self, row: Row, ids: Sequence[int]) -> None:
        """``replay`` for a row that has no stream and no stop sequences: ``advance`` over each of ``ids`` in turn
        ends the row at the same token with the same reason, and its reply gets the same text, fed in one piece
        (the assembler takes pieces of any size; without stop sequences it never stops a reply early)."""
        if not ids:
            return
        params, cancelled = row.job.request.params, row.job.cancelled.is_set()
        taken = ids[: 1 if cancelled else max(1, params.max_tokens - row.length)]
        ended = next((index for index, token in enumerate(taken) if token in self.eos_ids), None)
        text = row.decoder.push_all(taken if ended is None else taken[:ended])
        if text:
            row.reply.feed(text)
        row.length += len(taken) if ended is None else ended + 1
        if ended is not None:
            row.reason = "stop"
        elif row.length >= params.max_tokens:
            row.reason = "length"
        elif cancelled:
            row.reason = "cancelled"

    def deliver(self, batch: Batch) -> None:
        """Hand every job of ``batch`` whose rows have all ended its result, once."""
        for index, job in enumerate(batch.jobs):
            if index not in batch.delivered:
                rows = batch.rows_of(index)
                if all(row.reason is not None for row in rows):
                    batch.delivered.add(index)
                    try:
                        completion = self._complete(job, rows)
                    except Exception as exc:  # this job's reply cannot be built: the others are not affected
                        job.sink.fail(exc)
                        continue
                    job.sink.finish(completion)

    # -- per batch ----------------------------------------------------------------------

    def run(self, jobs: Sequence[Job], yield_to: Callable[[int], bool] | None = None) -> list[Job]:
        """Generate for ``jobs`` (equal ``batch_key``) and hand every job its result as soon as it has ended.

        ``yield_to(steps left)`` is asked after every decoding step of a greedy batch without
        grammars; once it returns True the batch stops, and the jobs it returns (each with its
        ``resume`` set) are to be run again, before or beside newer ones. Any exception fails
        every job not yet answered; the model stays usable.
        """
        delivered: set[int] = set()
        try:
            return self._generate(jobs, yield_to, delivered)
        except BaseException as exc:
            if exc.__traceback__ is not None:
                traceback.clear_frames(exc.__traceback__)  # drop the frames' tensors now
            for index, job in enumerate(jobs):
                job.resume = None
                if index not in delivered:
                    job.sink.fail(exc)
            return []

    def abandon(self, job: Job) -> None:
        """Finish ``job``, cancelled while it waited to be continued, with the reply it has so far."""
        if job.resume is None:
            job.sink.fail(RuntimeError("the request was cancelled"))
            return
        row, job.resume = job.resume.row, None
        row.reason = "cancelled"
        job.sink.finish(self._complete(job, [row]))

    def tools_for(self, output: OutputOptions) -> ToolSetup:
        """How this model does tool calls for a job with ``output`` options (its ``tool_format``)."""
        return tool_setup(self.tokenizer, output.tool_format)

    def _new_row(self, job: Job) -> Row:
        request = job.request
        prefix = job.prompt.text if job.output.return_full_text else ""
        tools = self.tools_for(job.output)
        reader = call_reader(self.tokenizer, job.prompt.text, request.tools, tools.markup) if request.offers_tools else None
        return Row(
            job=job,
            decoder=IncrementalDecoder(
                self.tokenizer,
                job.prompt.ids,
                skip_special_tokens=job.output.skip_special_tokens,
                clean_up_tokenization_spaces=job.output.clean_up_tokenization_spaces,
                keep=tools.markers if request.offers_tools else frozenset(),
            ),
            reply=ReplyAssembler(request, tools.markup, read_calls=reader, prefix=prefix),
        )

    def _reused(self, jobs: Sequence[Job]) -> tuple[list[tuple[int, DynamicCache | None]], DynamicCache | None]:
        """Per job, the length of its ids' cached prefix and the cache holding it (a continued job's own, else a
        prefix-cache entry); and, for a batch of one job, the cache to generate on in place when it holds that
        prefix whole (a continued job's, or an entry taken out of the prefix cache)."""
        lookup = self.prefix_cache.enabled and self._prefix_reusable and jobs[0].rows == 1
        found: list[tuple[int, DynamicCache | None, bool]] = []
        for job in jobs:
            if job.resume is not None and job.resume.cache is not None:
                found.append((len(job.resume.ids) - 1, job.resume.cache, True))
            elif lookup:
                found.append(self.prefix_cache.find(job.ids, take=len(jobs) == 1))
            else:
                found.append((0, None, False))
        taken = found[0][1] if len(jobs) == 1 and found[0][2] else None
        return [(length, cache) for length, cache, _ in found], taken

    def _remember(
        self, batch: Batch, starts: list[Sequence[int]], reused: list[tuple[int, Any]], output: Any, generated: list[list[int]]
    ) -> None:
        """Store every ended row's ids and reply key/values in the prefix cache, and give every unfinished one
        (its batch yielded) its :class:`Resume` (one row per job here; ``starts``: the ids each row started the
        batch from; ``generated``: the ids each row's output has after the batch's input)."""
        cache = getattr(output, CACHE_FIELD)
        usable = cacheable(cache)
        if not usable and self._prefix_reusable:
            self._prefix_reusable = False
            logger.debug("prefix cache off for this model: its cache (%s) cannot be cut at any token", type(cache).__name__)
        width = batch.width
        cached = max(length for length, _ in reused)
        fed = cache.get_seq_length() - width if usable else 0  # generated tokens whose key/values exist
        rows = zip(batch.jobs, starts, batch.rows, batch.bases, reused, strict=True)
        for index, (job, ids, row, base, (length, _)) in enumerate(rows):
            made = row.length - base  # tokens this batch generated for the row
            kept = min(made, fed)
            spans = [(cached - length, cached), (width - (len(ids) - length), width + kept)]
            if row.reason is None:
                resumed = [*ids, *generated[index][:made]]
                job.resume = Resume(resumed, row_cache(cache, index, spans) if usable else None, row)
            elif usable and self.prefix_cache.enabled and not job.cancelled.is_set():
                self.prefix_cache.add([*ids, *generated[index][:kept]], partial(row_cache, cache, index, spans))

    def _generate(self, jobs: Sequence[Job], yield_to: Callable[[int], bool] | None, delivered: set[int]) -> list[Job]:
        started = time.perf_counter()
        params = jobs[0].request.params
        greedy = jobs[0].greedy
        reused, taken = self._reused(jobs)
        starts = [job.ids for job in jobs]
        carried = [job.resume.row if job.resume is not None else None for job in jobs]
        for job in jobs:
            job.resume = None  # set again for the rows still unfinished when the batch yields
        made = [row.length if row is not None else 0 for row in carried]
        left = [job.request.params.max_tokens - count for job, count in zip(jobs, made, strict=True)]
        prefilled = 0
        if self._prefix_reusable and any(row is not None for row in carried):
            reused, prefilled = self._prefilled(starts, reused)
        input_ids, attention_mask, cached, width = self._inputs(starts, reused)
        prefilled += len(jobs) * (width - cached)
        max_new = max(left)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "max_new_tokens": max_new,
            "pad_token_id": self.pad_id,
            "eos_token_id": list(self.eos_ids) or None,
            "do_sample": not greedy,
            "num_return_sequences": jobs[0].rows,
        }
        if cached:
            kwargs[CACHE_FIELD] = taken if taken is not None else batch_cache(reused)
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
        grammars = [self.grammars.grammar_for(job.request, self.tools_for(job.output).family) for job in jobs]
        if any(grammar is not None for grammar in grammars):
            per_row = [grammar for job, grammar in zip(jobs, grammars, strict=True) for _ in range(job.rows)]
            kwargs["logits_processor"] = [GrammarLogitsProcessor(per_row, width, self.vocab_size)]
            yield_to = None  # a continued row would lose its grammar's state
        if not greedy or not self._prefix_reusable:
            yield_to = None  # a continued sampled row would draw from another random stream
        # the rows' key/values: for the prefix cache, and for continuing the rows of a batch that yields
        remember = (self.prefix_cache.enabled and self._prefix_reusable and jobs[0].rows == 1) or yield_to is not None
        if remember:
            kwargs["return_dict_in_generate"] = True
        pairs = zip(jobs, carried, strict=True)
        rows = [row if row is not None else self._new_row(job) for job, row in pairs for _ in range(job.rows)]
        follow = any(job.streaming or job.request.params.stop or rest < max_new for job, rest in zip(jobs, left, strict=True))
        batch = Batch(jobs, rows, [row.length for row in rows], width, follow, delivered)
        watch = StepWatch(self, batch, max_new, yield_to)
        kwargs["stopping_criteria"] = StoppingCriteriaList([watch])
        with torch.inference_mode():
            output = self.speculator.generate(kwargs, jobs[0].speculative)  # model.generate when not speculative
        sequences = output.sequences if remember else output
        generated = sequences[:, width:].tolist()
        for row, base, ids in zip(rows, batch.bases, generated, strict=True):
            self.replay(row, base, ids)
            if row.reason is None and not watch.yielded:
                row.reason = "length"
        if remember:
            with torch.inference_mode():
                self._remember(batch, starts, reused, output, generated)
        self.deliver(batch)
        decoding = watch.last - watch.first
        self.costs.measured(seconds=time.perf_counter() - started, steps=watch.steps, decoding=decoding, prefilled=prefilled)
        if watch.yielded:
            logger.debug("a batch yielded after %d step(s): its rows are regrouped", watch.steps)
        return [job for job in jobs if job.resume is not None]

    def _inputs(
        self, starts: Sequence[Sequence[int]], reused: Sequence[tuple[int, Any]]
    ) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """Input ids and attention mask for rows starting from ``starts`` with the ``reused`` prefixes cached,
        and the cached and whole widths."""
        cached = max(length for length, _ in reused)
        width = cached + max(len(ids) - length for ids, (length, _) in zip(starts, reused, strict=True))
        rows, masks = [], []
        for ids, (length, _) in zip(starts, reused, strict=True):
            # [padding, reused prefix | padding, the rest]: the mask makes every row's positions those of its own tokens
            gaps = (cached - length, width - cached - (len(ids) - length))
            rows.append([*[self.pad_id] * gaps[0], *ids[:length], *[self.pad_id] * gaps[1], *ids[length:]])
            masks.append([*[0] * gaps[0], *[1] * length, *[0] * gaps[1], *[1] * (len(ids) - length)])
        input_ids = torch.tensor(rows, dtype=torch.long, device=self.device)
        attention_mask = torch.tensor(masks, dtype=torch.long, device=self.device)
        return input_ids, attention_mask, cached, width

    def _prefilled(
        self, starts: Sequence[Sequence[int]], reused: list[tuple[int, DynamicCache | None]]
    ) -> tuple[list[tuple[int, DynamicCache | None]], int]:
        """``reused`` with the rows that would prefill more than one token (newcomers joining continued rows)
        prefilled, in a call of their own, up to their last id: the joined batch then feeds one token per row
        instead of padding every continued row to the longest new prompt. Also the tokens that call fed."""
        fresh = [index for index, (ids, (length, _)) in enumerate(zip(starts, reused, strict=True)) if len(ids) - length > 1]
        if not fresh:
            return reused, 0
        heads = [starts[index][:-1] for index in fresh]
        known = [reused[index] for index in fresh]
        input_ids, attention_mask, cached, width = self._inputs(heads, known)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "max_new_tokens": 1,
            "do_sample": False,
            "pad_token_id": self.pad_id,
            "return_dict_in_generate": True,
        }
        if cached:
            kwargs[CACHE_FIELD] = batch_cache(known)
        with torch.inference_mode():
            cache = getattr(self.model.generate(**kwargs), CACHE_FIELD)  # type: ignore[operator]
            prefilled = list(reused)
            for row, (index, ids, (length, _)) in enumerate(zip(fresh, heads, known, strict=True)):
                spans = [(cached - length, cached), (width - (len(ids) - length), width)]
                prefilled[index] = (len(ids), row_cache(cache, row, spans))
        return prefilled, len(fresh) * (width - cached)

    def _complete(self, job: Job, rows: list[Row]) -> Completion:
        for row in rows:
            tail = row.reply.feed(row.decoder.finish())
            tail += row.reply.finish("stop" if row.reason == "cancelled" else row.reason).text
            if tail and job.streaming:
                job.sink.delta(StreamDelta(text=tail))
        copies = job.request.params.num_return_sequences // len(rows)
        choices = [row.reply.choice() for row in rows for _ in range(copies)]  # greedy: every sequence is the same one
        usage = Usage(prompt_tokens=len(job.prompt.ids), completion_tokens=sum(row.length for row in rows) * copies)
        return Completion(choices=choices, usage=usage)
