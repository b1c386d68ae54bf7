"""Faults of the fault suite: what was built last. The plugin discovery cache (planted or corrupt
files), unload with a stream open, an async stream left with ``break``, load-option types, tool
loops, the stored token's file and the ``abstractllm`` command.

Rows that raise nothing (``error=None``) are faults that must not surface as an error: their act
returns what happened instead, checked against ``says``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm import errors as E
from abstractllm.session import Session
from tests.fault_world import SECRET, Case, World, check, fresh, make, on
from tests.test_cli_faults import stream_to_a_reader_that_goes_away
from tests.test_discovery_cache_planted import run_planted
from tests.test_session_tool_loop_faults import WEATHER_CALL, Unshowable, get_weather, strict_openai_sequence

FOREVER = {"type": "json_schema", "json_schema": {"name": "long", "schema": {"type": "string", "minLength": 2000}}}


def planted_cache(planting: str) -> Callable[[World], str]:
    """``create_llm`` in a child process beside a planted discovery cache (see ``run_planted``)."""

    def act(world: World) -> str:
        with tempfile.TemporaryDirectory() as root:
            done, marker, path = run_planted(Path(root), planting)
            if done.returncode != 0:
                return f"create_llm failed: {done.stderr[-800:]}"
            entries = json.loads(path.read_text())["entry_points"]
            rewritten = all(type(value) is str and value != "evil_plugin" for entry in entries for value in entry.values())
            return (
                f"{json.loads(done.stdout)['mode']} model created;"
                f" planted module {'imported' if marker.exists() else 'not imported'};"
                f" cache file {'rewritten' if rewritten else 'kept'}"
            )

    return act


def unload_with_a_stream_open(world: World) -> Any:
    """Another object of the loaded pipeline model is unloaded with its stream open, then the stream is read."""
    own = create_llm("huggingface", model=str(world.models.pipeline_dir), device="cpu")
    stream = own.generate("Numbers:", raw=True, temperature=0, max_tokens=400, response_format=FOREVER, stream=True)
    next(stream)
    own.unload()
    return next(stream)


def async_stream_kept_then_a_call_in_a_task(world: World) -> Any:
    async def main() -> Any:
        stream = await world.gguf.generate_async("Hello!", temperature=0, stream=True, max_tokens=32)
        try:
            async for _ in stream:
                break
            return await asyncio.wait_for(world.gguf.generate_async("Hi", max_tokens=4), 10)
        finally:
            await stream.aclose()

    return asyncio.run(main())


def tool_loop(*script: dict[str, Any], next_turn: bool = False, **ask: Any) -> Callable[[World], str]:
    """A tool loop of a new session on the endpoint, the server answering ``script``; returns the history
    (after one more turn, checked against a strict validator of the message order, with ``next_turn``)."""

    def act(world: World) -> str:
        world.router.script(*script)
        session = Session(provider=world.endpoint)
        session.generate_with_tools("weather in Paris?", **ask)
        if next_turn:
            session.generate("and tomorrow?")
            strict_openai_sequence(world.router.posts()[-1]["body"]["messages"])
        return " | ".join(f"{message.role}: {message.content}" for message in session.messages)

    return act


def unshowable(city: str) -> Unshowable:
    """Get the weather in a city."""
    return Unshowable()


def token_file_with_a_space(world: World) -> Any:
    """The file ``hf auth login`` wrote holds a token with a space inside."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "token"
        path.write_text(f"{SECRET} x\n")
        saved = os.environ.get("HF_TOKEN_PATH")
        os.environ["HF_TOKEN_PATH"] = str(path)
        try:
            return create_llm("huggingface", model="org/model", use_inference_api=True, max_retries=0)
        finally:
            if saved is None:
                del os.environ["HF_TOKEN_PATH"]
            else:
                os.environ["HF_TOKEN_PATH"] = saved


