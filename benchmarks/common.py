"""Shared helpers for the benchmark scripts: timing, tables, JSON results."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def median_seconds(function: Callable[[], Any], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def fresh_process_seconds(code: str, repeats: int, *, drop_env: Sequence[str] = ()) -> float:
    """Median seconds a fresh interpreter spends running ``code`` (interpreter start-up excluded).

    Measured as installed code runs: bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is
    dropped from the environment, or every run would compile every module from source) and
    one discarded run first, which writes the caches. ``drop_env`` names further variables
    to remove (tokens, say).
    """
    probe = f"import time\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"
    dropped = {"PYTHONDONTWRITEBYTECODE", *drop_env}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    timings = []
    for run in range(repeats + 1):
        output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300, env=env)
        if run:
            timings.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(timings)


def report(name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Print ``rows`` (keys: measure, value, unit, ratio, target, ok) as a table and save them as JSON."""
    print(f"\n== {name} ==")
    header = f"{'measure':58} {'value':>12} {'ratio':>8} {'target':>10}  ok"
    print(header)
    print("-" * len(header))
    for row in rows:
        value = f"{row['value']:.4g} {row.get('unit', '')}".strip()
        ratio = f"{row['ratio']:.3f}" if row.get("ratio") is not None else "-"
        target = row.get("target") or "-"
        ok = {True: "yes", False: "NO", None: "-"}[row.get("ok")]
        print(f"{row['measure'][:58]:58} {value:>12} {ratio:>8} {target:>10}  {ok}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(list(rows), indent=2))
