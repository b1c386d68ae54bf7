"""Dynamic batching: one worker thread per loaded model runs every generation.

Callers (sync threads, async tasks, streams) ``submit`` jobs. The worker takes every
queued job, groups those with equal ``batch_key`` (at most ``max_batch_size`` rows per
group) and runs each group as one ``generate`` call. When a queued job was submitted
with a ``window`` (async calls), the worker first waits for company, so that requests
started together are batched together: until every such job's caller has submitted what
it had ready (an asyncio caller: once its event loop has run the callbacks that were ready
when it submitted, which is when the tasks started beside it have submitted theirs), and
never longer than until ``window`` seconds pass without a new arrival (in all at most
``max(max_wait, window)``). So a lone call does not wait, and calls gathered in one loop
turn run as one batch.

Jobs that arrive while a batch runs join it between two decoding steps when that pays
(continuous batching): a greedy batch without grammars, with room for them, yields once
their window has passed and :func:`worth_joining` says the wait they are spared outweighs
restarting the batch (measured: see :class:`~abstractllm_hf_pipeline.yielding.Costs`). Its
unfinished jobs are queued again ahead of the newcomers, so that one batch continues the
old rows beside the new ones (see :class:`~abstractllm_hf_pipeline.progress.Resume`). Other
jobs that arrive while a batch runs form the next one. Because only the worker touches the
model, concurrent callers are safe and greedy results equal sequential ones. A batch whose
rows partly ended restarts without them on the same terms (see
:mod:`~abstractllm_hf_pipeline.yielding`).

Interpreter exit: the worker is a daemon thread, and a daemon thread that is inside
torch when Python finalises is torn down mid-call, which aborts the process
("terminate called without an active exception"). So an ``atexit`` hook cancels
every queued and running job of every live batcher (generation stops at the next
token) and joins the workers before finalisation starts.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from abstractllm_hf_pipeline.engine import Engine, Job
from abstractllm_hf_pipeline.yielding import MIN_STEPS_LEFT, worth_joining

__all__ = ["Batcher"]

logger = logging.getLogger(__name__)

#: Batchers whose worker may be running; stopped by :func:`_stop_all` at interpreter exit.
_LIVE: weakref.WeakSet[Batcher] = weakref.WeakSet()


@dataclass(slots=True)
class _Queued:
    """A queued job and how long it lets the worker wait for company (seconds; 0 once its caller settled)."""

    job: Job
    window: float


class Batcher:
    """Owns the worker thread of one :class:`Engine` (started on first use, stopped by ``close``)."""

    def __init__(self, engine: Engine, *, max_batch_size: int, max_wait: float = 0.05) -> None:
        self._engine = engine
        self._max_wait = max_wait
        self._max_rows = max_batch_size
        self._queue: deque[_Queued] = deque()
        self._running: list[Job] = []
        self._arrived = 0.0
        self._first_waiting = 0.0  # when the oldest queued job was queued
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches_run = 0
        self.largest_batch = 0
        #: Batches that stopped early so that their rows could be regrouped (newcomers joining, ended rows leaving).
        self.yields = 0

    @property
    def steps_run(self) -> int:
        """Decoding steps the engine ran so far (one per generated token of a batch); 0 once closed."""
        engine = self._engine
        return engine.steps_run if engine is not None else 0

    def submit(self, job: Job, *, window: float = 0.0, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Queue ``job``; its sink receives the result. ``window`` (seconds) lets the worker wait for company.

        ``loop``, the running event loop of the calling thread, ends that wait early: once the loop has run the
        callbacks that were ready when ``job`` was submitted (``call_soon``), its caller has submitted what it had
        ready, and the job no longer keeps the worker waiting.
        """
        entry = _Queued(job, window)
        with self._condition:
            if self._closed:
                raise RuntimeError("this model was unloaded")
            first = not self._queue
            if first:
                self._first_waiting = time.monotonic()
            self._queue.append(entry)
            self._arrived = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="abstractllm-hf-pipeline-batcher", daemon=True)
                self._thread.start()
                _LIVE.add(self)
            if first or len(self._queue) >= self._max_rows:  # else the worker's wait is not shortened: not woken
                self._condition.notify()
        if window > 0 and loop is not None:
            loop.call_soon(self._settle, entry)

    def _settle(self, entry: _Queued) -> None:
        """``entry``'s caller has submitted what it had ready: it no longer keeps the worker waiting."""
        with self._condition:
            window, entry.window = entry.window, 0.0
            if max((queued.window for queued in self._queue), default=0.0) < window:
                self._condition.notify()  # the queued jobs' window ends sooner, or now

    def close(self, *, cancel: bool = False) -> None:
        """Stop the worker and drop the engine.

        Queued jobs are finished first, unless ``cancel``: then every queued and running
        job is cancelled (running rows stop at their next token, queued ones fail).
        """
        with self._condition:
            self._closed = True
            if cancel:
                for job in [*self._running, *(entry.job for entry in self._queue)]:
                    job.cancelled.set()
            self._condition.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        _LIVE.discard(self)
        self._engine = None  # type: ignore[assignment]

    def _take(self) -> list[Job] | None:
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            if not self._queue:
                return None
            first = time.monotonic()
            while not self._closed and len(self._queue) < self._max_rows:
                end = self._window_end(first)
                remaining = 0.0 if end is None else end - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            jobs = [entry.job for entry in self._queue]
            self._queue.clear()
            self._running = jobs
            return jobs

    def _window_end(self, since: float) -> float | None:
        """When the queued jobs' batching window ends: ``window`` seconds after the last arrival, at most
        ``max(max_wait, window)`` after ``since``; None when no queued job asks for one (any more: its caller
        settled). Call with the lock held."""
        window = max(entry.window for entry in self._queue)
        if window <= 0:
            return None
        return min(self._arrived + window, since + max(self._max_wait, window))

    def _ready(self, now: float) -> bool:
        """Whether the queued jobs' batching window has passed, counted from when the oldest of them was queued."""
        end = self._window_end(self._first_waiting)
        return end is None or now >= end

    def _joinable(self, group: Sequence[Job], others: bool = False) -> Callable[[int], bool]:
        """``yield_to`` for ``group``'s batch: True once queued jobs of its kind can join it (room, the queue's
        window passed) and :func:`~abstractllm_hf_pipeline.yielding.worth_joining` says it pays.

        A speculative job runs alone, so nothing joins it: it yields as soon as ``others`` (groups taken with
        it) or queued jobs wait, and is continued after them, so that it never stalls other callers."""
        if group[0].speculative is not None:
            return lambda steps_left: others or self._anyone_waiting()
        key = group[0].batch_key()
        running = sum(job.rows for job in group)
        room = self._max_rows - running

        def waiting(steps_left: int) -> bool:
            if steps_left < MIN_STEPS_LEFT or not self._queue:
                return False  # the cheap answer first: this runs after every decoding step
            with self._condition:
                if self._closed or not self._queue or not self._ready(time.monotonic()):
                    return False
                joining = tokens = 0
                for entry in self._queue:
                    job = entry.job
                    if job.batch_key() == key and joining + job.rows <= room:
                        joining += job.rows
                        tokens += job.rows * len(job.ids)
            costs = self._engine.costs
            return worth_joining(joining, running, steps_left, costs.step, costs.restart(tokens))

        return waiting

    def _anyone_waiting(self) -> bool:
        """Whether queued jobs wait and their batching window has passed."""
        if not self._queue:
            return False  # the cheap answer first: this runs after every decoding step
        with self._condition:
            return bool(self._queue) and not self._closed and self._ready(time.monotonic())

    def _groups(self, jobs: list[Job]) -> list[list[Job]]:
        groups: dict[Hashable, list[list[Job]]] = {}
        for job in jobs:
            if job.cancelled.is_set():
                self._engine.abandon(job)
                continue
            chunks = groups.setdefault(job.batch_key(), [[]])
            if chunks[-1] and sum(other.rows for other in chunks[-1]) + job.rows > self._max_rows:
                chunks.append([])
            chunks[-1].append(job)
        return [chunk for chunks in groups.values() for chunk in chunks]

    def _work(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            groups = self._groups(jobs)
            for number, group in enumerate(groups, 1):
                if all(job.cancelled.is_set() for job in group):  # cancelled while an earlier group ran
                    for job in group:
                        self._engine.abandon(job)
                    continue
                self.batches_run += 1
                self.largest_batch = max(self.largest_batch, len(group))
                logger.debug("generating a batch of %d request(s)", len(group))
                try:
                    unfinished = self._engine.run(group, self._joinable(group, others=number < len(groups)))
                except Exception:  # a sink failed; the worker must survive for the other callers
                    logger.exception("delivering a batch's results failed")
                    unfinished = [job for job in group if job.resume is not None]
                if unfinished:
                    self.yields += 1
                    with self._condition:
                        if not self._queue:
                            self._first_waiting = time.monotonic()
                        self._queue.extendleft(_Queued(job, 0.0) for job in reversed(unfinished))
            with self._condition:
                self._running = []


@atexit.register
def _stop_all() -> None:
    """Cancel and join every worker so that none is inside torch when the interpreter finalises."""
    for batcher in list(_LIVE):
        try:
            batcher.close(cancel=True)
        except Exception:  # exiting: one batcher's failure must not keep the others running
            logger.exception("stopping a batcher at exit failed")
