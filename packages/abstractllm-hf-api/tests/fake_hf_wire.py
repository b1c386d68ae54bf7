"""The wire side of the fake HF server: HTTP plumbing, SSE framing and scripted faults.

Loaded by ``fake_hf_server.py`` (see there); the routes live there.
"""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Pace of the ``trickle`` faults: one byte every TRICKLE_SECONDS, for at most TRICKLE_FOR seconds.
TRICKLE_SECONDS = 0.05
TRICKLE_FOR = 60.0


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients cut connections on purpose
        pass


class WireHandler(BaseHTTPRequestHandler):
    """Plumbing shared by the routes: JSON answers, SSE events, cut connections, scripted faults."""

    protocol_version = "HTTP/1.1"
    fake: Any  # the FakeServer this handler serves

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls
        with self.fake.lock:
            self.fake.open_connections.add(self.client_address)
            self.fake.connections_seen.add(self.client_address)
            fresh = len(self.fake.open_connections & self.fake.connections_seen)
            self.fake.peak_open = max(self.fake.peak_open, fresh)

    def finish(self) -> None:
        with self.fake.lock:
            self.fake.open_connections.discard(self.client_address)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any, *, multiline: bool = False, event: str | None = None) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        lines = ""
        if event:
            lines += f"event: {event}\n"
        if multiline and text.startswith("{") and ", " in text:
            head, tail = text.split(", ", 1)
            lines += f"data: {head},\ndata: {tail}\n\n"
        else:
            lines += f"data: {text}\n\n"
        self._chunk(lines)

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _drip(self, data: bytes) -> bool:
        """Send ``data`` a byte at a time; False once the client left or ``TRICKLE_FOR`` passed."""
        ends = time.monotonic() + TRICKLE_FOR
        for byte in data:
            if time.monotonic() > ends:
                return False
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return False
            time.sleep(TRICKLE_SECONDS)
        return True

    def _trickle(self, part: str) -> None:
        self.close_connection = True
        body = b"x" * 100_000
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        if part == "headers":
            self._drip(head.encode() + b"X-Padding: " + b"p" * 100_000 + b"\r\n\r\n")
            return
        self.wfile.write(head.encode() + b"\r\n")
        self.wfile.flush()
        self._drip(body)

    def _scripted_reply(self, reply: dict[str, Any]) -> None:
        """Answer ``reply["status"]`` (200) with ``reply["body"]`` repeated ``reply["repeat"]``
        times, or with the SSE ``reply["events"]`` (each a ``data`` text), and ``reply["headers"]``.
        ``{auth}`` in any text is replaced by the Authorization header received: an echoing server."""
        auth = self.headers.get("Authorization", "")
        headers = {name: value.replace("{auth}", auth) for name, value in (reply.get("headers") or {}).items()}
        events = reply.get("events")
        if events is None:
            body = str(reply.get("body", "")).replace("{auth}", auth) * int(reply.get("repeat", 1))
            self._json(int(reply.get("status", 200)), body.encode(), headers)
            return
        self.send_response(int(reply.get("status", 200)))
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        for event in events:
            self._event(str(event).replace("{auth}", auth))
        self._end_stream()

    def _record(self, body: Any) -> None:
        with self.fake.lock:
            self.fake.received.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
            )

    def _fault(self, fault: dict[str, Any]) -> bool:
        """Apply a scripted fault; True when it fully answered the request.

        Keys: ``status`` (+ ``retry_after``, ``message``, ``estimated_time``), ``slow``
        (seconds before answering), ``bad_json``, ``drop`` (close without answering),
        ``trickle`` (``"headers"`` or ``"body"``: that part sent one byte every
        ``TRICKLE_SECONDS``, for at most ``TRICKLE_FOR`` seconds), ``reply`` (an answer
        given verbatim, see :meth:`_scripted_reply`).
        Stream faults (``truncate_after``, ``end_after``, ``error_after``, ``multiline``,
        ``keepalive_forever``, ``trickle_stream``, ``hold_after_done``) and ``tool_call`` /
        ``reject_tools`` / ``ignore_constraints`` (answer free text whatever ``tool_choice``
        and ``response_format`` ask, as ``transformers serve`` does) / ``call_anyway`` (make the
        ``tool_call`` even with no tools offered or right after a tool result) are read by the route handlers.
        """
        if fault.get("slow"):
            time.sleep(float(fault["slow"]))
        if fault.get("trickle"):
            self._trickle(fault["trickle"])
            return True
        if "reply" in fault:
            self._scripted_reply(fault["reply"])
            return True
        if fault.get("drop"):
            self._cut()
            return True
        if fault.get("bad_json"):
            self._json(200, b'{"choices": [ {"message": ')
            return True
        status = fault.get("status")
        if status is None:
            return False
        headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
        body: dict[str, Any] = {"error": fault.get("message", f"scripted {status}")}
        if "estimated_time" in fault:
            body = {"error": "Model fake/model is currently loading", "estimated_time": fault["estimated_time"]}
        self._json(int(status), body, headers)
        return True
