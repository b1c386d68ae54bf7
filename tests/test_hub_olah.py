"""Models by hub id, downloaded from a real Hub-compatible server: olah serving the tiny models'
git repositories on loopback (``tinymodel.hub_repos``, ``tinymodel.olah_server``).

Each case runs in a fresh Python process whose ``HF_ENDPOINT`` points at the server and whose
``HF_HOME`` is a temporary folder, so unmodified huggingface_hub and transformers download
through it into an empty cache. The process prints one JSON line: for each configuration
given to ``create_llm``, the greedy raw completion of "The capital of France is" (and the
model's chat-template capability) or the error's class and message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tinymodel.hub_repos import GGUF_REPO, PIPELINE_REPO, HubRepo, write_hub_repos
from tinymodel.olah_server import OlahUnavailable, ensure_olah, olah_server
from tinymodel.serve import free_port

REPO = Path(__file__).resolve().parents[1]
PARIS = " Paris."

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Hub:
    url: str
    repos: dict[str, HubRepo]


@pytest.fixture(scope="module")
def hub(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed (olah serves git repositories)")
    try:
        cli = ensure_olah(REPO / ".cache" / "olah-venv")
    except OlahUnavailable as exc:
        pytest.skip(f"olah could not be installed: {exc}")
    work = tmp_path_factory.mktemp("olah")
    repos = write_hub_repos(tiny_models, work / "mirrors")
    with olah_server(cli, work / "mirrors", work, repos) as url:
        yield Hub(url, repos)


@pytest.fixture()
def hf_home(tmp_path: Path) -> Path:
    return tmp_path / "hf-home"


RUNNER = textwrap.dedent(
    """
    import json, sys
    from abstractllm import create_llm

    def attempt(config):
        try:
            llm = create_llm("huggingface", **config)
        except Exception as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        reply = str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8))
        template = llm.get_capabilities().get("chat_template")
        llm.unload()
        return {"reply": reply, "chat_template": template}

    print("@@" + json.dumps([attempt(config) for config in json.loads(sys.argv[1])]))
    """
)


def load(
    *configs: dict[str, Any], endpoint: str, hf_home: Path, offline: bool = False, timeout: float = 300
) -> list[dict[str, Any]]:
    """Each configuration's result, from one fresh process (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k not in ("HUGGINGFACE_API_KEY",)}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(list(configs))], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("@@"))
    return list(json.loads(line[2:]))


def snapshots(hf_home: Path, repo_id: str) -> dict[str, list[str]]:
    """commit -> file names, of the repo's snapshots in the hub cache."""
    folder = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    if not folder.is_dir():
        return {}
    return {snapshot.name: sorted(path.name for path in snapshot.iterdir()) for snapshot in folder.iterdir()}


def closed_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_pipeline_by_repo_id_and_by_revision(hub: Hub, hf_home: Path) -> None:
    main, no_template = load(
        {"model": PIPELINE_REPO, "device": "cpu"},
        {"model": PIPELINE_REPO, "revision": "no-template", "device": "cpu"},
        endpoint=hub.url,
        hf_home=hf_home,
    )
    assert main["reply"] == PARIS and no_template["reply"] == PARIS
    assert main["chat_template"] != "fallback"
    assert no_template["chat_template"] == "fallback"
    branches = hub.repos[PIPELINE_REPO].branches
    assert set(snapshots(hf_home, PIPELINE_REPO)) == {branches["main"], branches["no-template"]}
    assert "model.safetensors" in snapshots(hf_home, PIPELINE_REPO)[branches["main"]]


def test_gguf_by_repo_id_fetches_only_the_file_the_pattern_names(hub: Hub, hf_home: Path) -> None:
    (result,) = load({"model": GGUF_REPO, "filename": "*q8_0.gguf"}, endpoint=hub.url, hf_home=hf_home)
    assert result.get("reply") == PARIS, result
    assert snapshots(hf_home, GGUF_REPO) == {hub.repos[GGUF_REPO].main: ["tiny-llama-q8_0.gguf"]}


