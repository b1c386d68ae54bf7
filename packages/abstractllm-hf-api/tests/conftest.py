"""Fixtures: the tiny GGUF, the real llama.cpp OpenAI-compatible server, and the in-repo fake HF server."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = Path(__file__).resolve().parents[3]
TOKEN_ENV = ("HUGGINGFACE_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_DISABLE_IMPLICIT_TOKEN")


def _load_fake_server_module() -> Any:
    spec = importlib.util.spec_from_file_location("hf_api_fake_server", HERE / "fake_hf_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake_hf_server = _load_fake_server_module()


@pytest.fixture(autouse=True)
def _no_token_in_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests set tokens explicitly; a developer's real token (environment or `hf auth login`
    file) must never leak into them."""
    for name in TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)


@pytest.fixture(scope="session")
def gguf_path(request: pytest.FixtureRequest) -> Path:
    """The tiny GGUF; the tests that need it skip where torch or llama-cpp-python is not
    installed (a venv holding only core and this package runs the rest)."""
    for module in ("numpy", "torch", "llama_cpp"):
        pytest.importorskip(module, reason="the tiny GGUF and llama.cpp's server need numpy, torch and llama-cpp-python")
    return Path(request.getfixturevalue("tiny_models").gguf_f32)


@pytest.fixture(scope="session")
def llama_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving the tiny GGUF on a free loopback port."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    gguf_path: Path = request.getfixturevalue("gguf_path")
    from tinymodel import serve  # imported here: the package's other tests need neither numpy nor llama.cpp

    with serve.llama_server(gguf_path, log=REPO / ".cache" / f"llama-server-{os.getpid()}.log") as url:
        yield url


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
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
