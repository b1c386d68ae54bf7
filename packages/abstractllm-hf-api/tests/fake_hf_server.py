"""A real HTTP server on loopback that speaks the protocols abstractllm-hf-api talks to.

Routes: TGI's ``/generate``, ``/generate_stream`` and ``/info``; OpenAI's
``/v1/chat/completions``, ``/v1/completions`` and ``/v1/models``; HuggingFace's router
(``/v1/chat/completions`` with ``model`` or ``model:provider``, and
``/hf-inference/models/<id>/v1/chat/completions`` + ``/hf-inference/models/<id>``).

Its "model" is deterministic: the reply to a prompt is a sequence of words chosen from a
hash of the prompt (and of the seed when sampling), so greedy replies repeat and seeded
samples reproduce. Token counts are words. Tests script faults for the next requests
(:meth:`FakeServer.script`; the faults are listed in ``fake_hf_wire.WireHandler._fault``)
and read what the server received (:attr:`FakeServer.received`). The HTTP plumbing and
the faults live in ``fake_hf_wire.py``, loaded from beside this file.

Run it alone for benchmarks: ``python fake_hf_server.py --port 8123``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any


def _sibling(name: str) -> Any:
    """A module next to this file, loaded by path (this folder is not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_wire = _sibling("fake_hf_wire")
QuietServer, WireHandler = _wire.QuietServer, _wire.WireHandler

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def reply_tokens(prompt: str, *, greedy: bool, seed: int | None, index: int = 0) -> list[str]:
    """The toy model's reply: 6 to 14 word tokens, each with a leading space."""
    rng = _rng(prompt) if greedy else (_rng(prompt, seed, index) if seed is not None else random.Random())
    length = rng.randint(6, 14)
    return [" " + rng.choice(WORDS) for _ in range(length)]


def instance(schema: Any) -> Any:
    """A small value that validates against ``schema`` (enough for the schemas tests use)."""
    if not isinstance(schema, dict):
        return {}
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: instance(properties[name]) for name in required if name in properties}
    if kind == "array":
        return [instance(schema.get("items", {}))]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "x")


class FakeServer:
    """The server, its scripted faults and the requests it received."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.faults: deque[dict[str, Any]] = deque()
        self.received: list[dict[str, Any]] = []
        self.expected_token: str | None = None
        self.reject_json_schema = False
        self.stream_usage = True
        self.context_window: int | None = None  # prompt + max_tokens allowed (prompt: words + 3 per message)
        self.lock = threading.Lock()
        self.open_connections: set[tuple[str, int]] = set()
        self.connections_seen: set[tuple[str, int]] = set()
        self.peak_open = 0  # most connections opened since the last reset that were open at once
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = QuietServer((host, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-hf-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.received.clear()
            self.connections_seen.clear()
            self.peak_open = 0
        self.expected_token = None
        self.reject_json_schema = False
        self.stream_usage = True
        self.context_window = None

    def script(self, *faults: dict[str, Any]) -> None:
        """Faults for the next POST requests, one each, in order (see ``WireHandler._fault`` in fake_hf_wire.py)."""
        with self.lock:
            self.faults.extend(faults)

    def still_open(self, timeout: float = 5.0) -> set[tuple[str, int]]:
        """Connections opened since the last ``reset`` that are still open once all have
        closed or ``timeout`` passed (the server notices a close within milliseconds)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                left = self.connections_seen & self.open_connections
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.01)

    def posts(self, path_part: str = "") -> list[dict[str, Any]]:
        return [entry for entry in self.received if entry["method"] == "POST" and path_part in entry["path"]]


