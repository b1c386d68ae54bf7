"""The ``abstractllm`` command under faults: a reader that goes away (``| head -c 1``), an option
value nested too deeply to read, and ``python -m abstractllm``. Each run is a child process with a
deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.test_cli_first_use import cli, one_line_error

DEADLINE = 120
#: 400 tokens (about 1,600 characters) of output: a string grammar of 2,000+ characters forbids stopping sooner
LONG = [
    "--raw",
    "-o", "temperature", "0",
    "-o", "max_tokens", "400",
    "-o", "response_format",
    json.dumps({"type": "json_schema", "json_schema": {"name": "long", "schema": {"type": "string", "minLength": 2000}}}),
]  # fmt: skip


def model_flags(tiny_models: Any, mode: str) -> list[str]:
    return ["--model", str(tiny_models.pipeline_dir)] if mode == "pipeline" else ["--model-path", str(tiny_models.gguf_f32)]


def stream_to_a_reader_that_goes_away(flags: list[str]) -> tuple[int, str]:
    """``abstractllm generate --stream FLAGS ... | head -c 1``: the reader takes one byte and closes the
    pipe while the command still generates. Returns the command's exit status and its stderr."""
    command = [sys.executable, "-m", "abstractllm", "generate", "--stream", *flags, *LONG, "Numbers:"]
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        assert len(child.stdout.read(1)) == 1
        child.stdout.close()  # as head does: the next write of the stream finds no reader
        stderr = child.stderr.read().decode()
        return child.wait(timeout=DEADLINE), stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="a closed pipe is signalled with SIGPIPE on POSIX only")
@pytest.mark.parametrize("mode", ["pipeline", "gguf"])
def test_a_reader_that_goes_away_stops_the_stream_quietly(tiny_models: Any, mode: str) -> None:
    status, stderr = stream_to_a_reader_that_goes_away(model_flags(tiny_models, mode))
    assert stderr == "", stderr  # no BrokenPipeError traceback, no "Exception ignored" at exit
    assert status == 128 + signal.SIGPIPE  # what a shell shows for a Unix tool ended by a closed pipe


def test_an_option_nested_too_deeply_is_a_one_line_error() -> None:
    result = cli("generate", "--model", "org/model", "-o", "stop", "[" * 100_000, "hi", timeout=DEADLINE)
    message = one_line_error(result)
    assert "-o stop: the value is nested too deeply to read (RecursionError)" in message
    assert "Traceback" not in result.stderr and len(message) < 300


def test_an_ordinary_nested_value_still_parses() -> None:
    from abstractllm.cli import _value

    assert _value("stop", '["a", ["b"]]') == ["a", ["b"]]
    assert _value("stop", "[[[") == "[[["  # not a literal: the text itself


def test_python_dash_m_abstractllm_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "abstractllm", "plugins", "--json"], capture_output=True, text=True, timeout=DEADLINE
    )
    assert result.returncode == 0, result.stderr
    modes = {entry["mode"] for entry in json.loads(result.stdout)["backends"]}
    assert {"pipeline", "gguf", "api", "endpoint"} <= modes
    usage = subprocess.run([sys.executable, "-m", "abstractllm", "--help"], capture_output=True, text=True, timeout=DEADLINE)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: abstractllm")
