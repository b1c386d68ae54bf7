"""The ``abstractllm`` command as a new user meets it: errors in the command's own terms (flags,
not Python keywords), raw completions, and help that lists what there is to type."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m abstractllm.cli ARGS`` offline (no hub lookups), stdin closed."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "abstractllm.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("abstractllm: error: "), result.stderr
    return result.stderr


def test_a_missing_model_names_the_flags() -> None:
    message = one_line_error(cli("generate", "hi"))
    assert "--model 'org/name'" in message and "--model-path '/a/folder'" in message
    assert "model=" not in message and "model_path" not in message


def test_an_unknown_mode_names_model_type_flag() -> None:
    message = one_line_error(cli("generate", "--model", "x", "--model-type", "onnx", "hi"))
    assert "--model-type 'onnx' is not a mode" in message and "model_type" not in message


def test_an_unknown_option_is_named_as_typed_with_the_suggestion(tiny_models: Any) -> None:
    message = one_line_error(cli("generate", "--model-path", str(tiny_models.gguf_f32), "-o", "filname", "x", "hi"))
    assert "unknown option -o filname. Did you mean -o filename?" in message
    assert "create_llm" not in message


@pytest.mark.parametrize("raw", [["-o", "raw", "true"], ["--raw"]], ids=["option", "flag"])
def test_raw_completion(tiny_models: Any, raw: list[str]) -> None:
    prompt = "The capital of France is"
    args = ["--model-path", str(tiny_models.gguf_f32), "-o", "temperature", "0", "-o", "max_tokens", "8"]
    result = cli("generate", *args, *raw, prompt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == " Paris.\n"


def test_help_explains_stream_raw_and_the_chat_commands() -> None:
    generate = cli("generate", "--help").stdout
    assert "--stream              print the reply as it is generated" in generate
    assert "--raw" in generate and "without the chat" in generate
    chat = " ".join(cli("chat", "--help").stdout.split())
    for command in ("/save PATH", "/load PATH", "/clear", "/history", "/quit"):
        assert command in chat
