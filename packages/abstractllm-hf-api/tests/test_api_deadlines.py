"""``timeout=`` is a deadline: a server sending a byte at a time, keep-alives without tokens,
an end marker with the body held open, and a silent server under ``protocol="auto"``.

Each scenario runs in a subprocess with a deadline (a hang fails the test instead of
stalling the suite); the subprocess starts its own fake server on a free loopback port.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

PRELUDE = textwrap.dedent(
    """
    import asyncio, importlib.util, json, sys, time
    spec = importlib.util.spec_from_file_location("fake_hf_server", sys.argv[1])
    fake_hf_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake_hf_server)
    from abstractllm import create_llm

    server = fake_hf_server.FakeServer().start()

    def outcome(run):
        started = time.monotonic()
        try:
            value = run()
            kind = "ok:" + value
        except Exception as exc:
            kind = type(exc).__name__ + ":" + str(exc)
        return {"outcome": kind, "seconds": round(time.monotonic() - started, 2)}

    def stream_text(llm):
        return "".join(str(chunk) for chunk in llm.generate("a story", stream=True, temperature=0, max_tokens=6))

    async def astream_text(llm):
        stream = await llm.generate_async("a story", stream=True, temperature=0, max_tokens=6)
        return "".join([str(chunk) async for chunk in stream])
    """
)


def run_scenario(body: str, deadline: float = 60.0) -> Any:
    """Run ``body`` (after the prelude) in a fresh interpreter; its last stdout line is JSON."""
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script, str(HERE / "fake_hf_server.py")],
        capture_output=True,
        text=True,
        timeout=deadline,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_timeout_bounds_a_request_sent_a_byte_at_a_time() -> None:
    """Headers or body a byte every 50 ms: every read succeeds, the request must still end at ``timeout``."""
    results = run_scenario(
        """
        llm = create_llm("huggingface", inference_api_url=server.url, protocol="openai", timeout=1.0, max_retries=0)
        results = {}
        for part in ("headers", "body"):
            server.script({"trickle": part})
            results["sync-" + part] = outcome(lambda: str(llm.generate("hi", temperature=0, max_tokens=4)))
            server.script({"trickle": part})
            results["async-" + part] = outcome(
                lambda: str(asyncio.run(llm.generate_async("hi", temperature=0, max_tokens=4)))
            )
            server.script({"trickle": part})
            results["stream-" + part] = outcome(lambda: stream_text(llm))
            server.script({"trickle": part})
            results["astream-" + part] = outcome(lambda: asyncio.run(astream_text(llm)))
        print(json.dumps(results))
        """
    )
    assert set(results) == {f"{kind}-{part}" for kind in ("sync", "async", "stream", "astream") for part in ("headers", "body")}
    for name, result in results.items():
        assert result["outcome"].startswith("RequestTimeoutError:"), (name, result)
        assert "raise timeout=" in result["outcome"]


@pytest.mark.slow
def test_timeout_bounds_each_wait_for_a_stream_chunk() -> None:
    """A stream whose data line never ends, and one that sends keep-alive comments but never a
    token: the caller's wait for the next chunk ends at ``timeout`` (sync and async)."""
    results = run_scenario(
        """
        llm = create_llm("huggingface", inference_api_url=server.url, protocol="openai", timeout=1.0, max_retries=0)
        results = {}
        for fault in ("trickle_stream", "keepalive_forever"):
            server.script({fault: True})
            results["stream-" + fault] = outcome(lambda: stream_text(llm))
            server.script({fault: True})
            results["astream-" + fault] = outcome(lambda: asyncio.run(astream_text(llm)))
        results["afterwards"] = outcome(lambda: str(llm.generate("hi", temperature=0, max_tokens=4)))
        print(json.dumps(results))
        """
    )
    afterwards = results.pop("afterwards")
    assert afterwards["outcome"].startswith("ok: "), afterwards  # the model still works
    for name, result in results.items():
        assert result["outcome"].startswith("RequestTimeoutError:"), (name, result)


@pytest.mark.slow
def test_done_ends_the_stream_although_the_body_stays_open() -> None:
    """``[DONE]`` and then a body held open for two minutes: the stream ends with its text
    (the subprocess deadline is far below the hold and the 60 s timeout)."""
    results = run_scenario(
        """
        llm = create_llm("huggingface", inference_api_url=server.url, protocol="openai", timeout=60.0, max_retries=0)
        expected = str(llm.generate("a story", temperature=0, max_tokens=6))
        server.script({"hold_after_done": 120})
        results = {"sync": outcome(lambda: stream_text(llm))}
        server.script({"hold_after_done": 120})
        results["async"] = outcome(lambda: asyncio.run(astream_text(llm)))
        results["expected"] = expected
        print(json.dumps(results))
        """,
        deadline=40.0,
    )
    expected = results.pop("expected")
    for name, result in results.items():
        assert result["outcome"] == "ok:" + expected, (name, result)


@pytest.mark.slow
def test_auto_protocol_against_a_silent_server_gives_up_probing_quickly() -> None:
    """A server that accepts connections and never answers: ``protocol="auto"`` probes within
    its own short bound, not two 60 s timeouts, and falls back to the OpenAI routes."""
    results = run_scenario(
        """
        import socket
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        llm = None

        def load():
            global llm
            llm = create_llm("huggingface", inference_api_url=url, timeout=60.0)
            return llm.backend.protocol.name

        results = {"load": outcome(load)}
        print(json.dumps(results))
        """,
        deadline=40.0,
    )
    assert results["load"]["outcome"] == "ok:openai", results
