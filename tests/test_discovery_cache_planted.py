"""A planted or corrupt discovery cache, met by ``create_llm`` in a fresh process: the planted module
is never imported, the process is not misled (no "pip install ..." for an installed backend), and
the scan's result replaces the file for the next process. The in-process rules (owner, mode bits,
symbolic links, shapes, declaring distributions) are in ``test_discovery_cache.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from abstractllm._private import discovery_cache as _discovery_cache
from tests.test_discovery_cache import NOBODY, needs_root, posix

FINGERPRINT = """
    import json, sys
    from abstractllm._private import discovery_cache as cache
    fingerprint = cache._fingerprint(sys.path)
    print(json.dumps({"fingerprint": fingerprint, "key": cache._key(fingerprint),
                      "found": [vars(point) for point in cache._scan("abstractllm")]}))
"""
CREATE = """
    import json, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    from abstractllm import create_llm
    from abstractllm._private.plugins import get_plugins
    llm = create_llm("huggingface", inference_api_url="http://127.0.0.1:9", protocol="openai", max_retries=0)
    plugins = get_plugins()
    print(json.dumps({"mode": llm.mode, "broken": [broken.name for broken in plugins.broken]}))
"""
EVIL = """
    import pathlib
    pathlib.Path("MARKER").write_text("the planted module ran")
"""


def run_planted(root: Path, planting: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """``create_llm`` in a fresh process whose cache folder (world-writable, as /tmp) holds a file planted
    with the right fingerprint, naming a module of the working folder as a plugin; ``planting`` says how:
    ``other-user`` (owned by uid 65534), ``world-writable`` (ours, mode 666) or ``undeclared`` (ours, 600);
    ``wrong-types`` plants (ours, 600) numbers where the names belong instead.
    Returns the finished process, the marker the planted module would write, and the cache file."""
    work = root / "work"
    work.mkdir()
    marker = work / "MARKER"
    (work / "evil_plugin.py").write_text(textwrap.dedent(EVIL).replace("MARKER", str(marker)))
    shared = root / "shared-cache"
    shared.mkdir()
    shared.chmod(0o1777)
    environment = {**os.environ, _discovery_cache.CACHE_DIR_VARIABLE: str(shared)}

    def child(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], cwd=work, env=environment, capture_output=True, text=True, timeout=120
        )

    probe = child(FINGERPRINT)
    assert probe.returncode == 0, probe.stderr
    state = json.loads(probe.stdout)
    real = state["found"]
    assert real, "no abstractllm plugin is installed in this environment"
    evil = {**real[0], "name": "hf-evil", "value": "evil_plugin"}  # claims an installed distribution
    path = shared / f"entry-points-abstractllm-{state['key']:08x}.json"
    points = [*real, evil] if planting != "wrong-types" else [{"name": 1, "value": 2, "distribution": 3, "version": 4}]
    planted = {"format": _discovery_cache.FORMAT, "fingerprint": state["fingerprint"], "entry_points": points}
    path.write_text(json.dumps(planted))
    path.chmod(0o666 if planting == "world-writable" else 0o644 if planting == "other-user" else 0o600)
    if planting == "other-user":
        os.chown(path, NOBODY, NOBODY)
    return child(CREATE), marker, path


@pytest.mark.parametrize(
    "planting",
    [pytest.param("other-user", marks=needs_root), pytest.param("world-writable", marks=posix), "undeclared"],
)
def test_a_planted_cache_never_makes_create_llm_import_its_module(tmp_path: Path, planting: str) -> None:
    done, marker, path = run_planted(tmp_path, planting)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "the planted module ran"
    result = json.loads(done.stdout)
    assert result == {"mode": "endpoint", "broken": []}
    assert "from the cache" not in done.stderr
    if planting != "other-user":  # a file of another user in a sticky folder cannot be replaced by a non-root user
        assert "evil_plugin" not in path.read_text()
        assert path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o777 == 0o600


def test_a_cache_with_wrong_types_does_not_mislead_this_process_or_the_next(tmp_path: Path) -> None:
    """Numbers where names belong, under the right fingerprint: create_llm failed with BackendNotInstalledError
    ("pip install ...") in this process and every later one. Now: a scan, and the file is rewritten."""
    done, _, path = run_planted(tmp_path, "wrong-types")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"mode": "endpoint", "broken": []}
    rewritten = json.loads(path.read_text())["entry_points"]
    assert rewritten and all(isinstance(value, str) for entry in rewritten for value in entry.values())
    again = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CREATE)],
        cwd=tmp_path / "work",
        env={**os.environ, _discovery_cache.CACHE_DIR_VARIABLE: str(path.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "from the cache" in again.stderr  # the next process uses the rewritten file
