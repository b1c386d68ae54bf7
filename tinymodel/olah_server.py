"""A real Hub-compatible server on loopback: olah (PyPI ``olah``, a self-hosted HuggingFace mirror)
serving the tiny models' git repositories offline.

olah needs a newer huggingface_hub than the project's environment may hold, so it lives in its own
venv (``ensure_olah``: created once per machine with pip). What its configuration needs, learnt
from its source (0.5.x):

* ``mirrors-path`` (only settable in the config file): repos are ``<mirror>/models/<org>/<name>``
  git repositories; a file whose blob is an LFS pointer (120-150 bytes) is served from
  ``.git/lfs/objects/<aa>/<bb>/<sha256>``;
* ``offline = true`` keeps it from calling huggingface.co; then a request without a revision
  (``/api/models/<id>``, used by ``model_info`` and transformers' ``AutoTokenizer``) is answered
  from its ref cache, which must be seeded: ``<repos-path>/api/models/<id>/revision/<sha>/meta_head.json``
  holding ``{"sha", "lastModified"}``, or the repo is reported missing. Requests naming a
  branch or commit are resolved by git in the mirror.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tinymodel.hub_repos import HubRepo
from tinymodel.serve import free_port, serving

__all__ = ["OLAH_REQUIREMENT", "OlahUnavailable", "ensure_olah", "olah_server"]

#: Pinned: the layout above is read from this release's source.
OLAH_REQUIREMENT = "olah==0.5.4"


class OlahUnavailable(RuntimeError):
    """olah could not be installed (no package index, or no git for GitPython)."""


def ensure_olah(venv: Path) -> Path:
    """The ``olah-cli`` of ``venv``, creating the venv and installing olah first if needed. Processes
    that share ``venv`` (test runs of several checkouts) take turns: a lock file beside it is held
    while one of them checks or builds it."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_olah_locked(venv.resolve())  # resolved: scripts name their interpreter by this path


def _runs(script: Path) -> bool:
    """Whether ``script`` exists and the interpreter its ``#!`` line names does too (a venv made
    through a symbolic link that is gone since has scripts naming a missing interpreter)."""
    if not script.is_file():
        return False
    with open(script, "rb") as opened:
        first = opened.readline()
    return first.startswith(b"#!") and Path(first[2:].decode(errors="replace").strip()).is_file()


def _ensure_olah_locked(venv: Path) -> Path:
    cli = venv / "bin" / "olah-cli"
    marker = venv / f".{OLAH_REQUIREMENT}"
    if _runs(cli) and marker.is_file():
        return cli
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", OLAH_REQUIREMENT],
    ]
    environment = {k: v for k, v in os.environ.items() if k not in ("PIP_CONSTRAINT", "VIRTUAL_ENV", "PYTHONPATH")}
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900, env=environment, check=False)
        if result.returncode != 0:
            raise OlahUnavailable(f"{' '.join(step[-3:])} failed: {result.stderr.strip()[-800:]}")
    marker.touch()
    return cli


def _seed_ref_cache(cache: Path, repos: Mapping[str, HubRepo]) -> None:
    for repo in repos.values():
        folder = cache / "api" / "models" / repo.repo_id / "revision" / repo.main
        folder.mkdir(parents=True, exist_ok=True)
        head = {"sha": repo.main, "lastModified": "2024-01-01T00:00:00+00:00"}
        (folder / "meta_head.json").write_text(json.dumps(head), encoding="utf-8")


@contextmanager
def olah_server(cli: Path, mirrors: Path, work: Path, repos: Mapping[str, HubRepo]) -> Iterator[str]:
    """Serve the git repos under ``mirrors`` on a free loopback port until the block ends; yields
    the URL to put in ``HF_ENDPOINT``. ``work`` holds olah's config, ref cache and log."""
    port = free_port()
    cache = work / "repos"
    _seed_ref_cache(cache, repos)
    config = work / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f"repos-path = {json.dumps(str(cache))}\n"
        f"mirrors-path = [{json.dumps(str(mirrors))}]\n"
        'mirror-scheme = "http"\n'
        f'mirror-netloc = "127.0.0.1:{port}"\nmirror-lfs-netloc = "127.0.0.1:{port}"\n'
        "[accessibility]\noffline = true\n",
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/api/models/{next(iter(repos))}"
    with serving([str(cli), "--config", str(config), "--log-path", str(work / "logs")], probe, log=work / "olah.log"):
        yield url
