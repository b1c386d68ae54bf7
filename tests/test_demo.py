"""The README's main command (`hatch run demo` = `python scripts/demo.py`) runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_a_completion_a_stream_and_a_two_turn_session(tiny_models: Any) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--device", "cpu"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"the project's tiny Llama at {tiny_models.pipeline_dir}" in out
    assert "[completion] 'The capital of France is' -> Paris." in out
    assert "[streamed chat] What is the capital of France? -> The capital of France is Paris." in out
    assert "[session] assistant: The capital of France is Paris." in out
    assert "[session] assistant: The capital of Germany is Berlin." in out
    assert "session history: 4 messages" in out


def test_a_model_that_cannot_load_is_one_line_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--model", "abstractllm-test/not-anywhere"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("demo: error: "), result.stderr
    assert "abstractllm-test/not-anywhere" in result.stderr
