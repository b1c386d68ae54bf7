"""``unload()`` with a stream still open returns at once, as in the gguf mode: the stream stops at its
next token, its next read raises ``UnsupportedOperationError``, no thread is left behind and a new
model of the same folder works afterwards.

Each scenario runs in a child process with a deadline (an unload that waits for the stream would
hang the caller for as long as the stream runs). Progress is measured in decoding steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LONG = 400  # tokens the stream asks for; its grammar (a string of 2,000+ characters) forbids stopping sooner
DEADLINE = 120

SCRIPT = """
import asyncio, json, sys, threading, time
from abstractllm import create_llm
from abstractllm.errors import UnsupportedOperationError

FOREVER = {"type": "json_schema", "json_schema": {"name": "long", "schema": {"type": "string", "minLength": 2000}}}
LONG, how, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
threads_before = threading.active_count()
llm = create_llm("huggingface", model=folder, model_type="pipeline")
engine = llm.backend.loaded.batcher._engine
ask = dict(raw=True, temperature=0, max_tokens=LONG, response_format=FOREVER)
report = {}

def unload():
    report["steps_before_unload"] = engine.steps_run
    started = time.perf_counter()
    llm.unload()
    report["unload_seconds"] = time.perf_counter() - started
    report["steps_after_unload"] = engine.steps_run

if how == "sync":
    stream = llm.generate("Numbers:", stream=True, **ask)
    next(stream)
    unload()
    try:
        next(stream)
        report["next_read"] = "a chunk"
    except UnsupportedOperationError as exc:
        report["next_read"] = "UnsupportedOperationError: " + str(exc)
elif how == "async":
    async def main():
        stream = await llm.generate_async("Numbers:", stream=True, **ask)
        await stream.__anext__()
        unload()
        try:
            await stream.__anext__()
            report["next_read"] = "a chunk"
        except UnsupportedOperationError as exc:
            report["next_read"] = "UnsupportedOperationError: " + str(exc)
    asyncio.run(main())
else:  # the consumer waits in another thread while the main thread unloads
    outcome = []
    stream = llm.generate("Numbers:", stream=True, **ask)
    next(stream)
    def consume():
        try:
            for _ in stream:
                pass
            outcome.append("ran to the end")
        except UnsupportedOperationError as exc:
            outcome.append("UnsupportedOperationError: " + str(exc))
    consumer = threading.Thread(target=consume)
    consumer.start()
    unload()
    consumer.join(30)
    report["next_read"] = outcome[0] if outcome else "still reading"
settle = time.monotonic() + 10
while threading.active_count() > threads_before and time.monotonic() < settle:
    time.sleep(0.05)
report["threads"] = [threads_before, threading.active_count()]
with create_llm("huggingface", model=folder, model_type="pipeline") as again:
    report["again"] = str(again.generate("The sky is", raw=True, temperature=0, max_tokens=8))
print(json.dumps(report))
"""


@pytest.mark.parametrize("how", ["sync", "async", "read-in-another-thread"])
def test_unload_with_a_stream_open_returns_at_once_and_the_stream_ends(chat_dir: Path, how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(LONG), how, str(chat_dir)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["next_read"].startswith("UnsupportedOperationError: ") and "unloaded" in report["next_read"], report
    # the stream ran at most the step in flight after unload() began: no tokens generated for nobody
    assert report["steps_after_unload"] - report["steps_before_unload"] <= 1, report
    assert report["steps_after_unload"] < LONG
    threads_before, threads_after = report["threads"]
    assert threads_after <= threads_before, report
    assert report["again"] == " blue."


FREE = """
import gc, json, sys, weakref
from abstractllm import create_llm

folder, cycle = sys.argv[1], sys.argv[2] == "cycle"
llm = create_llm("huggingface", model=folder, model_type="pipeline")
llm.generate("The sky is", raw=True, temperature=0, max_tokens=4)
loaded = llm.backend.loaded
weights = [weakref.ref(loaded.model), weakref.ref(loaded.tokenizer)]
if cycle:  # something of the caller's holds the weights in a reference cycle
    holder = {"model": loaded.model}
    holder["self"] = holder
    del holder
del loaded
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "stop" and info["generation"] == 2 else None)
gc.disable()  # only an explicit collection runs
llm.unload()
print(json.dumps({"freed": [ref() is None for ref in weights], "full_collections": len(full)}))
"""


@pytest.mark.parametrize("cycle", ["no-cycle", "cycle"])
def test_unload_frees_the_weights_and_collects_only_when_a_cycle_holds_them(chat_dir: Path, cycle: str) -> None:
    """A full collection costs about 0.3 s with torch loaded: unload runs one only when the weights
    outlive their last reference, and the weights are gone when it returns either way."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FREE), str(chat_dir), cycle], capture_output=True, text=True, timeout=DEADLINE
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["freed"] == [True, True], report
    assert report["full_collections"] == (1 if cycle == "cycle" else 0), report
