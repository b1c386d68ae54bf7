from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from abstractllm.cli import main


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_generate_from_argument_and_options(ngram_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(["generate", "the capital of", "--provider", "ngram", "-o", "temperature", "0"], monkeypatch)
    assert (code, out) == (0, " france .\n")
    code, out = run(
        ["generate", "rome is", "--provider", "ngram", "-o", "temperature", "0", "-o", "max_tokens", "2"], monkeypatch
    )
    assert out == " a city\n"


def test_generate_from_stdin_streaming(ngram_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(
        ["generate", "--stream", "--provider", "ngram", "-o", "temperature", "0"], monkeypatch, stdin="the capital of\n"
    )
    assert (code, out) == (0, " france .\n")


def test_user_errors_are_one_line_without_traceback(ngram_plugin: None, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    code, _ = run(["generate", "x", "--provider", "ngram", "-o", "temperature", "-3"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("abstractllm: error: ") and err.count("\n") == 1
    assert "temperature" in err and "Traceback" not in err


def test_user_error_in_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "abstractllm.cli", "generate", "hi", "--provider", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("abstractllm: error: Provider 'nope' not supported")
    assert "Traceback" not in result.stderr


def test_chat_with_save_and_load(ngram_plugin: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    saved = tmp_path / "chat.json"
    script = f"the capital of\n/save {saved}\n/clear\n/history\nrome is\n/load {saved}\n/history\n/quit\n"
    code, out = run(["chat", "--provider", "ngram", "-o", "temperature", "0", "-o", "max_tokens", "2"], monkeypatch, stdin=script)
    assert code == 0
    assert " france ." in out and " a city" in out
    assert f"saved 2 messages to {saved}" in out
    assert f"loaded 2 messages from {saved}" in out
    assert out.rstrip().endswith("user: the capital of\nassistant:  france .")
    assert [m["content"] for m in json.loads(saved.read_text())["messages"]] == ["the capital of", " france ."]


def test_plugins_lists_backends(ngram_plugin: None, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(["plugins", "--json"], monkeypatch)
    report = json.loads(out)
    assert code == 0
    assert {"provider": "ngram", "mode": "bigram"}.items() <= next(
        b for b in report["backends"] if b["provider"] == "ngram"
    ).items()
