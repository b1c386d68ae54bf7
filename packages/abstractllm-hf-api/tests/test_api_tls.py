"""https end to end: a TLS loopback server with a certificate made for the test (openssl CLI),
trusted through SSL_CERT_FILE; plain, streamed and async calls go through the deadline-bounded
network layer, TLS handshake included."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm

SECRET = "hf_TlsToKeN0123456789abcdef"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    subprocess.run(
        [*request, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = sys.modules["hf_api_fake_server"].FakeServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    yield server, server.url.replace("http://", "https://"), cert
    server.stop()


def test_https_plain_stream_and_async(tls_server: tuple[Any, str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    server, url, cert = tls_server
    server.reset()
    server.expected_token = SECRET
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    llm = create_llm("huggingface", inference_api_url=url, protocol="openai", api_key=SECRET, timeout=10.0)
    text = str(llm.generate("hi", temperature=0, max_tokens=6))
    assert text
    assert "".join(llm.generate("hi", stream=True, temperature=0, max_tokens=6)) == text
    assert str(asyncio.run(llm.generate_async("hi", temperature=0, max_tokens=6))) == text
    assert all(post["headers"]["Authorization"] == f"Bearer {SECRET}" for post in server.posts())
    llm.unload()


def test_an_untrusted_certificate_is_refused(tls_server: tuple[Any, str, Path]) -> None:
    from abstractllm.errors import ProviderConnectionError

    _, url, _ = tls_server
    llm = create_llm("huggingface", inference_api_url=url, protocol="openai", max_retries=0, timeout=10.0)
    with pytest.raises(ProviderConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        llm.generate("hi", max_tokens=4)
