"""Continuous batching: a request that arrives while a batch runs joins it between two decoding steps, rows
that ended leave it, and a job gets its result when its rows end.

The running batch yields, its unfinished jobs carry their state (ids so far, key/values, decoder) into the
next batch beside the newcomer, and every reply, stream and usage equals the one a request running alone
gets (greedy). Progress is measured in decoding steps, never in wall-clock time; the policy (when a
regrouping pays) is tested on its own, with the mechanism tests setting its payback to zero.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.backend.messages import Message
from abstractllm.request import GenerationParams, GenerationRequest, ResponseFormat
from abstractllm_hf_pipeline import yielding
from abstractllm_hf_pipeline.engine import Engine, Job
from abstractllm_hf_pipeline.sinks import FutureSink
from abstractllm_hf_pipeline.yielding import (
    MIN_STEPS_BEFORE_YIELD,
    MIN_STEPS_LEFT,
    PAYBACK,
    WEIGHT,
    Costs,
    worth_joining,
    worth_leaving,
)

LONG = "You can call"  # the tiny model writes about 80 tokens after it before it ends
SHORT = "Numbers: 1"
DEADLINE = 120.0


@pytest.fixture(scope="module")
def joining(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """A load of its own (device='cpu' makes a different sharing key), so that no other test's batch runs beside."""
    model = create_llm("huggingface", model=str(chat_dir), device="cpu")
    yield model
    model.unload()


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.0005)


def _solo(llm: AbstractLLMInterface, prompt: str, max_tokens: int) -> Any:
    return llm.generate(prompt, raw=True, temperature=0, max_tokens=max_tokens)


