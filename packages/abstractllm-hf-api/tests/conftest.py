"""Fixtures: the tiny GGUF, the real llama.cpp OpenAI-compatible server, and the in-repo fake HF server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
REPO = Path(__file__).resolve().parents[3]
TOKEN_ENV = ("HUGGINGFACE_API_KEY", "HF_TOKEN")


def _load_fake_server_module() -> Any:
    spec = importlib.util.spec_from_file_location("hf_api_fake_server", HERE / "fake_hf_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake_hf_server = _load_fake_server_module()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set tokens explicitly; a developer's real token must never leak into them."""
    for name in TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def gguf_path(tiny_models: Any) -> Path:
    return Path(tiny_models.gguf_f32)


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving the tiny GGUF on a free loopback port."""
    port = free_port()
    log = open(REPO / ".cache" / f"llama-server-{port}.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "512",
            "--verbose",
            "false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(url + "/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start within 90 s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def fake_server_session() -> Iterator[Any]:
    server = fake_hf_server.FakeServer().start()
    yield server
    server.stop()


@pytest.fixture()
def fake(fake_server_session: Any) -> Iterator[Any]:
    """The in-repo HF server, with no scripted faults and an empty request log."""
    fake_server_session.reset()
    yield fake_server_session
    fake_server_session.reset()


@pytest.fixture()
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
