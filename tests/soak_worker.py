"""A bounded soak of one local mode, run as a child process by ``test_soak.py``.

Usage: ``python soak_worker.py MODE MODEL_PATH SECONDS SEED HANG_AFTER``; ``python soak_worker.py discover``
only discovers the plugins (writing the discovery cache for this same ``sys.path``). Threads and asyncio tasks make
mixed sync, async and streamed calls on models that share one loaded copy, abandon streams,
cancel async calls and unload/re-create their model objects at random. Every call that
completes must equal the sequential greedy reply for its prompt. At the end every model is
unloaded, and the process prints one JSON line: calls by outcome, mismatches, and the open
file descriptors and threads before and after (the starting counts are taken after a first
load and unload, so one-time library thread pools are already there).

The caches are in play: the plugins come from the discovery cache when ``ABSTRACTLLM_CACHE_DIR``
holds a current one (the report says ``"discovery": "cache"`` or ``"scan"``), and two long prompts
taken in turn make the loaded model's prefix cache serve and restore prompts while every reply is
checked (the report holds the shared model's ``cache_info()`` before the last unload).
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import json
import logging
import os
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

from abstractllm import create_llm
from abstractllm.errors import UnsupportedOperationError

PROMPTS = [
    "What is the capital of France?",
    "What is the capital of Germany?",
    "The capital of Italy is",
    "Once upon a time",
    # long and different from their first tokens: taken in turn, each evicts the other from the
    # context, so the prefix cache saves one and restores it for the next call (gguf), or reuses it (pipeline)
    "Tell me a long story about a dragon who lived in a castle by the sea and loved to read old books.",
    "Describe the city of Paris: its river, its bridges, its museums, its parks and its narrow old streets.",
]
MAX_TOKENS = 12


def _config(mode: str, path: str) -> dict[str, Any]:
    if mode == "pipeline":
        return {"model": path, "device": "cpu"}
    return {"model_path": path}


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Soak:
    def __init__(self, mode: str, path: str, seconds: float, seed: int) -> None:
        self.config = _config(mode, path)
        self.seconds = seconds
        self.deadline = 0.0
        self.seed = seed
        self.outcomes: Counter[str] = Counter()
        self.mismatches: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.expected: dict[str, str] = {}
        self.errors: list[str] = []
        self.shared: Any = None

    def references(self) -> None:
        llm = create_llm("huggingface", **self.config)
        for prompt in PROMPTS:
            self.expected[prompt] = str(llm.generate(prompt, temperature=0, max_tokens=MAX_TOKENS))
        llm.unload()

    def record(self, outcome: str, prompt: str | None = None, text: str | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if prompt is not None and text is not None and text != self.expected[prompt]:
                self.mismatches.append({"prompt": prompt, "got": text, "expected": self.expected[prompt]})

    def worker(self, index: int) -> None:
        try:
            self.sync_worker(index)
        except BaseException as exc:  # reported, and fails the soak
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def sync_worker(self, index: int) -> None:
        rng = random.Random(self.seed * 100 + index)
        own = create_llm("huggingface", **self.config)
        try:
            while time.monotonic() < self.deadline:
                prompt = rng.choice(PROMPTS)
                action = rng.random()
                llm = self.shared if rng.random() < 0.4 else own
                try:
                    if action < 0.35:
                        text = str(llm.generate(prompt, temperature=0, max_tokens=MAX_TOKENS))
                        self.record("sync", prompt, text)
                    elif action < 0.6:
                        stream = llm.generate(prompt, temperature=0, max_tokens=MAX_TOKENS, stream=True)
                        if rng.random() < 0.5:
                            next(iter(stream), None)
                            stream.close()
                            self.record("stream-abandoned")
                        else:
                            self.record("stream", prompt, "".join(str(chunk) for chunk in stream))
                    elif action < 0.85:
                        self.async_round(llm, rng)
                    elif llm is own:
                        own.unload()
                        self.record("unload")
                        own = create_llm("huggingface", **self.config)
                    else:  # unload the object other threads are using
                        with self.lock:
                            replaced, self.shared = self.shared, create_llm("huggingface", **self.config)
                        replaced.unload()
                        self.record("unload-shared")
                except UnsupportedOperationError:
                    self.record("unloaded-refused")
        finally:
            own.unload()

    def async_round(self, llm: Any, rng: random.Random) -> None:
        async def one(prompt: str, cancel_after: float | None) -> None:
            call = asyncio.ensure_future(llm.generate_async(prompt, temperature=0, max_tokens=MAX_TOKENS))
            if cancel_after is None:
                self.record("async", prompt, str(await call))
                return
            try:
                result = await asyncio.wait_for(call, cancel_after)
            except asyncio.TimeoutError:
                self.record("async-cancelled")
            else:
                self.record("async", prompt, str(result))

        async def streamed(prompt: str) -> None:
            stream = await llm.generate_async(prompt, temperature=0, max_tokens=MAX_TOKENS, stream=True)
            if rng.random() < 0.5:
                async for _chunk in stream:
                    break
                await stream.aclose()
                self.record("async-stream-abandoned")
            else:
                self.record("async-stream", prompt, "".join([str(chunk) async for chunk in stream]))

        async def main() -> None:
            tasks = []
            for _ in range(rng.randint(1, 4)):
                prompt = rng.choice(PROMPTS)
                if rng.random() < 0.3:
                    tasks.append(streamed(prompt))
                else:
                    tasks.append(one(prompt, rng.choice([None, None, 0.0, 0.01, 0.05])))
            await asyncio.gather(*tasks)

        asyncio.run(main())


class _Messages(logging.Handler):
    """Keeps the messages of one logger (here: whether the plugins came from the discovery cache)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> None:
    if sys.argv[1:] == ["discover"]:
        from abstractllm._private.plugins import get_plugins

        get_plugins()
        return
    mode, path, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    faulthandler.dump_traceback_later(float(sys.argv[5]), exit=True)  # a hang shows every thread's stack
    discovery = _Messages("abstractllm._private.discovery_cache")
    soak = Soak(mode, path, seconds, seed)
    soak.references()
    gc.collect()
    fds_before, threads_before = _fds(), threading.active_count()
    soak.shared = create_llm("huggingface", **soak.config)
    soak.deadline = time.monotonic() + soak.seconds
    workers = [threading.Thread(target=soak.worker, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    prefix_cache = soak.shared.cache_info()  # the loaded model stayed loaded: the shared object is replaced, never the last
    soak.shared.unload()
    gc.collect()
    settle = time.monotonic() + 10
    while time.monotonic() < settle and (threading.active_count() > threads_before or _fds() > fds_before):
        time.sleep(0.1)
        gc.collect()
    report = {
        "outcomes": dict(soak.outcomes),
        "mismatches": soak.mismatches,
        "errors": soak.errors,
        "fds": [fds_before, _fds()],
        "threads": [threads_before, threading.active_count()],
        "thread_names": sorted(thread.name for thread in threading.enumerate()),
        "discovery": "cache" if any("from the cache" in message for message in discovery.messages) else "scan",
        "prefix_cache": prefix_cache,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