def test_a_late_request_joins_the_running_batch_and_every_reply_equals_its_solo_reply(
    joining: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_alone, short_alone = _solo(joining, LONG, 200), _solo(joining, SHORT, 8)
    assert long_alone.usage.completion_tokens > 40  # long enough to be running when the short one arrives
    monkeypatch.setattr(yielding, "PAYBACK", 0.0)  # join whenever there is room: the mechanism, not the policy
    batcher = joining.backend.loaded.batcher
    yields, start = batcher.yields, batcher.steps_run
    pieces: list[str] = []
    finished = threading.Event()

    def stream_long() -> None:
        for chunk in joining.generate(LONG, raw=True, temperature=0, max_tokens=200, stream=True):
            pieces.append(str(chunk))
        finished.set()

    reader = threading.Thread(target=stream_long)
    reader.start()
    _wait(lambda: batcher.steps_run >= start + 10, "the long request generates")
    short = _solo(joining, SHORT, 8)
    long_running = not finished.is_set()  # the short one did not wait for the long one to end
    reader.join(DEADLINE)
    assert batcher.yields > yields
    assert long_running
    assert (str(short), short.usage, short.choices[0].finish_reason) == (
        str(short_alone),
        short_alone.usage,
        short_alone.choices[0].finish_reason,
    )
    assert "".join(pieces) == str(long_alone)


def test_async_arrivals_join_and_match(joining: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    alone = {prompt: _solo(joining, prompt, 40) for prompt in (LONG, SHORT, "The weather")}
    monkeypatch.setattr(yielding, "PAYBACK", 0.0)
    batcher = joining.backend.loaded.batcher

    async def staggered() -> list[Any]:
        start = batcher.steps_run
        first = asyncio.ensure_future(joining.generate_async(LONG, raw=True, temperature=0, max_tokens=40))
        while batcher.steps_run < start + 5:
            await asyncio.sleep(0.0005)
        second = asyncio.ensure_future(joining.generate_async(SHORT, raw=True, temperature=0, max_tokens=40))
        while batcher.steps_run < start + 15:
            await asyncio.sleep(0.0005)
        third = asyncio.ensure_future(joining.generate_async("The weather", raw=True, temperature=0, max_tokens=40))
        return list(await asyncio.wait_for(asyncio.gather(first, second, third), DEADLINE))

    yields = batcher.yields
    replies = asyncio.run(staggered())
    assert batcher.yields > yields
    assert [(str(reply), reply.usage) for reply in replies] == [
        (str(alone[prompt]), alone[prompt].usage) for prompt in (LONG, SHORT, "The weather")
    ]


def test_a_closed_stream_in_a_regrouped_batch_stops_and_the_other_row_goes_on(
    joining: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_alone = _solo(joining, SHORT, 40)
    monkeypatch.setattr(yielding, "PAYBACK", 0.0)
    batcher = joining.backend.loaded.batcher
    yields, start = batcher.yields, batcher.steps_run
    replies: list[Any] = []
    stream = joining.generate(LONG, raw=True, temperature=0, max_tokens=200, stream=True)
    next(stream)
    _wait(lambda: batcher.steps_run >= start + 6, "the long stream generates")
    other = threading.Thread(target=lambda: replies.append(_solo(joining, SHORT, 40)))
    other.start()
    _wait(lambda: batcher.yields > yields, "the short request joins")
    stream.close()  # cancels the long row, now a continued one
    other.join(DEADLINE)
    assert not other.is_alive()
    assert (str(replies[0]), replies[0].usage) == (str(short_alone), short_alone.usage)
    _wait(lambda: not batcher._running and not batcher._queue, "the batcher is idle")
    assert batcher.steps_run - start < 150  # the long row did not run on to its 200 tokens


def test_closing_a_batcher_while_rows_are_regrouped_answers_every_caller(
    plain_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yielding, "PAYBACK", 0.0)
    # a load no other test shares (another model directory): this test stops its batcher
    llm = create_llm("huggingface", model=str(plain_dir), device="cpu", max_batch_size=4, prefix_cache_bytes=0)
    try:
        batcher = llm.backend.loaded.batcher
        llm.generate(LONG, raw=True, temperature=0, max_tokens=16)  # measures a step: nothing joins before
        outcomes: list[str] = []

        def call(prompt: str) -> None:
            try:
                reply = llm.generate(prompt, raw=True, temperature=0, max_tokens=200)
                outcomes.append(f"reply:{reply.choices[0].finish_reason}")
            except Exception as exc:  # an unloaded model refuses or fails a queued call: an answer too
                outcomes.append(f"error:{type(exc).__name__}")

        start = batcher.steps_run
        threads = [threading.Thread(target=call, args=(prompt,)) for prompt in (LONG, "Numbers:", "You can call")]
        for index, thread in enumerate(threads):
            thread.start()
            _wait(lambda index=index: batcher.steps_run >= start + 6 * (index + 1), "the batch generates")
        yields = batcher.yields
        batcher.close(cancel=True)
        for thread in threads:
            thread.join(DEADLINE)
        assert not any(thread.is_alive() for thread in threads)
        assert len(outcomes) == 3 and yields > 0
    finally:
        llm.unload()


# -- the engine's side: a batch that yields, and its continuation --------------------------------------------


def _job(llm: AbstractLLMInterface, prompt: str, max_tokens: int, temperature: float = 0.0, **request: Any) -> Job:
    params = GenerationParams(temperature=temperature, max_tokens=max_tokens)
    raw = not request
    messages = (Message(role="user", content=prompt),)
    built = GenerationRequest(messages=messages, params=params, prompt=prompt if raw else None, raw=raw, **request)
    return Job(request=built, prompt=llm.backend.encode(built), output=llm.backend._output, sink=FutureSink())


def _engine(llm: AbstractLLMInterface) -> Engine:
    """The loaded model's engine, driven directly: only while no request of this module runs."""
    engine: Engine = llm.backend.loaded.batcher._engine
    return engine


def test_a_yielded_job_continues_to_the_reply_it_gets_alone(joining: AbstractLLMInterface) -> None:
    engine = _engine(joining)
    alone = _solo(joining, LONG, 60)
    job = _job(joining, LONG, 60)
    unfinished = engine.run([job], lambda steps_left: True)
    assert unfinished == [job] and job.resume is not None
    assert job.resume.row.length == MIN_STEPS_BEFORE_YIELD  # it yields as early as allowed
    assert len(job.resume.ids) == len(job.prompt.ids) + MIN_STEPS_BEFORE_YIELD
    assert job.resume.cache is not None and job.resume.cache.get_seq_length() == len(job.resume.ids) - 1
    while unfinished:  # yield again and again: each continuation prefills one token
        unfinished = engine.run(unfinished, lambda steps_left: True)
    completion = job.sink.future.result(timeout=0)
    assert (completion.choices[0].text, completion.usage) == (str(alone), alone.usage)


def test_a_job_cancelled_while_waiting_to_continue_ends_with_its_reply_so_far(joining: AbstractLLMInterface) -> None:
    engine = _engine(joining)
    alone = _solo(joining, LONG, 60)
    job = _job(joining, LONG, 60)
    assert engine.run([job], lambda steps_left: True) == [job]
    job.cancelled.set()
    engine.abandon(job)
    completion = job.sink.future.result(timeout=0)
    assert completion.usage.completion_tokens == MIN_STEPS_BEFORE_YIELD
    assert str(alone).startswith(completion.choices[0].text) and completion.choices[0].text
    assert completion.choices[0].finish_reason == "stop" and job.resume is None


class _StepSink(FutureSink):
    """A blocking sink that also notes the engine's step count when the result arrives."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.finished_at: int | None = None

    def finish(self, completion: Any) -> None:
        self.finished_at = self._engine.steps_run
        super().finish(completion)


@pytest.mark.parametrize("streaming", [False, True], ids=["ends-by-end-of-sequence", "streamed-with-a-lower-limit"])
def test_a_job_gets_its_result_when_its_row_ends_not_when_the_batch_does(joining: AbstractLLMInterface, streaming: bool) -> None:
    engine = _engine(joining)
    short_prompt, short_tokens = ("Numbers: 1 2", 100) if not streaming else (SHORT, 4)
    short_alone, long_alone = _solo(joining, short_prompt, short_tokens), _solo(joining, LONG, 100)
    assert short_alone.usage.completion_tokens + 20 < long_alone.usage.completion_tokens
    short, long = _job(joining, short_prompt, short_tokens), _job(joining, LONG, 100)
    short.sink = _StepSink(engine)
    long.streaming = streaming
    start = engine.steps_run
    assert engine.run([short, long]) == []
    assert short.sink.finished_at is not None
    assert short.sink.finished_at - start == short_alone.usage.completion_tokens  # the step its row ended at
    assert engine.steps_run - start == long_alone.usage.completion_tokens
    for job, alone in ((short, short_alone), (long, long_alone)):
        completion = job.sink.future.result(timeout=0)
        assert (completion.choices[0].text, completion.usage) == (str(alone), alone.usage)


def test_a_batch_restarts_without_its_ended_rows_and_the_rest_continues_exactly(
    joining: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(joining)
    short_alone, long_alone = _solo(joining, SHORT, 6), _solo(joining, LONG, 100)
    monkeypatch.setattr(yielding, "PAYBACK", 0.0)  # leave as soon as a row ended: the mechanism, not the policy
    short, long = _job(joining, SHORT, 6), _job(joining, LONG, 100)
    assert engine.run([short, long], lambda steps_left: False) == [long]  # nobody waits: the ended row left
    assert long.resume is not None and long.resume.row.length == short_alone.usage.completion_tokens
    assert short.sink.future.result(timeout=0).choices[0].text == str(short_alone)
    unfinished = [long]
    while unfinished:
        unfinished = engine.run(unfinished, lambda steps_left: False)
    completion = long.sink.future.result(timeout=0)
    assert (completion.choices[0].text, completion.usage) == (str(long_alone), long_alone.usage)


def test_constrained_and_sampled_batches_never_yield(joining: AbstractLLMInterface) -> None:
    engine = _engine(joining)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    constrained = _job(joining, "JSON please", 40, response_format=ResponseFormat("json_schema", schema))
    assert engine.run([constrained], lambda steps_left: True) == []
    assert constrained.sink.future.result(timeout=0).choices[0].text.startswith("{")
    sampled = _job(joining, LONG, 40, temperature=0.8)
    assert engine.run([sampled], lambda steps_left: True) == []
    assert sampled.sink.future.result(timeout=0).usage.completion_tokens > MIN_STEPS_BEFORE_YIELD


def test_joining_pays_only_when_the_wait_it_spares_outweighs_the_restart() -> None:
    step, restart = 0.060, 0.150  # a real model on this machine: a step, and a restart with a short prompt's prefill
    assert worth_joining(1, 1, 56, step, restart)  # 3.4 s spared vs 8 x 2 x 0.15 s
    assert not worth_joining(1, 16, 56, step, restart)  # sixteen rows would each pay the restart
    assert not worth_joining(1, 1, MIN_STEPS_LEFT - 1, step, 0.0)  # too close to the end
    assert not worth_joining(0, 1, 100, step, 0.0)
    tiny_step, tiny_restart = 0.001, 0.002  # the tiny model: a restart costs two steps
    assert not worth_joining(1, 4, 28, tiny_step, tiny_restart)  # short requests: finishing first is cheaper
    assert worth_joining(1, 1, 250, tiny_step, tiny_restart)  # a long generation: joining spares 250 steps
    assert worth_joining(2, 2, 40, 1.0, 40 / (PAYBACK * 2))  # the bound itself


def test_ended_rows_leave_only_when_the_steps_they_cost_outweigh_the_restart() -> None:
    step, restart = 0.090, 0.080  # a real model on this machine: a two-row step, and a restart
    assert worth_leaving(1, 2, 88, step, restart)  # the other row's 88 steps get faster
    assert not worth_leaving(1, 16, 88, step, restart)  # one row in sixteen: too little to save
    assert worth_leaving(8, 16, 88, step, restart)
    assert not worth_leaving(1, 2, MIN_STEPS_LEFT - 1, step, 0.0)  # too close to the end
    assert not worth_leaving(0, 2, 100, step, 0.0) and not worth_leaving(2, 2, 100, step, 0.0)  # nothing ended, or all


def test_restart_costs_are_measured_apart_from_long_prefills() -> None:
    costs = Costs()
    assert costs.restart(1000) == 0.0 and not worth_joining(1, 1, 100, costs.step, costs.restart())  # unmeasured: no
    costs.measured(seconds=0.040, steps=32, decoding=0.031, prefilled=4)  # 1 ms steps; 8 ms beyond them
    assert (costs.step, costs.setup, costs.per_token) == pytest.approx((0.001, 0.008, 0.0))
    costs.measured(seconds=3.5, steps=8, decoding=0.007, prefilled=1500)  # a 1,500-token prompt's prefill
    step = 0.001  # both calls had 1 ms steps
    assert costs.setup == pytest.approx(0.008)  # not taken for the fixed cost of every restart
    assert costs.per_token == pytest.approx((3.5 - 8 * step - 0.008) / 1500)
    assert costs.restart(100) == pytest.approx(0.008 + 100 * costs.per_token)
    costs.measured(seconds=0.030, steps=32, decoding=0.031, prefilled=4)  # a faster call moves the average
    assert costs.setup == pytest.approx(0.008 + WEIGHT * (0.0 - 0.008))
