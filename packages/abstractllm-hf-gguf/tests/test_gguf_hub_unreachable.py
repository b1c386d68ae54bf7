"""A GGUF named by hub repo id while the hub cannot be reached (a closed loopback port).

Nothing cached: ``ProviderConnectionError`` after one request (no retries), naming the repo, the
cache folder and ``HF_HUB_OFFLINE=1``. Cached: the snapshot is used, with the same
choice of file (and the same listing error for an ambiguous pattern) as online.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
    import json, time
    from abstractllm import create_llm
    from abstractllm.errors import AbstractLLMError
    out = {}
    for label, filename in (("f32", "tiny-llama-f32.gguf"), ("ambiguous", "*.gguf"), ("absent", "*Q4_K_M.gguf")):
        started = time.monotonic()
        try:
            with create_llm("huggingface", model="tiny/Tiny-Llama-GGUF", filename=filename) as llm:
                out[label] = ["ok", str(llm.generate("The sky is", raw=True, temperature=0))]
        except AbstractLLMError as exc:
            out[label] = [type(exc).__name__, str(exc)]
        out[label].append(time.monotonic() - started)
    print(json.dumps(out))
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(hf_home: Path) -> tuple[dict[str, list], str]:
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))},
        "PYTHONPATH": str(ROOT),
        "HF_HOME": str(hf_home),
        "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_unreachable_hub_with_nothing_cached_is_a_prompt_connection_error(tmp_path: Path) -> None:
    out, stderr = _run(tmp_path)
    kind, message, _ = out["f32"]
    assert kind == "ProviderConnectionError"
    for needed in ("tiny/Tiny-Llama-GGUF", str(tmp_path / "hub"), "HF_HUB_OFFLINE=1", "127.0.0.1"):
        assert needed in message
    assert "Retrying" not in stderr  # one request, no backoff (huggingface_hub's retries took ~25 s)


def test_unreachable_hub_falls_back_to_the_cached_snapshot(tmp_path: Path, gguf_f32: Path) -> None:
    from tinymodel import install_in_hub_cache

    install_in_hub_cache(gguf_f32.parent, tmp_path, "tiny/Tiny-Llama-GGUF")
    out, _ = _run(tmp_path)
    assert out["f32"][:2] == ["ok", " blue."]
    kind, message, _ = out["ambiguous"]
    assert kind == "InvalidArgumentError"
    assert "tiny-llama-f32.gguf" in message and "tiny-llama-q8_0.gguf" in message
    kind, message, _ = out["absent"]
    assert kind == "InvalidArgumentError" and "matches no .gguf file" in message and "tiny-llama-q8_0.gguf" in message
