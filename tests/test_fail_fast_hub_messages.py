"""A model that is not there fails before torch is imported, and both local modes say why in the
same words (issue 26).

Each case runs ``create_llm`` in a fresh interpreter with a deadline and reports the error and
whether torch was imported by then (``'torch' in sys.modules``), not a time. The hub is either off
(``HF_HUB_OFFLINE=1``) or a closed port on this machine (``HF_ENDPOINT``); the cache is an empty
``HF_HOME``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("huggingface_hub")
pytest.importorskip("abstractllm_hf_pipeline")
pytest.importorskip("abstractllm_hf_gguf")

CHILD = """
    import json, sys
    from abstractllm import create_llm
    from abstractllm.errors import AbstractLLMError
    try:
        create_llm("huggingface", **json.loads(sys.argv[1]))
    except AbstractLLMError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc), "torch": "torch" in sys.modules}))
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _load(config: dict[str, Any], hf_home: Path, **hub: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), HF_HOME=str(hf_home), **hub)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0 and result.stdout.strip(), result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


PIPELINE_ID = {"model": "abstractllm-test/not-cached"}
GGUF_ID = {"model": "abstractllm-test/Not-Cached-GGUF", "filename": "*.gguf"}


def test_a_missing_folder_fails_before_torch_is_imported(tmp_path: Path) -> None:
    out = _load({"model": str(tmp_path / "no-such-model")}, tmp_path, HF_HUB_OFFLINE="1")
    assert out["error"] == "ModelNotFoundError" and "does not exist" in out["message"]
    assert out["torch"] is False


@pytest.mark.parametrize("config", [PIPELINE_ID, GGUF_ID], ids=["pipeline", "gguf"])
def test_offline_an_uncached_hub_id_says_offline_mode_is_on_before_torch(config: dict[str, str], tmp_path: Path) -> None:
    out = _load(config, tmp_path, HF_HUB_OFFLINE="1")
    assert out["error"] == "ModelNotFoundError", out
    message = out["message"]
    for needed in (config["model"], str(tmp_path / "hub"), "offline mode is on", "HF_HUB_OFFLINE=1", "HF_ENDPOINT"):
        assert needed in message
    assert "was not found on the hub" not in message  # the hub was not asked
    assert out["torch"] is False


@pytest.mark.parametrize("config", [PIPELINE_ID, GGUF_ID], ids=["pipeline", "gguf"])
def test_an_unreachable_hub_names_the_endpoint_the_cache_and_offline_mode(config: dict[str, str], tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    out = _load(config, tmp_path, HF_ENDPOINT=endpoint)
    message = out["message"]
    for needed in (config["model"], str(tmp_path / "hub"), endpoint, "could not be reached", "HF_ENDPOINT", "HF_HUB_OFFLINE=1"):
        assert needed in message
    assert out["torch"] is False


@pytest.mark.parametrize("hub", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "closed"}], ids=["offline", "unreachable"])
def test_both_local_modes_say_the_same_thing(hub: dict[str, str], tmp_path: Path) -> None:
    if hub.get("HF_ENDPOINT") == "closed":
        hub = {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}
    pipeline = _load(PIPELINE_ID, tmp_path, **hub)["message"]
    gguf = _load(GGUF_ID, tmp_path, **hub)["message"]
    # the same sentence after the name of the model ('owner/name' for the pipeline, the repo and file for gguf)
    after_pipeline = pipeline.split(f"{PIPELINE_ID['model']!r} ", 1)[1]
    after_gguf = gguf.split(f"{GGUF_ID['model']}/{GGUF_ID['filename']} ", 1)[1]
    assert after_pipeline == after_gguf


def test_offline_a_cached_gguf_repo_without_that_revision_or_file_says_offline_mode_is_on(
    tmp_path: Path, tiny_models: Any
) -> None:
    from tinymodel import install_in_hub_cache

    install_in_hub_cache(tiny_models.gguf_f32.parent, tmp_path, "tiny/Tiny-Llama-GGUF")
    for config in (
        {"model": "tiny/Tiny-Llama-GGUF", "filename": "*f32.gguf", "revision": "v9"},
        {"model": "tiny/Tiny-Llama-GGUF", "filename": "*Q4_K_M.gguf", "model_type": "gguf"},
    ):
        out = _load(config, tmp_path, HF_HUB_OFFLINE="1")
        if "revision" in config:
            assert out["error"] == "ModelNotFoundError", out
            assert "offline mode is on" in out["message"] and "was not found on the hub" not in out["message"]
        else:  # no such file in the cached snapshot: the listing says which files there are
            assert out["error"] == "InvalidArgumentError" and "tiny-llama-q8_0.gguf" in out["message"], out
