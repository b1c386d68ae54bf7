"""Batching under staggered arrivals, on the tiny pipeline model: our batcher vs transformers' continuous batching.

Requests of 32 greedy tokens each (prompts the tiny model does not end early), in three seeded
arrival patterns, each run ROUNDS times:

- simultaneous: 16 requests at once (what ``bench_pipeline``'s concurrency row measures);
- staggered: 48 requests, Poisson arrivals at 2x the sequential rate (mean gap = half the time
  of one request alone, measured again before each round: this shared machine's speed drifts
  within minutes, and a rate from an earlier, faster spell would ask for more than 2x);
- overload: 64 requests, Poisson arrivals at 1.25x the simultaneous throughput, so that a queue
  builds up and the completion rate shows what batching delivers when requests come one by one.

Reported per pattern: throughput (its ratio column: over ours, simultaneous) and p50/p99
latency (completion - arrival). Throughput is
requests / (last completion - first arrival), except under overload, where it is the sustained
completion rate after the first quarter of the requests completed (the start-up is not service
capacity). A finite run of requests arriving at 2x the sequential rate cannot finish faster than
they arrive, so its throughput is capped near the arrival rate (a small fraction of a
simultaneous batch that is 5-10x faster than sequential); the targets are therefore:
staggered throughput >= 0.8x the arrival rate the run offered (the batcher keeps up; the rate its
seeded arrivals actually have, not the one asked of the Poisson draw, and over 48 requests so that
the last one's latency is a small part of the span), and overload throughput
>= 0.8x the simultaneous throughput (requests arriving spread out are batched about as well as
requests arriving together).

The same patterns are run through transformers' ``ContinuousBatchingManager`` (paged cache on
CPU, its own copy of the model) for comparison, after ours and never beside them (its manager
thread holds an OpenMP team for as long as it lives, see ``common.on_own_thread``); those rows
have no target.

Late arrival, on the real model (SmolLM2-135M-Instruct, ``tinymodel.realmodel``) when it can be
had: a short chat request (8 tokens) sent while a long one (LATE_LONG_TOKENS tokens) has generated
8 of them. It joins the running batch: its latency over its latency alone must stay within 1.25x
the floor of batching on this machine, raw transformers' time of a two-row decoding step over a
one-row step (measured in the same run: CPU matrix kernels do not run two rows for the price of
one). A batcher without joining, shown for comparison with ``max_batch_size=1``, makes it wait
for the long reply to end. Also shown: what the join costs the long reply. Replies must equal
those of requests sent alone. Writes ``benchmarks/results/batching.json``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import finish, median_seconds, on_own_thread, percentile, real_model, report, row  # noqa: E402

from abstractllm import create_llm  # noqa: E402
from tinymodel import ensure_tiny_models  # noqa: E402

REQUESTS = 16
STAGGERED_REQUESTS = 48
OVERLOAD_REQUESTS = 64
OVERLOAD = 1.25  # arrival rate of the overload pattern, over the simultaneous throughput
TOKENS = 32
LATE_LONG = "Write a long story about a lighthouse keeper and a storm."
LATE_LONG_TOKENS = 96
LATE_SHORT = "What is the capital of France?"
ROUNDS = 3
CANDIDATES = ["Numbers:", "1 2 3", "Numbers: 1", "Numbers: 1 2", "1 2", "1 2 3 4", "Numbers: 0", "JSON objects",
              "Functions", "A helpful assistant", "Numbers: 0 1", "The result", "name", "To call", "You can call",
              "tools", "Paris, Berlin", "The weather", "JSON", "Get the weather", "arguments", "city"]  # fmt: skip


def arrivals(count: int, rate: float | None, seed: int) -> list[float]:
    """Offsets (seconds) of ``count`` arrivals: all at 0 without a rate, else a seeded Poisson process."""
    if rate is None:
        return [0.0] * count
    draw = random.Random(seed)
    offsets, now = [], 0.0
    for _ in range(count):
        offsets.append(now)
        now += draw.expovariate(rate)
    return offsets


def offered_rate(offsets: list[float]) -> float:
    """The arrival rate ``offsets`` (a run's arrivals, from :func:`arrivals`) actually offer: gaps per second."""
    return (len(offsets) - 1) / (offsets[-1] - offsets[0])


def summary(runs: list[tuple[list[float], list[float]]], *, sustained: bool = False) -> dict[str, float]:
    """Median throughput over runs, and p50/p99 latency over every request of every run.

    Each run is (arrival times, completion times), both absolute. ``sustained``: the completion
    rate after the first quarter of the completions, instead of requests over the whole span.
    """
    rates = []
    for arrived, done in runs:
        if sustained:
            finished = sorted(done)
            skip = len(finished) // 4
            rates.append((len(finished) - skip) / (finished[-1] - finished[skip - 1]))
        else:
            rates.append(len(done) / (max(done) - min(arrived)))
    latencies = [end - start for arrived, done in runs for start, end in zip(arrived, done, strict=True)]
    return {
        "throughput_rps": statistics.median(rates),
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
    }


def run_ours(llm: Any, prompts: list[str], offsets: list[float]) -> tuple[list[float], list[float]]:
    """Each request is a ``generate_async`` call started at its arrival offset (prompts taken in turn)."""
    count = len(offsets)
    arrived = [0.0] * count
    done = [0.0] * count

    async def one(index: int, start: float) -> None:
        await asyncio.sleep(max(0.0, start + offsets[index] - time.perf_counter()))
        arrived[index] = time.perf_counter()
        reply = await llm.generate_async(prompts[index % len(prompts)], raw=True, temperature=0, max_tokens=TOKENS)
        done[index] = time.perf_counter()
        assert reply.usage.completion_tokens == TOKENS

    async def all_of_them() -> None:
        start = time.perf_counter()
        await asyncio.gather(*(one(index, start) for index in range(count)))

    asyncio.run(all_of_them())
    return arrived, done


class ContinuousBatching:
    """transformers' ``ContinuousBatchingManager`` on its own copy of the model, fed at the same arrival times."""

    def __init__(self, model_dir: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
        from transformers.generation import ContinuousBatchingConfig

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        generation = GenerationConfig(max_new_tokens=TOKENS, do_sample=False, eos_token_id=model.config.eos_token_id)
        # Sizes given, not inferred (on CPU inference sizes the cache from system memory and takes a minute);
        # at most 32 requests per step, as our max_batch_size default.
        config = ContinuousBatchingConfig(
            num_blocks=64, page_size=64, max_batch_tokens=512, max_requests_per_batch=32, use_cuda_graph=False
        )
        self.manager = model.init_continuous_batching(generation_config=generation, continuous_batching_config=config)
        self.manager.start()

    def tokens(self, prompt: str) -> list[int]:
        """The greedy continuation (TOKENS ids, end of sequence disabled) of ``prompt`` alone."""
        request = self.manager.add_request(self.tokenizer(prompt)["input_ids"], max_new_tokens=TOKENS, eos_token_id=-1)
        while True:
            result = self.manager.get_result(request_id=request, timeout=1.0)
            if result is not None and result.is_finished():
                return list(result.generated_tokens)

    def run(self, prompts: list[str], offsets: list[float], round_: int) -> tuple[list[float], list[float]]:
        encoded = [self.tokenizer(prompt)["input_ids"] for prompt in prompts]
        arrived: dict[str, float] = {}
        done: dict[str, float] = {}
        ids = [f"round{round_}-{index}-{time.monotonic_ns()}" for index in range(len(offsets))]

        def collect() -> None:
            while len(done) < len(ids):
                result = self.manager.get_result(timeout=0.5)
                if result is not None and result.is_finished():
                    done[result.request_id] = time.perf_counter()
                    assert len(result.generated_tokens) == TOKENS

        collector = threading.Thread(target=collect)
        collector.start()
        start = time.perf_counter()
        for index, request in enumerate(ids):
            time.sleep(max(0.0, start + offsets[index] - time.perf_counter()))
            arrived[request] = time.perf_counter()
            self.manager.add_request(encoded[index % len(encoded)], request_id=request, max_new_tokens=TOKENS, eos_token_id=-1)
        collector.join(timeout=600)
        return [arrived[request] for request in ids], [done[request] for request in ids]

    def close(self) -> None:
        self.manager.stop(block=True)


def main() -> None:
    model_dir = str(ensure_tiny_models(ROOT / ".cache" / "tiny-models").pipeline_dir)
    llm = create_llm("huggingface", model=model_dir)
    prompts = [
        p for p in CANDIDATES if llm.generate(p, raw=True, temperature=0, max_tokens=TOKENS).usage.completion_tokens == TOKENS
    ]
    prompts = (prompts * REQUESTS)[:REQUESTS]

    def alone() -> None:
        llm.generate(prompts[0], raw=True, temperature=0, max_tokens=TOKENS)

    alone()
    single = statistics.median(_timed(alone) for _ in range(7))
    run_ours(llm, prompts, arrivals(REQUESTS, None, 0))  # warm the path

    # Each engine runs alone: CB's manager thread, while it lives, holds an OpenMP team (idle, it takes no CPU), and
    # two teams on two cores slow each other (it doubled our batches' times), so it is started only after our runs
    # and stopped before the end.
    runs: dict[str, dict[str, list[tuple[list[float], list[float]]]]] = {"ours": {}, "transformers CB": {}}
    rates: dict[str, float | None] = {"simultaneous": None}
    staggered_rates: list[float] = []  # per round: 2x the sequential rate measured just before (this VM's speed drifts)
    patterns: list[tuple[str, int, list[float]]] = []
    for pattern in ("simultaneous", "staggered", "overload"):
        if pattern == "overload":
            rates[pattern] = OVERLOAD * summary(runs["ours"]["simultaneous"])["throughput_rps"]
        count = {"simultaneous": REQUESTS, "staggered": STAGGERED_REQUESTS, "overload": OVERLOAD_REQUESTS}[pattern]
        for round_ in range(ROUNDS):
            if pattern == "staggered":
                staggered_rates.append(2 / statistics.median(_timed(alone) for _ in range(3)))
                rates[pattern] = staggered_rates[-1]
            offsets = arrivals(count, rates[pattern], round_)
            patterns.append((pattern, round_, offsets))
            runs["ours"].setdefault(pattern, []).append(run_ours(llm, prompts, offsets))
    rates["staggered"] = statistics.median(staggered_rates)
    same_tokens_ids = _greedy_ids(llm, prompts[0])
    cb = ContinuousBatching(model_dir)
    same_tokens = cb.tokens(prompts[0]) == same_tokens_ids
    cb.run(prompts, arrivals(REQUESTS, None, 0), -1)  # warm the path
    for pattern, round_, offsets in patterns:
        runs["transformers CB"].setdefault(pattern, []).append(cb.run(prompts, offsets, round_))
    cb.close()
    llm.unload()

    results = {
        engine: {pattern: summary(samples, sustained=pattern == "overload") for pattern, samples in by_pattern.items()}
        for engine, by_pattern in runs.items()
    }
    details = {"single_request_s": single, "arrival_rates_rps": rates, "cb_greedy_tokens_match_ours": same_tokens,
               **results}  # fmt: skip
    ours = results["ours"]
    simultaneous = ours["simultaneous"]["throughput_rps"]
    rows = [row("one request alone (32 tokens)", single * 1e3, "ms", note=f"sequential rate {1 / single:.1f} req/s")]
    for engine, measured in results.items():
        for pattern in ("simultaneous", "staggered", "overload"):
            values = measured[pattern]
            note = f"latency p50 {values['p50_s'] * 1e3:.0f} ms, p99 {values['p99_s'] * 1e3:.0f} ms"
            if rates[pattern] is not None:
                note += f"; arrivals {rates[pattern]:.1f} req/s"
            if engine != "ours":
                note += f"; throughput vs ours {values['throughput_rps'] / ours[pattern]['throughput_rps']:.2f}x"
            rows.append(
                row(
                    f"{engine}, {pattern}: throughput",
                    values["throughput_rps"],
                    "req/s",
                    ratio=values["throughput_rps"] / simultaneous,
                    note=note,
                )
            )
    offered = [offered_rate(offsets) for pattern, _, offsets in patterns if pattern == "staggered"]
    keeps_up = statistics.median(  # each round's throughput over the arrival rate that round offered
        summary([run])["throughput_rps"] / rate for run, rate in zip(runs["ours"]["staggered"], offered, strict=True)
    )
    overloaded = ours["overload"]["throughput_rps"] / simultaneous
    rows.append(
        row("ours, staggered: throughput / offered arrival rate", keeps_up, ratio=keeps_up, target=">= 0.8", ok=keeps_up >= 0.8)
    )
    rows.append(
        row("ours, overload: throughput / simultaneous", overloaded, ratio=overloaded, target=">= 0.8", ok=overloaded >= 0.8)
    )
    late, details["late_arrival"] = late_rows()
    report("batching", rows + late, details)


def late_arrival(config: dict[str, Any]) -> dict[str, Any]:
    """Seconds: the short request alone and sent while the long one runs, the long one alone and with the short
    one joining; whether the replies equal those made alone; the raw two-row step ratio (a fresh load with
    ``config``, unloaded at the end)."""
    llm = create_llm("huggingface", **config)
    try:
        batcher = llm.backend.loaded.batcher
        long_alone = llm.generate(LATE_LONG, temperature=0, max_tokens=LATE_LONG_TOKENS)
        short_alone = llm.generate(LATE_SHORT, temperature=0, max_tokens=8)
        alone = statistics.median(_timed(lambda: llm.generate(LATE_SHORT, temperature=0, max_tokens=8)) for _ in range(3))
        long_seconds = _timed(lambda: llm.generate(LATE_LONG, temperature=0, max_tokens=LATE_LONG_TOKENS))
        replies: list[tuple[Any, float]] = []

        def long_request() -> None:
            started = time.perf_counter()
            reply = llm.generate(LATE_LONG, temperature=0, max_tokens=LATE_LONG_TOKENS)
            replies.append((reply, time.perf_counter() - started))

        worker = threading.Thread(target=long_request)
        start = batcher.steps_run
        worker.start()
        deadline = time.monotonic() + 600
        while batcher.steps_run < start + 8 and time.monotonic() < deadline:
            time.sleep(0.001)
        started = time.perf_counter()
        short = llm.generate(LATE_SHORT, temperature=0, max_tokens=8)
        late = time.perf_counter() - started
        worker.join(600)
        same = str(short) == str(short_alone) and bool(replies) and str(replies[0][0]) == str(long_alone)
        return {"alone_s": alone, "late_s": late, "long_alone_s": long_seconds, "long_joined_s": replies[0][1],
                "same_replies": same, "long_tokens": long_alone.usage.completion_tokens, "yields": batcher.yields,
                "raw_two_row_step_ratio": on_own_thread(lambda: two_row_step_ratio(llm.backend.loaded.model))}  # fmt: skip
    finally:
        llm.unload()


def two_row_step_ratio(model: Any) -> float:
    """Raw transformers on ``model``: the time of a decoding step of two rows over one row's (contexts of about
    100 tokens). The floor of any batching here: CPU matrix kernels do not run two rows for the price of one."""
    import torch

    from abstractllm_hf_pipeline.engine import CACHE_FIELD  # transformers' name for the cache, by version

    def step(rows: int) -> float:
        ids = torch.randint(100, 1000, (rows, 100))
        with torch.inference_mode():
            cache = getattr(model(input_ids=ids, use_cache=True), CACHE_FIELD)
            return median_seconds(lambda: model(input_ids=ids[:, -1:], use_cache=True, **{CACHE_FIELD: cache}), 9)

    step(1)  # warm up
    return step(2) / step(1)


def late_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The late-arrival rows on the real model (or one row saying why they are skipped) and their details."""
    real, skipped = real_model()
    if real is None:
        return [row("late arrival (real model)", "skipped", note=skipped)], {}
    joined = late_arrival({"model": str(real.pipeline_dir)})
    alone = late_arrival({"model": str(real.pipeline_dir), "max_batch_size": 1})
    ratio = joined["late_s"] / joined["alone_s"]
    floor = joined["raw_two_row_step_ratio"]
    serial = alone["late_s"] / alone["alone_s"]
    rows = [
        row(
            "late arrival, real model: latency / alone",
            ratio,
            ratio=ratio,
            note=f"{joined['late_s'] * 1e3:.0f} ms vs {joined['alone_s'] * 1e3:.0f} ms alone; "
            f"raw transformers: a two-row step is {floor:.2f}x a one-row step",
        ),
        row(
            "late arrival: latency / (alone x raw two-row step ratio)",
            ratio / floor,
            ratio=ratio / floor,
            target="<= 1.25",
            ok=ratio / floor <= 1.25,
            note="it joins the running batch instead of waiting for it",
        ),
        row(
            "late arrival, one at a time (max_batch_size=1): latency / alone",
            serial,
            ratio=serial,
            note=f"{alone['late_s'] * 1e3:.0f} ms: it waits for the long reply ({joined['long_tokens']} tokens)",
        ),
        row(
            "late arrival: the long reply with it joining / alone",
            joined["long_joined_s"] / joined["long_alone_s"],
            ratio=joined["long_joined_s"] / joined["long_alone_s"],
            note=f"{joined['long_joined_s'] * 1e3:.0f} ms vs {joined['long_alone_s'] * 1e3:.0f} ms",
        ),
    ]
    same = joined["same_replies"] and alone["same_replies"]
    rows.append(row("late arrival: replies = those made alone", "same" if same else "different", target="same", ok=same))
    return rows, {"joined": joined, "one_at_a_time": alone}


def _greedy_ids(llm: Any, prompt: str) -> list[int]:
    """The TOKENS greedy ids raw ``generate`` makes for ``prompt`` on our loaded model."""
    import torch

    loaded = llm.backend.loaded
    encoded = loaded.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        output = loaded.model.generate(**encoded, max_new_tokens=TOKENS, min_new_tokens=TOKENS, do_sample=False)
    return [int(token) for token in output[0, encoded["input_ids"].shape[1] :]]


def _timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
    finish()
