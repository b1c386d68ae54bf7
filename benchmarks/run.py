"""Run every benchmark section (each ``bench_<section>.py`` here, or those named) in this interpreter and
exit non-zero when a target is missed.

    python benchmarks/run.py [section ...]        # hatch run bench [section ...]

Each section prints the common table (see ``common.report``). A section that crashes is
reported and the others still run. The summary at the end lists every missed target and
every crashed section; the exit status is 1 when there is any, else 0.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402  (the same module the sections import: they share its record of missed targets)

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
    crashed: list[str] = []
    for name in names or known:
        script = HERE / f"bench_{name}.py"
        sys.argv = [str(script)]  # each script parses its own (default) arguments
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exit:  # a script's own finish(): missed targets are already in common.MISSED
            if exit.code not in (0, 1, None):
                crashed.append(f"{name} (exit: {exit.code})")
        except Exception:
            traceback.print_exc()
            crashed.append(f"{name} (crashed)")
    print("\n== summary ==")
    for section, measure in common.MISSED:
        print(f"missed  {section}: {measure}")
    for section in crashed:
        print(f"failed  {section}")
    if not common.MISSED and not crashed:
        print("every target met")
    return 1 if common.MISSED or crashed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
