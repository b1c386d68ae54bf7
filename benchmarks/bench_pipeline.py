"""Benchmarks of the pipeline backend against raw transformers, measured in one run.

    python benchmarks/bench_pipeline.py [--repeats N]

1. Overhead: 32 greedy tokens through ``llm.generate`` vs raw ``model.generate`` on the same loaded model (≤ 1.05).
2. Concurrency: 16 concurrent ``generate_async`` vs 16 sequential ``generate`` calls, 32 tokens each, against
   what raw batched ``generate`` of the 16 prompts gains over 16 raw sequential calls in the same run (our gain
   >= 0.85 of raw's). The gain itself depends on the machine: here raw's is 10-12x with one OpenMP thread and
   4.5x with two (a tiny model's operations are too small to share; the threads' synchronisation costs more
   than they save), so the old absolute target (>= 5x, set when raw gained 11.5x) measured the machine; and the 16
   concurrent calls vs raw batched ``generate`` of the same prompts (<= 1.2x: the engine's own work per step),
   alternated, in wall time (which includes the wait for company: the batching window, ended once the 16 calls
   are queued) and in CPU time.
3. Cache: a second ``create_llm`` of an already loaded model vs the first load (≤ 1 %).
4. Memory: process RSS after ``unload()`` vs before the load (within 5 %), on a ~540 MB model.
5. Constrained decoding: per-token time with a JSON schema vs without (<= 1.5x), and the first vs the
   second request with a new schema (the grammar is compiled once and cached).

Prints the common table and writes ``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import finish, median_seconds, report, row, rss, trim  # noqa: E402

from abstractllm import create_llm  # noqa: E402
from tinymodel import ensure_tiny_models  # noqa: E402

CANDIDATES = [
    "Numbers:", "1 2 3", "Numbers: 1", "Numbers: 1 2", "1 2", "1 2 3 4", "Numbers: 0", "JSON objects",
    "Functions", "Functions and tools", "A helpful assistant", "Numbers: 0 1", "The result", "name", "To call",
    "You can call", "tools", "Paris, Berlin", "The weather", "JSON", "Get the weather", "arguments", "city",
    "France, Germany", "How are you?", "What would you", "1", "2", "3", "Numbers: 10", "values", "keys",
]  # fmt: skip


def bench_overhead(llm: Any, prompt: str, repeats: int) -> dict[str, Any]:
    import torch

    loaded = llm.backend.loaded
    model, tokenizer = loaded.model, loaded.tokenizer
    ids = tokenizer(prompt, return_tensors="pt")
    config = model.generation_config

    def raw() -> None:
        with torch.inference_mode():
            model.generate(**ids, max_new_tokens=32, do_sample=False, pad_token_id=config.pad_token_id)

    def ours() -> None:
        llm.generate(prompt, raw=True, temperature=0, max_tokens=32)

    assert llm.generate(prompt, raw=True, temperature=0, max_tokens=32).usage.completion_tokens == 32
    raw_times, our_times = [], []
    for _ in range(repeats):  # interleaved so drift hits both alike
        raw_times.append(median_seconds(raw, 1))
        our_times.append(median_seconds(ours, 1))
    raw_s, our_s = statistics.median(raw_times), statistics.median(our_times)
    return {"raw_s": raw_s, "abstractllm_s": our_s, "ratio": our_s / raw_s, "target": "<= 1.05", "ok": our_s / raw_s <= 1.05}


def bench_concurrency(llm: Any, prompts: list[str], repeats: int) -> dict[str, Any]:
    import torch

    from abstractllm_hf_pipeline.options import PIPELINE_OPTIONS

    loaded = llm.backend.loaded
    model, tokenizer = loaded.model, loaded.tokenizer
    pad = model.generation_config.pad_token_id

    def sequential() -> None:
        for prompt in prompts:
            llm.generate(prompt, raw=True, temperature=0, max_tokens=32)

    async def gathered() -> None:
        await asyncio.gather(*(llm.generate_async(p, raw=True, temperature=0, max_tokens=32) for p in prompts))

    def raw_sequential() -> None:
        with torch.inference_mode():
            for prompt in prompts:
                model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=32, do_sample=False, pad_token_id=pad)

    batch = tokenizer(prompts, return_tensors="pt", padding=True)

    def raw_batched() -> None:
        with torch.inference_mode():
            model.generate(**batch, max_new_tokens=32, do_sample=False, pad_token_id=pad)

    seq = median_seconds(sequential, repeats)
    raw_seq = median_seconds(raw_sequential, repeats)
    # the concurrent calls (on our worker thread) and raw batched generate (on this one) run in blocks of ``repeats``,
    # in alternating order so that drift hits both alike; the first call of a block is not counted, since the other
    # thread's OpenMP team may still be spinning then (calls alternated one by one are both 2-3x slower). CPU time
    # (every thread's) is shown too, since the wall time includes the wait for company (the batching window).
    functions = {"ours": lambda: asyncio.run(gathered()), "raw": raw_batched}
    timings: dict[str, tuple[list[float], list[float]]] = {"ours": ([], []), "raw": ([], [])}
    for block in range(4):
        for name in ("ours", "raw") if block % 2 == 0 else ("raw", "ours"):
            for call in range(repeats + 1):
                started, cpu = time.perf_counter(), time.process_time()
                functions[name]()
                if call:
                    timings[name][0].append(time.perf_counter() - started)
                    timings[name][1].append(time.process_time() - cpu)
    conc, raw_batch = (statistics.median(timings[name][0]) for name in ("ours", "raw"))
    conc_cpu, raw_batch_cpu = (statistics.median(timings[name][1]) for name in ("ours", "raw"))
    speedup = seq / conc
    return {
        "requests": len(prompts),
        "sequential_s": seq,
        "concurrent_s": conc,
        "speedup": speedup,
        "raw_sequential_s": raw_seq,
        "raw_batched_s": raw_batch,
        "raw_speedup": raw_seq / raw_batch,
        "over_raw_batched": conc / raw_batch,
        "concurrent_cpu_s": conc_cpu,
        "raw_batched_cpu_s": raw_batch_cpu,
        "over_raw_batched_cpu": conc_cpu / raw_batch_cpu,
        "batch_window_s": PIPELINE_OPTIONS["batch_window_ms"].default / 1000,  # the llm was created with the default
        "of_raw_speedup": speedup / (raw_seq / raw_batch),
        "target": ">= 0.85 of raw's",
        "ok": speedup / (raw_seq / raw_batch) >= 0.85,
    }


def bench_cache(model_dir: str, repeats: int = 21) -> dict[str, Any]:
    """The first load against the median of ``repeats`` further ``create_llm`` calls while it stays loaded
    (one sub-millisecond timing was noise: 0.25-0.31 ms between runs, against a 30 ms load)."""
    started = time.perf_counter()
    first = create_llm("huggingface", model=model_dir)
    first_s = time.perf_counter() - started
    seconds, shared = [], True
    for _ in range(repeats):
        started = time.perf_counter()
        second = create_llm("huggingface", model=model_dir)
        seconds.append(time.perf_counter() - started)
        shared = shared and first.backend.loaded is second.backend.loaded
        second.unload()
    second_s = statistics.median(seconds)
    first.unload()
    ratio = second_s / first_s
    return {"first_load_s": first_s, "second_load_s": second_s, "ratio": ratio, "shared": shared, "target": "<= 0.01",
            "ok": shared and ratio <= 0.01}  # fmt: skip


def _big_model(folder: Path) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tiny = ensure_tiny_models(ROOT / ".cache" / "tiny-models").pipeline_dir
    config = LlamaConfig(
        vocab_size=576,
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tiny)).save_pretrained(folder)
    return str(folder)


def bench_memory(model_dir: str) -> dict[str, Any]:
    trim()
    before = rss()
    llm = create_llm("huggingface", model=model_dir)
    llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)
    loaded = rss()
    llm.unload()
    del llm
    trim()
    after = rss()
    change = (after - before) / before
    return {"rss_before_mb": before / 2**20, "rss_loaded_mb": loaded / 2**20, "rss_after_mb": after / 2**20,
            "change": change, "target": "within 5%", "ok": abs(change) <= 0.05}  # fmt: skip


def bench_constrained(llm: Any, repeats: int) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}, "country": {"type": "string", "maxLength": 12}},
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": schema}}
    prompt = "Give me the capital of Italy as JSON."

    def per_token(**kwargs: Any) -> float:
        started = time.perf_counter()
        reply = llm.generate(prompt, temperature=0, max_tokens=48, **kwargs)
        return (time.perf_counter() - started) / reply.usage.completion_tokens

    free = statistics.median(per_token() for _ in range(repeats))
    constrained = statistics.median(per_token(response_format=fmt) for _ in range(repeats))
    grammars = llm.backend.loaded.grammars
    new_schema = {**schema, "properties": {**schema["properties"], "country": {"type": "string", "maxLength": 11}}}
    new_fmt = {"type": "json_schema", "json_schema": {"name": "city2", "schema": new_schema}}
    compiles, compile_s = grammars.compiles, grammars.compile_seconds
    started = time.perf_counter()
    llm.generate(prompt, temperature=0, max_tokens=48, response_format=new_fmt)
    first_s = time.perf_counter() - started
    first_compile_s = grammars.compile_seconds - compile_s
    started = time.perf_counter()
    llm.generate(prompt, temperature=0, max_tokens=48, response_format=new_fmt)
    second_s = time.perf_counter() - started
    ratio = constrained / free
    return {
        "free_per_token_ms": free * 1000,
        "constrained_per_token_ms": constrained * 1000,
        "ratio": ratio,
        "first_request_s": first_s,
        "first_request_compile_s": first_compile_s,
        "second_request_s": second_s,
        "compiles_for_two_requests": grammars.compiles - compiles,
        "target": "<= 1.5x, one compile",
        "ok": ratio <= 1.5 and grammars.compiles - compiles == 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    tiny = str(ensure_tiny_models(ROOT / ".cache" / "tiny-models").pipeline_dir)
    warm = create_llm("huggingface", model=tiny)  # first torch / transformers use, outside every measurement
    warm.generate("The sky is", raw=True, temperature=0, max_tokens=8)
    warm.unload()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        big = _big_model(Path(folder) / "big")
        results["memory"] = bench_memory(big)
        results["cache"] = bench_cache(big)
    llm = create_llm("huggingface", model=tiny)
    long_prompts = [
        p for p in CANDIDATES if llm.generate(p, raw=True, temperature=0, max_tokens=32).usage.completion_tokens == 32
    ]
    prompts = (long_prompts * 16)[:16]
    results["overhead"] = bench_overhead(llm, prompts[0], args.repeats * 2)
    results["concurrency"] = bench_concurrency(llm, prompts, max(3, args.repeats // 3))
    results["constrained"] = bench_constrained(llm, args.repeats)
    llm.unload()
    overhead, concurrency, cache = results["overhead"], results["concurrency"], results["cache"]
    memory, constrained = results["memory"], results["constrained"]
    loaded_mb = memory["rss_loaded_mb"] - memory["rss_before_mb"]
    rows = [
        row(
            "overhead: llm.generate / model.generate (32 tokens)",
            overhead["abstractllm_s"] * 1e3,
            "ms",
            ratio=overhead["ratio"],
            target="<= 1.05",
            ok=overhead["ok"],
            note=f"raw {overhead['raw_s'] * 1e3:.1f} ms",
        ),
        row(
            "concurrency: 16 sequential / 16 concurrent, of raw batched generate's gain",
            f"{concurrency['speedup']:.1f}x",
            ratio=concurrency["of_raw_speedup"],
            target=">= 0.85",
            ok=concurrency["ok"],
            note=f"raw batched generate over 16 raw sequential calls: {concurrency['raw_speedup']:.1f}x",
        ),
        row(
            "concurrency: 16 concurrent / raw batched generate (the engine's own cost per step)",
            concurrency["concurrent_s"] * 1e3,
            "ms",
            ratio=concurrency["over_raw_batched"],
            target="<= 1.2",
            ok=concurrency["over_raw_batched"] <= 1.2,
            note=f"raw batched {concurrency['raw_batched_s'] * 1e3:.1f} ms; wall time includes the batching window "
            f"(at most {concurrency['batch_window_s'] * 1e3:.0f} ms; it ends once the calls are queued); "
            f"CPU time {concurrency['over_raw_batched_cpu']:.2f}x "
            f"({concurrency['concurrent_cpu_s'] * 1e3:.1f} / {concurrency['raw_batched_cpu_s'] * 1e3:.1f} ms)",
        ),
        row(
            "cache: second create_llm / first load",
            cache["second_load_s"] * 1e3,
            "ms",
            ratio=cache["ratio"],
            target="<= 0.01",
            ok=cache["ok"],
            note=f"first load {cache['first_load_s']:.2f} s",
        ),
        row(
            "memory: RSS after unload vs before",
            f"{memory['change']:+.2%}",
            target="within 5%",
            ok=memory["ok"],
            note=f"loaded {loaded_mb:+.0f} MB",
        ),
        row(
            "constrained: per-token with schema / without",
            constrained["constrained_per_token_ms"],
            "ms",
            ratio=constrained["ratio"],
            target="<= 1.5",
            ok=constrained["ratio"] <= 1.5,
        ),
        row(
            "constrained: grammar compiles for 2 requests, new schema",
            constrained["compiles_for_two_requests"],
            target="1",
            ok=constrained["compiles_for_two_requests"] == 1,
            note=f"1st {constrained['first_request_s'] * 1e3:.1f} ms (compile "
            f"{constrained['first_request_compile_s'] * 1e3:.1f} ms), 2nd {constrained['second_request_s'] * 1e3:.1f} ms",
        ),
    ]
    report("pipeline", rows, results)


if __name__ == "__main__":
    main()
    finish()