class _Handler(WireHandler):
    """The routes: TGI's and OpenAI's, over :class:`WireHandler`'s plumbing and scripted faults."""

    # -- routing --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path == "/v1/models" and not getattr(self.fake, "tgi_only", False):
            self._json(200, {"object": "list", "data": [{"id": "fake/model", "object": "model", "max_model_len": 4096}]})
        elif self.path == "/info":
            self._json(200, {"model_id": "fake/model", "max_total_tokens": 2048})
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record(raw.decode(errors="replace"))
            self._json(400, {"error": "body is not JSON"})
            return
        self._record(body)
        fault: dict[str, Any] = {}
        with self.fake.lock:
            if self.fake.faults:
                fault = self.fake.faults.popleft()
        if self._fault(fault):
            return
        if self.fake.expected_token is not None:
            sent = self.headers.get("Authorization", "")
            if sent != f"Bearer {self.fake.expected_token}":
                self._json(401, {"error": f"Invalid credentials in Authorization header: {sent!r}"})
                return
        path = self.path.rstrip("/")
        if path.endswith("/v1/chat/completions"):
            self._openai(body, fault, chat=True)
        elif path.endswith("/v1/completions"):
            self._openai(body, fault, chat=False)
        elif path in ("/generate", "/generate_stream"):
            self._tgi(body, fault, stream=path == "/generate_stream")
        elif path.startswith("/hf-inference/models/"):
            self._tgi(body, fault, stream=bool(body.get("stream")))
        else:
            self._json(404, {"error": f"Model not found at {path}"})

    # -- OpenAI ---------------------------------------------------------------------------

    def _openai(self, body: dict[str, Any], fault: dict[str, Any], *, chat: bool) -> None:
        tools = body.get("tools")
        if tools and fault.get("reject_tools"):
            self._json(400, {"error": {"message": "This model does not support tools (function calling)."}})
            return
        response_format = body.get("response_format")
        if response_format and self.fake.reject_json_schema and response_format.get("type") == "json_schema":
            self._json(422, {"detail": [{"loc": ["body", "response_format", "type"], "msg": "Input should be 'json_object'"}]})
            return
        if chat:
            messages = body.get("messages") or []
            prompt = "\n".join(f"{m.get('role')}: {m.get('content') or ''}" for m in messages)
            prompt_tokens = sum(len((m.get("content") or "").split()) + 3 for m in messages)
        else:
            prompt = str(body.get("prompt", ""))
            prompt_tokens = len(prompt.split())
        greedy = float(body.get("temperature", 1.0)) == 0.0
        seed = body.get("seed")
        n = int(body.get("n") or 1)
        max_tokens = int(body.get("max_tokens") or 16)
        window = self.fake.context_window
        if window is not None and prompt_tokens + max_tokens > window:  # vLLM's answer, word for word
            message = (
                f"This model's maximum context length is {window} tokens. However, you requested"
                f" {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the completion)."
                " Please reduce the length of the messages or completion."
            )
            self._json(400, {"object": "error", "message": message, "type": "BadRequestError", "code": 400})
            return
        stops = body.get("stop") or []
        stops = [stops] if isinstance(stops, str) else stops
        calls = self._tool_calls(body, fault) if chat else None
        choices = []
        completion_tokens = 0
        for index in range(n):
            if calls is not None:
                choices.append(("", "tool_calls", calls))
                completion_tokens += 5
                continue
            tokens, reason = self._generate(prompt, body, greedy, seed, index, max_tokens, stops)
            if chat and messages and messages[-1].get("role") == "tool":
                tokens = [" The", " tool", " said:", " " + str(messages[-1].get("content"))]
                reason = "stop"
            if response_format and not fault.get("ignore_constraints"):
                schema = response_format.get("json_schema", {}).get("schema") or response_format.get("schema")
                schema = schema or response_format.get("value") or {"type": "object"}
                tokens, reason = [json.dumps(instance(schema))], "stop"
            completion_tokens += len(tokens)
            choices.append(("".join(tokens), reason, None, tokens))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            self._openai_stream(body, fault, chat, choices[0], usage)
            return
        out = []
        for index, choice in enumerate(choices):
            text, reason, calls_here = choice[0], choice[1], choice[2]
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": text if calls_here is None else None}
                if calls_here is not None:
                    message["tool_calls"] = calls_here
                out.append({"index": index, "message": message, "finish_reason": reason})
            else:
                out.append({"index": index, "text": text, "finish_reason": reason})
        self._json(
            200,
            {
                "id": "cmpl-1",
                "object": "chat.completion" if chat else "text_completion",
                "model": body.get("model", "fake/model"),
                "choices": out,
                "usage": usage,
            },
        )

    def _generate(
        self, prompt: str, body: dict[str, Any], greedy: bool, seed: Any, index: int, max_tokens: int, stops: list[str]
    ) -> tuple[list[str], str]:
        tokens = reply_tokens(prompt, greedy=greedy, seed=seed, index=index)
        reason = "stop"
        if len(tokens) > max_tokens:
            tokens, reason = tokens[:max_tokens], "length"
        text = ""
        for position, token in enumerate(tokens):
            text += token
            cut = min((text.find(stop) for stop in stops if stop in text), default=-1)
            if cut >= 0:
                kept = tokens[: position + 1]
                kept[-1] = kept[-1][: len(kept[-1]) - (len(text) - cut)]
                return kept, "stop"
        return tokens, reason

    def _tool_calls(self, body: dict[str, Any], fault: dict[str, Any]) -> list[dict[str, Any]] | None:
        wanted = fault.get("tool_call")
        messages = body.get("messages") or []
        if fault.get("ignore_constraints"):
            return None
        if not fault.get("call_anyway") and (not body.get("tools") or (messages and messages[-1].get("role") == "tool")):
            return None
        if not wanted:
            wanted = self._forced_call(body)
        if not wanted:
            return None
        return [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
            for i, call in enumerate(wanted if isinstance(wanted, list) else [wanted])
        ]

    @staticmethod
    def _forced_call(body: dict[str, Any]) -> dict[str, Any] | None:
        """The call a forced ``tool_choice`` asks for ("required": the first tool), with valid arguments."""
        choice = body.get("tool_choice")
        tools = {tool["function"]["name"]: tool["function"] for tool in body["tools"]}
        if choice == "required":
            name = next(iter(tools))
        elif isinstance(choice, dict) and choice.get("function", {}).get("name") in tools:
            name = choice["function"]["name"]
        else:
            return None
        return {"name": name, "arguments": instance(tools[name].get("parameters") or {"type": "object"})}

    def _openai_stream(
        self, body: dict[str, Any], fault: dict[str, Any], chat: bool, choice: tuple[Any, ...], usage: dict[str, int]
    ) -> None:
        multiline = bool(fault.get("multiline"))
        self._start_stream()
        self._chunk(": a comment line the client must skip\n\n")
        reason, calls = choice[1], choice[2]
        pieces = choice[3] if len(choice) > 3 else []
        if chat:
            self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}, multiline=multiline)
        if fault.get("keepalive_forever"):  # comment lines, quickly, and never a token
            self._drip(b": keep-alive\n" * 100_000)
            self.close_connection = True
            return
        if fault.get("trickle_stream"):  # a data line that never ends
            self._drip(b'data: {"choices": [{"index": 0, "delta": {"content": "' + b"y" * 100_000)
            self.close_connection = True
            return
        for number, piece in enumerate(pieces):
            if fault.get("truncate_after") is not None and number == fault["truncate_after"]:
                self._chunk('data: {"choices": [{"index": 0, "delta": {"content": "half')
                self._cut()
                return
            if fault.get("end_after") is not None and number == fault["end_after"]:
                self._end_stream()
                return
            if fault.get("error_after") is not None and number == fault["error_after"]:
                self._event({"error": {"message": "scripted failure in mid-stream"}}, event="error")
                self._end_stream()
                return
            delta = {"content": piece} if chat else None
            chunk = (
                {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                if chat
                else {"choices": [{"index": 0, "text": piece, "finish_reason": None}]}
            )
            self._event(chunk, multiline=multiline)
        if calls:
            for i, call in enumerate(calls):
                arguments = call["function"]["arguments"]
                middle = len(arguments) // 2
                first = {
                    "index": i,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": arguments[:middle]},
                }
                self._event({"choices": [{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}]})
                rest = {"index": i, "function": {"arguments": arguments[middle:]}}
                self._event({"choices": [{"index": 0, "delta": {"tool_calls": [rest]}, "finish_reason": None}]})
        final = (
            {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
            if chat
            else {"choices": [{"index": 0, "text": "", "finish_reason": reason}]}
        )
        self._event(final, multiline=multiline)
        if self.fake.stream_usage and (body.get("stream_options") or {}).get("include_usage"):
            self._event({"choices": [], "usage": usage}, multiline=multiline)
        self._event("[DONE]")
        if fault.get("hold_after_done"):  # the end marker, then the body stays open
            time.sleep(float(fault["hold_after_done"]))
            self.close_connection = True
            return
        self._end_stream()

    # -- TGI ------------------------------------------------------------------------------

    def _tgi(self, body: dict[str, Any], fault: dict[str, Any], *, stream: bool) -> None:
        prompt = str(body.get("inputs", ""))
        parameters = body.get("parameters") or {}
        if "temperature" in parameters and float(parameters["temperature"]) <= 0:
            self._json(
                422, {"error": "Input validation error: `temperature` must be strictly positive", "error_type": "validation"}
            )
            return
        greedy = not parameters.get("do_sample", False)
        max_tokens = int(parameters.get("max_new_tokens") or 20)
        tokens = reply_tokens(prompt, greedy=greedy, seed=parameters.get("seed"))
        reason = "eos_token"
        if len(tokens) >= max_tokens:  # the end-of-sequence token counts: a reply of max_tokens words has no room for it
            tokens, reason = tokens[:max_tokens], "length"
        stops = parameters.get("stop") or []
        text = ""
        for position, token in enumerate(tokens):  # TGI keeps the stop sequence in its text
            text += token
            if any(stop in text for stop in stops):
                tokens, reason = tokens[: position + 1], "stop_sequence"
                break
        grammar = parameters.get("grammar")
        if grammar:
            tokens, reason = [json.dumps(instance(grammar.get("value")))], "eos_token"
        prompt_tokens = len(prompt.split()) + 1
        if not stream:
            details = {
                "finish_reason": reason,
                "generated_tokens": len(tokens) + (reason == "eos_token"),
                "seed": parameters.get("seed"),
                "prefill": [{"id": i, "text": "t", "logprob": None} for i in range(prompt_tokens)]
                if parameters.get("decoder_input_details")
                else [],
                "tokens": [],
            }
            answer = {"generated_text": "".join(tokens), "details": details}
            self._json(
                200,
                [answer] if self.path.startswith("/hf-inference/") else answer,
                {"x-prompt-tokens": str(prompt_tokens)} if fault.get("prompt_header") else None,
            )
            return
        self._start_stream()
        for number, token in enumerate(tokens):
            if fault.get("truncate_after") is not None and number == fault["truncate_after"]:
                self._chunk('data: {"token": {"id": 1, "text": "cut')
                self._cut()
                return
            if fault.get("end_after") is not None and number == fault["end_after"]:
                self._end_stream()
                return
            if fault.get("error_after") is not None and number == fault["error_after"]:
                self._event({"error": "Request failed during generation: scripted", "error_type": "generation"})
                self._end_stream()
                return
            last = number == len(tokens) - 1
            event = {
                "index": number,
                "token": {"id": number, "text": token, "logprob": -0.1, "special": False},
                "generated_text": None,
                "details": None,
            }
            self._event(event, multiline=bool(fault.get("multiline")))
            if last:
                final = {
                    "index": number + 1,
                    "token": {"id": 2, "text": "</s>", "logprob": 0.0, "special": True},
                    "generated_text": "".join(tokens),
                    "details": {
                        "finish_reason": reason,
                        "generated_tokens": len(tokens) + (reason == "eos_token"),
                        "seed": parameters.get("seed"),
                        "input_length": prompt_tokens,
                    },
                }
                self._event(final)
        self._end_stream()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    server = FakeServer(args.host, args.port)
    print(f"serving on {server.url}", flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
