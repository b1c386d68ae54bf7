"""Shared helpers for the benchmark scripts: timing, fresh-process measurement, and the one table format.

Every section reports its rows through :func:`report`, which prints them in the common table,
saves them (with the section's raw details) as ``benchmarks/results/<section>.json``, and
remembers every row whose target was missed. A script run alone ends with :func:`finish`
(exit status 1 when a target was missed); ``run.py`` runs the sections and exits non-zero when
any of them missed a target or crashed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

RESULTS = Path(__file__).parent / "results"

T = TypeVar("T")

MISSED: list[tuple[str, str]] = []  # (section, measure) of every row whose target was missed in this process


def median_seconds(function: Callable[[], Any], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def on_own_thread(function: Callable[[], T]) -> T:
    """``function()`` run on a thread that ends with it (its exception re-raised here).

    Raw-library baselines run their torch work this way when our backend's worker thread decodes
    later in the same process: a thread that ran torch keeps its OpenMP team while it lives, and
    once a process holds more OpenMP threads than CPUs, GNU OpenMP stops spinning between
    operations. A main thread that had run one matrix product made our later session turns on
    SmolLM2-135M 10-15 % slower (650-700 ms instead of 590).
    """
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # handed to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="raw-baseline")
    thread.start()
    thread.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return cast("T", value)


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def trim() -> None:
    """Return freed memory to the system, so RSS shows what is still held."""
    gc.collect()
    with contextlib.suppress(OSError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def real_model() -> tuple[Any | None, str]:
    """The real model's paths (SmolLM2-135M-Instruct, ``tinymodel.realmodel``), or None and why it is skipped."""
    try:  # the sections put the repository root on sys.path
        from tinymodel.realmodel import RealModelUnavailable, ensure_real_model
    except ImportError:
        return None, "tinymodel.realmodel is not in this checkout"
    try:
        return ensure_real_model(Path(__file__).resolve().parents[1] / ".cache" / "real-model"), ""
    except RealModelUnavailable as exc:
        return None, str(exc)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank, so p99 of 48 samples is the largest)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(fraction * len(ordered) + 0.999999) - 1))
    return ordered[index]


def fresh_process_samples(
    code: str,
    repeats: int,
    *,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    drop_env: Sequence[str] = (),
    warmups: int = 1,
) -> list[tuple[float, float]]:
    """(wall, CPU) seconds a fresh interpreter spends running ``code`` (interpreter start-up excluded), once per run.

    Measured as installed code runs: bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is
    dropped from the environment, or every run would compile every module from source) and
    ``warmups`` discarded runs first, which write the caches. ``python`` is the interpreter
    (default: this one), ``env`` extra variables, ``drop_env`` variables to remove (tokens, say).
    The CPU time (the process's, all threads) shows the cost apart from waiting for a busy machine.
    """
    probe = (
        "import time\n_t, _c = time.perf_counter(), time.process_time()\n"
        f"{code}\nprint(time.perf_counter() - _t, time.process_time() - _c)"
    )
    dropped = {"PYTHONDONTWRITEBYTECODE", *drop_env}
    environment = {key: value for key, value in os.environ.items() if key not in dropped}
    environment.update(env or {})
    timings = []
    for run in range(repeats + warmups):
        output = subprocess.run(
            [python or sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=environment
        )
        if output.returncode:
            raise RuntimeError(f"the measured code failed:\n{output.stderr}")
        if run >= warmups:
            wall, cpu = output.stdout.strip().splitlines()[-1].split()
            timings.append((float(wall), float(cpu)))
    return timings


def fresh_process_seconds(code: str, repeats: int, **options: Any) -> float:
    """Median wall-clock seconds of :func:`fresh_process_samples`."""
    return statistics.median(wall for wall, _ in fresh_process_samples(code, repeats, **options))


def row(
    measure: str,
    value: float | str,
    unit: str = "",
    *,
    ratio: float | None = None,
    target: str | None = None,
    ok: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One table row; ``ok`` is None for rows without a target."""
    return {"measure": measure, "value": value, "unit": unit, "ratio": ratio, "target": target, "ok": ok, "note": note}


def report(section: str, rows: Sequence[Mapping[str, Any]], details: Mapping[str, Any] | None = None) -> None:
    """Print ``rows`` as the common table, save them and ``details`` as JSON, and remember missed targets."""
    print(f"\n== {section} ==")
    header = f"{'measure':66} {'value':>16} {'ratio':>8} {'target':>12}  ok"
    print(header)
    print("-" * len(header))
    for entry in rows:
        value = entry["value"]
        shown = str(value)
        if isinstance(value, (int, float)):
            shown = f"{value:.4g} {entry.get('unit', '')}" if abs(value) < 1e4 else f"{value:.0f} {entry.get('unit', '')}"
        shown = shown.strip()
        ratio = f"{entry['ratio']:.3f}" if entry.get("ratio") is not None else "-"
        ok = {True: "yes", False: "NO", None: "-"}[entry.get("ok")]
        print(f"{entry['measure'][:66]:66} {shown:>16} {ratio:>8} {entry.get('target') or '-':>12}  {ok}")
        if entry.get("note"):
            print(f"    {entry['note']}")
        if entry.get("ok") is False:
            MISSED.append((section, entry["measure"]))
    RESULTS.mkdir(exist_ok=True)
    saved = {"rows": list(rows), "details": dict(details or {})}
    (RESULTS / f"{section}.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")


def finish() -> None:
    """End a script: exit status 1 when a target was missed (the table marks which, with NO)."""
    raise SystemExit(1 if MISSED else 0)
