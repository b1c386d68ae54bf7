"""Local HTTP servers for tests and benchmarks: the tiny GGUF behind llama-cpp-python's
OpenAI-compatible server, or any server command, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(command: Sequence[str], probe_url: str, *, log: Path | None = None, timeout: float = 90) -> Iterator[None]:
    """Run ``command`` until the block ends, entering it once ``probe_url`` answers 200.

    Output goes to ``log`` (else nowhere). Raises ``RuntimeError`` if the process exits or
    ``timeout`` seconds pass first; the process is always stopped (killed if it lingers).
    """
    with open(log, "wb") if log is not None else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            list(command), stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(probe_url):
                if process.poll() is not None:
                    raise RuntimeError(f"{command[:3]} exited with {process.returncode}" + (f"; see {log}" if log else ""))
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[:3]} did not answer {probe_url} within {timeout:.0f} s")
                time.sleep(0.2)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def llama_server(gguf: Path, *, n_ctx: int = 512, log: Path | None = None) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving ``gguf`` on a free loopback port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", str(n_ctx), "--verbose", "false"]
    with serving(command, url + "/v1/models", log=log):
        yield url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
