"""Command benchmark: a whole ``abstractllm`` process with the tiny pipeline model against the same work
written with transformers alone, each a fresh process from start to exit (its teardown included).

1. ``abstractllm generate --model <tiny> --raw "The capital of France is"`` against a script that
   loads the tokenizer and model with transformers, generates 8 tokens greedily and prints them
   (target: CPU time <= 0.9x: the command imports llguidance only for constrained replies, frees the
   model without a full garbage collection and ends without the interpreter's teardown of torch,
   which the script pays; before those, 1.12x).
2. ``abstractllm chat`` with one turn and ``/quit`` against the same script (target <= 0.95x: the
   chat template and a session's bookkeeping are extra work; before, 1.21x).

CPU time (the child's, from ``getrusage``) is compared, since a machine shared with other jobs
makes the wall time of a torch import swing by seconds; medians of fresh processes, measured in
alternating rounds. Writes ``benchmarks/results/cli.json``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import finish, report, row

from tinymodel import ensure_tiny_models

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
RAW = """
import sys
from transformers import AutoModelForCausalLM, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
inputs = tokenizer("The capital of France is", return_tensors="pt")
output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
"""


def whole_process(command: list[str], stdin: str = "") -> tuple[float, float]:
    """(wall, CPU) seconds of running ``command`` to its exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"} | {"HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=600, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    folder = str(ensure_tiny_models(ROOT / ".cache" / "tiny-models").pipeline_dir)
    cli = [sys.executable, "-m", "abstractllm.cli"]
    runs: dict[str, tuple[list[str], str]] = {
        "raw": ([sys.executable, "-c", RAW, folder], ""),
        "generate": ([*cli, "generate", "--model", folder, "--raw", "The capital of France is"], ""),
        "chat": ([*cli, "chat", "--model", folder, "-o", "temperature", "0"], "What is the capital of France?\n/quit\n"),
    }
    for command, stdin in runs.values():  # bytecode and the discovery cache written
        whole_process(command, stdin)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, (command, stdin) in runs.items():
            samples[name].append(whole_process(command, stdin))
    cpu = {name: statistics.median(c for _, c in pairs) for name, pairs in samples.items()}
    wall = {name: statistics.median(w for w, _ in pairs) for name, pairs in samples.items()}
    rows = []
    targets = (("generate", "abstractllm generate", 0.9), ("chat", "abstractllm chat, one turn and /quit", 0.95))
    for name, label, target in targets:
        ratio = cpu[name] / cpu["raw"]
        rows.append(
            row(
                f"{label}, tiny pipeline model / transformers alone (CPU time, whole process)",
                cpu[name],
                "s",
                ratio=ratio,
                target=f"<= {target}",
                ok=ratio <= target,
                note=f"transformers alone {cpu['raw']:.2f} s CPU; wall {wall[name]:.2f} s against {wall['raw']:.2f} s",
            )
        )
    details: dict[str, Any] = {"samples": samples, "cpu_median_s": cpu, "wall_median_s": wall}
    report("cli", rows, details)


if __name__ == "__main__":
    main()
    finish()
