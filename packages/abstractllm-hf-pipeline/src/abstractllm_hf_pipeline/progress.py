"""A batch's rows while ``generate`` runs, and what each decoding step does to them.

- :class:`Row`: one generated sequence of a job: its decoder, reply text, token count and finish reason.
- :class:`Resume`: a job's row and key/values, carried from a batch that yielded to the next batch.
- :class:`Batch`: the rows of one ``generate`` call, laid out job by job.
- :class:`StepWatch`: the stopping criterion run after every decoding step. It advances the rows
  (every token when the batch ``follows`` them: streams, stop sequences, unequal limits; otherwise
  a row's tokens all at once, when it ends), hands each job its result as soon as its rows are done
  while other rows go on (a short reply never waits for the longest one of its batch; the jobs that
  end the batch get theirs after the engine stored their key/values, so that a follow-up request
  finds them), ends the rows of cancelled jobs, and ends every row when the batch yields to
  newcomers. It also times its ``generate`` call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache, StoppingCriteria

from abstractllm.blocks import ReplyAssembler
from abstractllm_hf_pipeline.decoding import IncrementalDecoder
from abstractllm_hf_pipeline.yielding import MIN_STEPS_BEFORE_YIELD, worth_leaving

if TYPE_CHECKING:
    from abstractllm_hf_pipeline.engine import Engine, Job

__all__ = ["Batch", "Resume", "Row", "StepWatch"]


@dataclass
class Row:
    """One sequence of ``job``: ``length`` tokens generated so far (over every batch), ``reason`` once it ended."""

    job: Job
    decoder: IncrementalDecoder
    reply: ReplyAssembler
    length: int = 0
    reason: str | None = None


@dataclass
class Resume:
    """A job's state between two batches: ``ids`` (prompt and reply so far), ``cache`` (one row holding the
    key/values of every id but the last, or None to prefill them all again) and its ``row``."""

    ids: list[int]
    cache: DynamicCache | None
    row: Row


@dataclass
class Batch:
    """The rows of one ``generate`` call: ``rows`` job by job (``job.rows`` each), ``bases`` the tokens each row
    had before this call, ``width`` the input's width (generated tokens start there), ``follow`` whether every
    row is advanced at every token, ``delivered`` the indexes of the jobs whose result went out."""

    jobs: Sequence[Job]
    rows: list[Row]
    bases: list[int]
    width: int
    follow: bool
    delivered: set[int] = field(default_factory=set)

    def rows_of(self, index: int) -> list[Row]:
        """The rows of ``jobs[index]``."""
        start = sum(job.rows for job in self.jobs[:index])
        return self.rows[start : start + self.jobs[index].rows]


class StepWatch(StoppingCriteria):
    """Run by ``generate`` after every decoding step of ``batch`` (see the module docstring).

    From :data:`~abstractllm_hf_pipeline.yielding.MIN_STEPS_BEFORE_YIELD` steps on, every row ends
    (``yielded``) once ``yield_to(steps left)`` says newcomers should join, or ended rows should leave
    (``yield_to`` None: the batch never yields); ``steps`` is the call's ``max_new_tokens``.
    ``first`` and ``last``: when the call's first and last tokens came out.
    """

    def __init__(self, engine: Engine, batch: Batch, steps: int, yield_to: Callable[[int], bool] | None) -> None:
        self._engine = engine
        self._batch = batch
        self._budget = steps
        self._yield_to = yield_to
        self._ended = 0  # rows ended so far
        self._done: torch.Tensor | None = None  # which rows ended, as generate wants it (rebuilt when one ends)
        self._eos = frozenset(engine.eos_ids)
        self.steps = 0
        self.yielded = False
        self.first = self.last = time.perf_counter()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        engine, batch = self._engine, self._batch
        engine.steps_run += 1
        self.steps += 1
        self.last = time.perf_counter()
        if self.steps == 1:
            self.first = self.last
        step = input_ids.shape[1] - batch.width
        tokens = input_ids[:, -1].tolist()
        ended = 0
        if batch.follow or self._ending(tokens):  # else no row ends at this step: nothing to look at row by row
            for index, (row, base, token) in enumerate(zip(batch.rows, batch.bases, tokens, strict=True)):
                if row.reason is not None:
                    continue
                if batch.follow:
                    engine.advance(row, token, base + step)
                elif token in self._eos or row.job.cancelled.is_set():
                    engine.replay(row, base, input_ids[index, batch.width :].tolist())  # ends it: end of sequence or cancelled
                if row.reason is not None:
                    ended += 1
        rows = len(batch.rows)
        if ended or self._done is None:
            self._ended += ended
            done = [row.reason is not None for row in batch.rows]
            self._done = torch.tensor(done, dtype=torch.bool, device=input_ids.device)
            if ended and self._ended < rows:
                engine.deliver(batch)  # the last rows' jobs get theirs once their key/values are in the prefix cache
        if self._yield_to is not None and self.steps >= MIN_STEPS_BEFORE_YIELD and self._ended < rows and self._yields():
            self.yielded = True
            return torch.ones(rows, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]
        return self._done  # type: ignore[return-value]

    def _ending(self, tokens: list[int]) -> bool:
        """Whether a row of a batch that is not followed may end at this step (``tokens``: every row's newest):
        one made an end-of-sequence token (or the padding after one, when it is the same id) or was cancelled."""
        return not self._eos.isdisjoint(tokens) or any(job.cancelled.is_set() for job in self._batch.jobs)

    def _yields(self) -> bool:
        """Whether newcomers should join now, or ended rows leave."""
        assert self._yield_to is not None
        if self._yield_to(self._budget - self.steps):
            return True
        if not self._ended:
            return False
        engine, running = self._engine, [row for row in self._batch.rows if row.reason is None]
        left = max(row.job.request.params.max_tokens - row.length for row in running)
        return worth_leaving(self._ended, len(self._batch.rows), left, engine.costs.step, engine.costs.restart())
