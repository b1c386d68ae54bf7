"""The interpreter exits cleanly (status 0) whatever generation is still running or abandoned.

A daemon worker thread caught inside torch at finalisation aborts the process
("terminate called without an active exception"); every scenario runs in its own
interpreter, repeatedly, since the abort depends on timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_LOAD = """
import sys
from abstractllm import create_llm
llm = create_llm("huggingface", model=sys.argv[1], model_type="pipeline")
"""

SCENARIOS = {
    # a sync stream closed after its first piece, then exit without unload()
    "sync_stream_closed": """
stream = llm.generate("Numbers:", raw=True, temperature=0, max_tokens=400, stream=True)
next(iter(stream))
stream.close()
""",
    # an async stream left after one piece (neither exhausted nor closed by the caller)
    "async_stream_abandoned": """
import asyncio

async def main():
    stream = await llm.generate_async("Numbers:", raw=True, temperature=0, max_tokens=400, stream=True)
    async for _ in stream:
        break

asyncio.run(main())
""",
    # a generation still running in another (daemon) thread when the main thread exits
    "generating_at_exit": """
import threading, time
threading.Thread(
    target=lambda: llm.generate("1 2 3", raw=True, temperature=0, max_tokens=400), daemon=True
).start()
start = llm.backend.loaded.batcher.batches_run
deadline = time.monotonic() + 30
while llm.backend.loaded.batcher.batches_run == start and time.monotonic() < deadline:
    time.sleep(0.01)
""",
    # two generations regrouped (the second joined the first's batch, continued rows queued or running) at exit
    "regrouped_at_exit": """
import threading, time
from abstractllm_hf_pipeline import yielding
yielding.PAYBACK = 0.0  # join whenever there is room
llm.generate("You can call", raw=True, temperature=0, max_tokens=8)  # measures a step: nothing joins before
batcher = llm.backend.loaded.batcher
start, deadline = batcher.steps_run, time.monotonic() + 30
threading.Thread(target=lambda: llm.generate("You can call", raw=True, temperature=0, max_tokens=400), daemon=True).start()
while batcher.steps_run < start + 6 and time.monotonic() < deadline:
    time.sleep(0.001)
threading.Thread(target=lambda: llm.generate("Numbers:", raw=True, temperature=0, max_tokens=400), daemon=True).start()
while batcher.yields == 0 and time.monotonic() < deadline:
    time.sleep(0.001)
assert batcher.yields > 0
""",
    # a finished call, no unload(): the idle worker must not keep the interpreter from exiting
    "idle_without_unload": """
assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
""",
}

#: 14 interpreters in all (each loads torch: ~5 s of CPU); before the fix every sync_stream_closed run aborted.
REPEATS = {
    "sync_stream_closed": 5,
    "async_stream_abandoned": 2,
    "generating_at_exit": 3,
    "regrouped_at_exit": 3,
    "idle_without_unload": 1,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_interpreter_exits_with_status_zero(scenario: str, chat_dir: Path) -> None:
    script = textwrap.dedent(_LOAD) + textwrap.dedent(SCENARIOS[scenario]) + "\nprint('end of script', flush=True)\n"
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    for attempt in range(REPEATS[scenario]):
        done = subprocess.run([sys.executable, "-c", script, str(chat_dir)], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, f"{scenario} run {attempt}: status {done.returncode}\n{done.stderr[-3000:]}"
        assert "end of script" in done.stdout
        assert "terminate called" not in done.stderr
