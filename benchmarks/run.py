"""Run every benchmark section (each ``bench_<section>.py`` here, or those named), each in a fresh
interpreter, and exit non-zero when a target is missed.

    python benchmarks/run.py [section ...]        # hatch run bench [section ...]

Each section prints the common table (see ``common.report``) and saves it in
``results/<section>.json``. A fresh interpreter per section: a thread that ran torch keeps its
OpenMP team, and once a process holds more OpenMP threads than CPUs, GNU OpenMP stops spinning
between operations. One section's raw-library baselines then slowed the next sections' decoding
on our worker thread by 10-45 % (16 batched requests: 154 against 275 per second). A section that
crashes is reported and the others still run. The summary at the end lists every missed target and
every crashed section; the exit status is 1 when there is any, else 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"

ORDER = ("core", "startup", "pipeline", "batching", "session", "gguf", "api")  # the rest follow by name


def sections() -> list[str]:
    """Every ``bench_<section>.py`` beside this file, in ORDER first."""
    found = {path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py")}
    return [name for name in ORDER if name in found] + sorted(found - set(ORDER))


def main(names: list[str]) -> int:
    known = sections()
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"no benchmark section named {', '.join(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    missed: list[tuple[str, str]] = []
    crashed: list[str] = []
    for name in names or known:
        started = time.time()
        status = subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")])
        found = _missed(name, started)
        if found is None or status not in (0, 1):  # 1 with results saved: a target was missed
            crashed.append(f"{name} (crashed: exit status {status}{'' if found is not None else ', no results saved'})")
        missed += found or []
    print("\n== summary ==")
    for section, measure in missed:
        print(f"missed  {section}: {measure}")
    for section in crashed:
        print(f"failed  {section}")
    if not missed and not crashed:
        print("every target met")
    return 1 if missed or crashed else 0


def _missed(section: str, since: float) -> list[tuple[str, str]] | None:
    """The rows of ``section``'s results whose target was missed; None when it saved none since ``since``."""
    saved = RESULTS / f"{section}.json"
    if not saved.exists() or saved.stat().st_mtime < since:
        return None
    return [(section, entry["measure"]) for entry in json.loads(saved.read_text())["rows"] if entry.get("ok") is False]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
