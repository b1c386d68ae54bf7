"""Unloading a GGUF model while other threads generate on it never crashes or leaks a raw error.

Each case runs in a child process with a deadline (a crash there is a signal, not a
failed assertion here): the generation completes with the right reply or raises a
documented error, the unload returns, the process exits 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).parent / "children" / "unload_race.py"
ROOT = Path(__file__).resolve().parents[3]


def run_child(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "repetitions"), [("sync", 60), ("stream", 60), ("shared", 40), ("paused", 20)])
def test_unload_during_generation_never_crashes(gguf_f32: Path, mode: str, repetitions: int) -> None:
    result = run_child(str(gguf_f32), mode, str(repetitions))
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    assert "completed" in result.stdout or mode == "paused"
