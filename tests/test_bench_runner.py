"""The benchmark runner: one table format for every section, each section in an interpreter of its own, and a
non-zero exit when a target is missed or a section crashes (run on stand-in sections, so no benchmark has to run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HEADER = f"{'measure':66} {'value':>16} {'ratio':>8} {'target':>12}  ok"

SECTION = """
    import os
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from common import finish, report, row

    def main():
        report({name!r}, [
            row("a measure with a target", 12.5, "ms", ratio=0.5, target="<= 20 ms", ok={ok}),
            row("a measure without one", "3 of 4", note="a note under the row"),
        ], {{"pid": os.getpid()}})

    if __name__ == "__main__":
        main()
        finish()
"""


@pytest.fixture
def sections(tmp_path: Path) -> Path:
    """The runner and common helpers beside stand-in sections: core and gguf meet their targets, api misses one."""
    for name in ("run.py", "common.py"):
        shutil.copy(BENCHMARKS / name, tmp_path / name)
    for name, ok in (("core", True), ("gguf", True), ("api", False)):
        (tmp_path / f"bench_{name}.py").write_text(textwrap.dedent(SECTION.format(name=name, ok=ok)))
    (tmp_path / "bench_pipeline.py").write_text("raise RuntimeError('the pipeline section broke')\n")
    return tmp_path


def run(folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(folder / "run.py"), *names], capture_output=True, text=True, timeout=120, cwd=folder
    )


def test_every_section_prints_the_same_table_and_met_targets_exit_zero(sections: Path) -> None:
    result = run(sections, "core", "gguf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(HEADER) == 2
    assert "== core ==" in result.stdout and "== gguf ==" in result.stdout
    assert "    a note under the row" in result.stdout
    assert "every target met" in result.stdout
    assert (sections / "results" / "core.json").is_file()


def test_each_section_runs_in_an_interpreter_of_its_own(sections: Path) -> None:
    result = run(sections, "core", "gguf")
    assert result.returncode == 0, result.stdout + result.stderr
    pids = {json.loads((sections / "results" / f"{name}.json").read_text())["details"]["pid"] for name in ("core", "gguf")}
    assert len(pids) == 2


def test_a_section_that_exits_1_without_results_is_a_crash_not_a_miss(sections: Path) -> None:
    (sections / "bench_gguf.py").write_text("raise SystemExit(1)\n")
    result = run(sections, "gguf")
    assert result.returncode == 1
    assert "failed  gguf (crashed: exit status 1, no results saved)" in result.stdout
    assert "missed" not in result.stdout


def test_a_missed_target_makes_the_run_fail_and_is_named_in_the_summary(sections: Path) -> None:
    result = run(sections, "core", "api", "gguf")
    assert result.returncode == 1
    assert result.stdout.count(HEADER) == 3  # the sections after the miss still ran
    assert "missed  api: a measure with a target" in result.stdout


def test_a_crashed_section_fails_the_run_and_the_others_still_run(sections: Path) -> None:
    result = run(sections, "pipeline", "core")
    assert result.returncode == 1
    assert "the pipeline section broke" in result.stderr
    assert "failed  pipeline (crashed: exit status 1, no results saved)" in result.stdout
    assert "== core ==" in result.stdout


def test_a_section_run_alone_exits_non_zero_on_a_missed_target(sections: Path) -> None:
    missed = subprocess.run([sys.executable, str(sections / "bench_api.py")], capture_output=True, text=True, timeout=60)
    met = subprocess.run([sys.executable, str(sections / "bench_core.py")], capture_output=True, text=True, timeout=60)
    assert (missed.returncode, met.returncode) == (1, 0)


def test_an_unknown_section_is_refused_with_the_known_ones(sections: Path) -> None:
    result = run(sections, "nonsense")
    assert result.returncode == 2
    assert "core" in result.stderr and "nonsense" in result.stderr


def test_every_bench_script_is_a_section_known_ones_first(sections: Path) -> None:
    (sections / "bench_zeta.py").write_text(textwrap.dedent(SECTION.format(name="zeta", ok=True)))
    result = run(sections)
    assert result.returncode == 1  # api misses its target and pipeline crashes
    order = [line for line in result.stdout.splitlines() if line.startswith("== ") and line != "== summary =="]
    assert order == ["== core ==", "== gguf ==", "== api ==", "== zeta =="]
    assert "failed  pipeline (crashed: exit status 1, no results saved)" in result.stdout
