"""GGUF benchmark: AbstractLLM's gguf mode against raw llama-cpp-python, in one run.

1. Overhead: 32 greedy tokens through ``llm.generate`` vs ``Llama.create_completion`` on the
   same loaded model (target ratio <= 1.05).
2. Streaming: time to the first streamed chunk vs a whole 1-token generation (target <= 1.2x).
3. Cache: a second ``create_llm`` of a loaded file vs the first load (target <= 1%).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import finish, report

from abstractllm import create_llm
from tinymodel import ensure_tiny_models

REPEATS = 60
FAST_REPEATS = 400  # sub-millisecond measures need more samples
PROMPT = "Numbers:"  # the tiny model runs on for 32+ tokens after it
TOKENS = 32


def _median_pair(first: object, second: object, repeats: int) -> tuple[float, float]:
    """Medians of two callables timed alternately (so drift hits both alike)."""
    a, b = [], []
    for _ in range(repeats):
        for function, sink in ((first, a), (second, b)):
            started = time.perf_counter()
            function()  # type: ignore[operator]
            sink.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


def _timed(function: object) -> float:
    started = time.perf_counter()
    function()  # type: ignore[operator]
    return time.perf_counter() - started


def _first_chunk_seconds(llm: object) -> float:
    started = time.perf_counter()
    stream = llm.generate(PROMPT, raw=True, stream=True, temperature=0, max_tokens=TOKENS)  # type: ignore[attr-defined]
    next(stream)
    elapsed = time.perf_counter() - started
    stream.close()
    return elapsed


def main() -> None:
    path = str(ensure_tiny_models(Path(__file__).resolve().parents[1] / ".cache" / "tiny-models").gguf_f32)
    import llama_cpp  # imported up front: the first load below measures loading, not importing

    assert llama_cpp

    started = time.perf_counter()
    llm = create_llm("huggingface", model_path=path)
    first_load = time.perf_counter() - started
    raw = llm.backend.model.llama  # type: ignore[attr-defined]

    ours_out = llm.generate(PROMPT, raw=True, temperature=0, max_tokens=TOKENS)
    raw_out = raw.create_completion(PROMPT, temperature=0, max_tokens=TOKENS)
    assert ours_out.usage.completion_tokens == raw_out["usage"]["completion_tokens"] == TOKENS, "both must make 32 tokens"
    assert str(ours_out) == raw_out["choices"][0]["text"], "same model, same greedy text"

    raw_time, ours_time = _median_pair(
        lambda: raw.create_completion(PROMPT, temperature=0, max_tokens=TOKENS),
        lambda: llm.generate(PROMPT, raw=True, temperature=0, max_tokens=TOKENS),
        REPEATS,
    )
    one_token, first_chunk = _median_pair(
        lambda: raw.create_completion(PROMPT, temperature=0, max_tokens=1),
        lambda: _first_chunk_seconds(llm),
        FAST_REPEATS,
    )
    ours_one_token = statistics.median(
        _timed(lambda: llm.generate(PROMPT, raw=True, temperature=0, max_tokens=1)) for _ in range(FAST_REPEATS)
    )
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        again = create_llm("huggingface", model_path=path)
        seconds.append(time.perf_counter() - started)
        assert again.backend.model is llm.backend.model  # type: ignore[attr-defined]
        again.unload()
    second_load = statistics.median(seconds)
    llm.unload()

    report(
        "gguf",
        [
            {"measure": f"raw Llama.create_completion, {TOKENS} greedy tokens", "value": raw_time * 1e3, "unit": "ms"},
            {
                "measure": f"llm.generate, {TOKENS} greedy tokens",
                "value": ours_time * 1e3,
                "unit": "ms",
                "ratio": ours_time / raw_time,
                "target": "<= 1.05",
                "ok": ours_time / raw_time <= 1.05,
            },
            {"measure": "raw 1-token generation", "value": one_token * 1e3, "unit": "ms"},
            {
                "measure": "llm.generate(stream=True): first chunk",
                "value": first_chunk * 1e3,
                "unit": "ms",
                "ratio": first_chunk / one_token,
                "target": "<= 1.2",
                "ok": first_chunk / one_token <= 1.2,
            },
            {
                "measure": "llm.generate, 1 token (same API, for reference)",
                "value": ours_one_token * 1e3,
                "unit": "ms",
                "ratio": first_chunk / ours_one_token,
                "target": "first chunk",
            },
            {"measure": "first create_llm (load)", "value": first_load * 1e3, "unit": "ms"},
            {
                "measure": "second create_llm of the loaded file",
                "value": second_load * 1e3,
                "unit": "ms",
                "ratio": second_load / first_load,
                "target": "<= 0.01",
                "ok": second_load / first_load <= 0.01,
            },
        ],
    )


if __name__ == "__main__":
    main()
    finish()