@pytest.mark.parametrize("pattern", ["*.gguf", "*Q4_K_M.gguf"], ids=["ambiguous", "absent"])
def test_a_pattern_that_names_no_single_file_lists_the_repo_gguf_files(hub: Hub, hf_home: Path, pattern: str) -> None:
    (result,) = load({"model": GGUF_REPO, "filename": pattern}, endpoint=hub.url, hf_home=hf_home)
    assert result.get("error") == "InvalidArgumentError", result
    assert "tiny-llama-f32.gguf" in result["message"] and "tiny-llama-q8_0.gguf" in result["message"]
    assert all(not name.endswith(".gguf") for files in snapshots(hf_home, GGUF_REPO).values() for name in files)


def test_what_was_downloaded_loads_offline_afterwards(hub: Hub, hf_home: Path) -> None:
    configs = ({"model": PIPELINE_REPO, "device": "cpu"}, {"model": GGUF_REPO, "filename": "*q8_0.gguf"})
    online = load(*configs, endpoint=hub.url, hf_home=hf_home)
    offline = load(*configs, endpoint=closed_endpoint(), hf_home=hf_home, offline=True)
    assert [r.get("reply") for r in online] == [PARIS, PARIS], online
    assert [r.get("reply") for r in offline] == [PARIS, PARIS], offline


def test_a_missing_repo_is_model_not_found_naming_it(hub: Hub, hf_home: Path) -> None:
    results = load(
        {"model": "abstractllm-test/no-such-model", "device": "cpu"},
        {"model": "abstractllm-test/no-such-model-GGUF", "filename": "*.gguf"},
        endpoint=hub.url,
        hf_home=hf_home,
    )
    for result, repo_id in zip(results, ("abstractllm-test/no-such-model", "abstractllm-test/no-such-model-GGUF")):
        assert result.get("error") == "ModelNotFoundError", result
        assert repo_id in result["message"]


def test_a_missing_file_or_revision_is_model_not_found_naming_it(hub: Hub, hf_home: Path) -> None:
    gguf, revision = load(
        {"model": GGUF_REPO, "filename": "tiny-llama-q4_0.gguf"},
        {"model": PIPELINE_REPO, "revision": "no-such-branch", "device": "cpu"},
        endpoint=hub.url,
        hf_home=hf_home,
    )
    assert gguf.get("error") in ("ModelNotFoundError", "InvalidArgumentError"), gguf
    assert "tiny-llama-q4_0.gguf" in gguf["message"]
    assert revision.get("error") == "ModelNotFoundError", revision
    assert "no-such-branch" in revision["message"]


def test_an_unreachable_hub_with_nothing_cached_names_the_repo_pipeline(hf_home: Path) -> None:
    (result,) = load({"model": PIPELINE_REPO, "device": "cpu"}, endpoint=closed_endpoint(), hf_home=hf_home, timeout=120)
    assert result.get("error") == "ModelNotFoundError", result  # docs/pipeline.md: names the cache folder
    assert PIPELINE_REPO in result["message"] and str(hf_home) in result["message"]


def test_an_unreachable_hub_with_nothing_cached_names_the_repo_gguf(hf_home: Path) -> None:
    (result,) = load({"model": GGUF_REPO, "filename": "*q8_0.gguf"}, endpoint=closed_endpoint(), hf_home=hf_home, timeout=120)
    assert result.get("error") == "ProviderConnectionError", result  # docs/gguf.md
    assert GGUF_REPO in result["message"] and "HF_HUB_OFFLINE" in result["message"]


def stderr_of_a_download(hub: Hub, hf_home: Path, *, terminal: bool) -> str:
    """What a first download of the pipeline repo writes on stderr, a terminal (pty) or a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1", TERM="xterm")
    command = [sys.executable, "-c", RUNNER, json.dumps([{"model": PIPELINE_REPO, "device": "cpu"}])]
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env).stderr
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing 0 columns wide
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # every writer closed the terminal: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_downloads_show_progress_bars_on_a_terminal(hub: Hub, hf_home: Path) -> None:
    assert "Fetching" in stderr_of_a_download(hub, hf_home, terminal=True)


def test_downloads_stay_quiet_when_stderr_is_not_a_terminal(hub: Hub, hf_home: Path) -> None:
    printed = stderr_of_a_download(hub, hf_home, terminal=False)
    assert "Fetching" not in printed and "%|" not in printed, printed