def cli_reader_gone(mode: str) -> Callable[[World], str]:
    def act(world: World) -> str:
        models = world.models
        flags = ["--model", str(models.pipeline_dir)] if mode == "pipeline" else ["--model-path", str(models.gguf_f32)]
        status, stderr = stream_to_a_reader_that_goes_away(flags)
        return f"exit {status}; stderr {stderr!r}"

    return act


def cli(*args: str) -> Callable[[World], str]:
    def act(world: World) -> str:
        done = subprocess.run([sys.executable, "-m", "abstractllm", *args], capture_output=True, text=True, timeout=120)
        return f"exit {done.returncode}: {done.stderr.strip() or done.stdout[:60]}"

    return act


CASES: list[Case] = [
    # -- the plugin discovery cache: a planted or corrupt file never widens what is imported, never misleads
    Case(
        "discovery-cache-writable-by-others",
        planted_cache("world-writable"),
        None,
        "endpoint model created; planted module not imported; cache file rewritten",
        fresh("endpoint"),
        where="",
    ),
    Case(
        "discovery-cache-naming-an-undeclared-module",
        planted_cache("undeclared"),
        None,
        "endpoint model created; planted module not imported; cache file rewritten",
        fresh("endpoint"),
        where="",
    ),
    Case(
        "discovery-cache-with-numbers-for-names",
        planted_cache("wrong-types"),
        None,
        "endpoint model created; planted module not imported; cache file rewritten",
        fresh("endpoint"),
        where="",
    ),
    # -- unload with a stream open; an async stream left with break and kept
    Case(
        "pipeline-unload-with-a-stream-open",
        unload_with_a_stream_open,
        E.UnsupportedOperationError,
        "unloaded while the stream was open",
        on("pipeline"),
    ),
    Case(
        "gguf-async-stream-kept-after-break-then-a-call-in-a-task",
        async_stream_kept_then_a_call_in_a_task,
        E.UnsupportedOperationError,
        "was not read for 1 s",
        on("gguf"),
    ),
    # -- load options of the wrong type
    make(
        "gguf",
        "gguf-model_kwargs-n_batch-as-text",
        E.InvalidArgumentError,
        "model_kwargs['n_batch']='512' is a str; llama_cpp.Llama takes int",
        model_path=lambda w: str(w.models.gguf_f32),
        model_kwargs={"n_batch": "512"},
    ),
    # -- tool loops
    Case(
        "endpoint-tool-result-whose-repr-raises",
        tool_loop(WEATHER_CALL, tool_functions={"get_weather": unshowable}),
        None,
        "tool: error: get_weather returned a Unshowable that cannot be turned into text (RuntimeError",
        on("endpoint"),
    ),
    Case(
        "endpoint-tool-call-past-max_tool_rounds",
        tool_loop(WEATHER_CALL, {**WEATHER_CALL, "call_anyway": True}, next_turn=True, tools=[get_weather], max_tool_rounds=1),
        None,
        "tool: error: not run: the tool loop reached its limit of 1 round(s) (max_tool_rounds) | user: and tomorrow?",
        on("endpoint"),
    ),
    # -- the token file of `hf auth login`
    Case(
        "api-token-file-with-a-space",
        token_file_with_a_space,
        E.AuthenticationError,
        "the token from the token file",
        fresh("api"),
        hides=(SECRET,),
    ),
    # -- the command
    *[
        Case(
            f"cli-{mode}-stream-to-a-reader-that-goes-away",
            cli_reader_gone(mode),
            None,
            "exit 141; stderr ''",
            fresh("gguf"),
            where="",
        )
        for mode in ("pipeline", "gguf")
    ],
    Case(
        "cli-option-nested-100000-deep",
        cli("generate", "--model", "org/model", "-o", "stop", "[" * 100_000, "hi"),
        None,
        "exit 2: abstractllm: error: -o stop: the value is nested too deeply to read (RecursionError)",
        fresh("gguf"),
        where="",
    ),
    Case("python-m-abstractllm", cli("--help"), None, "exit 0: usage: abstractllm", fresh("gguf"), where=""),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    check(case, world, monkeypatch)
