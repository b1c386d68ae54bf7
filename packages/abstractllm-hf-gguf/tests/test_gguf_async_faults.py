"""Async GGUF calls left early, closed, cancelled or abandoned never hang and never keep the model.

Runs :mod:`children/async_faults.py` in a child process with a deadline: each scenario
(breaking out of ``async for`` with and without a reference kept, then calling again in the same
task or in a task of its own, a slow reader that keeps the model, ``aclose()`` after one
chunk, ``wait_for`` timing out a generation, cancelling a stream's consumer, other tasks
waiting behind a stream, a stream left open when ``asyncio.run`` returns, ``aunload()``
under a paused stream and a waiting call) is repeated,
and after each the model serves the next call with the sequential greedy reply.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).parent / "children" / "async_faults.py"
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_abandoned_closed_and_cancelled_async_calls_release_the_model(gguf_f32: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(CHILD), str(gguf_f32), "8"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    # a stream kept referenced after `break` is refused clearly (its own task would wait forever)
    assert "'kept: refused': 8" in result.stdout
    # so is a call in a task of its own that the stream's task awaits (it hung: the stream could never resume)
    assert "'kept, call in a task: refused': 16" in result.stdout
    # unloading under a paused async stream and a call waiting behind it: both end with a clean error
    assert "'unloaded: refused': 16" in result.stdout
    for served in ("dropped", "aclosed", "cancelled generate", "cancelled stream", "concurrent", "slow reader"):
        assert f"'{served}: served': 8" in result.stdout
    assert "Task was destroyed" not in result.stderr and "Exception ignored" not in result.stderr
