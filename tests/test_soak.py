"""A bounded soak of each local mode, in a child process with a deadline (``soak_worker.py``).

Mixed sync, async and streamed calls from several threads and tasks, with abandoned streams,
cancelled calls and unloads: the process must survive and exit 0, every completed reply must
equal its sequential greedy reply, and open file descriptors and threads must return to their
starting counts once every model is unloaded. The caches are in play: the plugins come from a
discovery cache written by an earlier process, and the prefix cache serves prompts throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("soak_worker.py")
SECONDS = 20
DEADLINE = 150


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pipeline", "gguf"])
def test_soak_survives_and_every_completed_reply_is_exact(mode: str, tiny_models: Any, tmp_path: Path) -> None:
    path = str(tiny_models.pipeline_dir if mode == "pipeline" else tiny_models.gguf_f32)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ABSTRACTLLM_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run([sys.executable, str(WORKER), "discover"], check=True, timeout=DEADLINE, env=env)  # writes the cache
    assert list((tmp_path / "cache").glob("entry-points-*.json"))
    done = subprocess.run(
        [sys.executable, str(WORKER), mode, path, str(SECONDS), "7", str(DEADLINE - 30)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes = report["outcomes"]
    assert report["errors"] == []
    assert report["mismatches"] == []
    for kind in ("sync", "stream", "async", "stream-abandoned", "unload", "unload-shared"):
        assert outcomes.get(kind, 0) > 0, f"the soak never made a {kind!r} call: {outcomes}"
    fds_before, fds_after = report["fds"]
    threads_before, threads_after = report["threads"]
    assert fds_after <= fds_before, f"file descriptors leaked: {report}"
    assert threads_after <= threads_before, f"threads leaked: {report['thread_names']}"
    assert report["discovery"] == "cache", report
    assert report["prefix_cache"]["hits"] > 0, report["prefix_cache"]  # replies were checked with prompts restored
