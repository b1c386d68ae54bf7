"""`abstractllm chat` used as a new user would: on a real pseudo-terminal, with the tiny model."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class Terminal:
    """A process on a pseudo-terminal; reads are bounded by a deadline."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {text!r}; screen so far:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 1.0))
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the process closed the terminal
                    break
        if text not in self.screen:
            raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen}")
        return self.screen

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=60)
        finally:
            os.close(self.master)


def chat(tiny_models: Any) -> Terminal:
    args = [sys.executable, "-m", "abstractllm.cli", "chat", "--model", str(tiny_models.pipeline_dir)]
    args += ["-o", "temperature", "0", "-o", "max_tokens", "20", "-o", "device", "cpu"]
    return Terminal(args, {**os.environ, "TERM": "dumb"})


def test_chat_save_quit_restart_load(tiny_models: Any, tmp_path: Path) -> None:
    saved = tmp_path / "conversation.json"
    first = chat(tiny_models)
    first.expect("loaded ")  # progress is shown on a terminal
    first.expect("> ")
    first.send("What is the capital of France?")
    first.expect("The capital of France is Paris.")
    first.send("Hello!")
    first.expect("Hello! How can I help you today?")
    first.send(f"/save {saved}")
    first.expect(f"saved 4 messages to {saved}")
    first.send("/quit")
    assert first.close() == 0

    second = chat(tiny_models)
    second.expect("> ")
    second.send(f"/load {saved}")
    second.expect(f"loaded 4 messages from {saved}")
    second.send("/history")
    screen = second.expect("assistant: Hello! How can I help you today?")
    assert "user: What is the capital of France?" in screen
    second.send("/quit")
    assert second.close() == 0


def test_piped_chat_is_quiet(tiny_models: Any) -> None:
    args = [sys.executable, "-m", "abstractllm.cli", "chat", "--model", str(tiny_models.pipeline_dir), "-o", "temperature", "0"]
    result = subprocess.run(args, input="What is the capital of France?\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "The capital of France is Paris." in result.stdout
    assert result.stderr == ""  # no loading message, no progress bars
    assert "> " not in result.stdout  # no prompt when not interactive
