"""Proxies from the environment: requests go through ``HTTP_PROXY`` unless ``NO_PROXY`` covers the host.

The proxy here is a real forwarding HTTP proxy on loopback; the model's URL names a host
that does not resolve, so a reply can only arrive through the proxy.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from abstractllm import create_llm
from abstractllm.errors import ProviderConnectionError

UNRESOLVABLE = "http://model-server.invalid:8080"


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")  # absolute-form: the proxy is asked for the full URL
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=10)
        try:
            headers = {key: value for key, value in self.headers.items() if key.lower() not in ("host", "connection")}
            upstream.request(self.command, urlsplit(self.path).path, body=body or None, headers=headers)
            reply = upstream.getresponse()
            content = reply.read()
        finally:
            upstream.close()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = _forward
    do_POST = _forward


@pytest.fixture()
def proxy(fake: Any) -> Iterator[_Proxy]:
    server = _Proxy(fake.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_requests_go_through_the_environment_proxy(proxy: _Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = proxy.server_address[:2]
    monkeypatch.setenv("HTTP_PROXY", f"http://{host}:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    llm = create_llm("huggingface", inference_api_url=UNRESOLVABLE, protocol="openai", max_retries=0)
    reply = llm.generate("hello", max_tokens=3)
    assert str(reply) and reply.usage.completion_tokens == 3
    assert proxy.seen == [f"POST {UNRESOLVABLE}/v1/chat/completions"]
    llm.unload()


def test_no_proxy_bypasses_the_proxy(proxy: _Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = proxy.server_address[:2]
    monkeypatch.setenv("HTTP_PROXY", f"http://{host}:{port}")
    monkeypatch.setenv("NO_PROXY", "model-server.invalid")
    llm = create_llm("huggingface", inference_api_url=UNRESOLVABLE, protocol="openai", max_retries=0)
    with pytest.raises(ProviderConnectionError, match="cannot reach"):
        llm.generate("hello", max_tokens=3)  # straight to a host that does not resolve
    assert proxy.seen == []
    llm.unload()
