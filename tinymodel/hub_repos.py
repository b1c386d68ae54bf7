"""The tiny models as Hub repositories: git repositories laid out as a Hub mirror serves them.

``write_hub_repos(models, mirrors)`` makes ``<mirrors>/models/<org>/<name>`` for each repo of
:data:`REPOS`, each a git repository whose branches hold the files of one revision. Large files
(``.safetensors``, ``.gguf``) are committed as git-LFS pointer files, with their content under
``.git/lfs/objects/<aa>/<bb>/<sha256>``, as the Hub stores them (olah serves that layout).
Commits have fixed authors and dates, so the same files give the same commit ids.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinymodel import TinyModels

__all__ = ["GGUF_REPO", "LFS_SUFFIXES", "PIPELINE_REPO", "HubRepo", "write_hub_repos"]

PIPELINE_REPO = "abstractllm-test/tiny-llama"
GGUF_REPO = "abstractllm-test/tiny-llama-GGUF"
#: Files committed as LFS pointers.
LFS_SUFFIXES = (".safetensors", ".gguf", ".bin")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "tinymodel",
    "GIT_AUTHOR_EMAIL": "tinymodel@localhost",
    "GIT_COMMITTER_NAME": "tinymodel",
    "GIT_COMMITTER_EMAIL": "tinymodel@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class HubRepo:
    """One repository: its id, its git folder, and the commit id of each branch."""

    repo_id: str
    path: Path
    branches: dict[str, str]

    @property
    def main(self) -> str:
        return self.branches["main"]


def write_hub_repos(models: TinyModels, mirrors: Path) -> dict[str, HubRepo]:
    """The tiny models' repos under ``mirrors`` (replaced if present), by repo id.

    * :data:`PIPELINE_REPO`: branch ``main`` holds the transformers folder with its chat
      template, branch ``no-template`` the same weights with a tokenizer without one;
    * :data:`GGUF_REPO`: ``main`` holds the f32 and q8_0 GGUF files and a README.
    """
    pipeline = _repo(
        mirrors, PIPELINE_REPO, {"main": _files(models.pipeline_dir), "no-template": _files(models.pipeline_dir_no_template)}
    )
    readme = b"# tiny-llama-GGUF\n\nThe project's tiny test Llama as GGUF (f32, q8_0).\n"
    gguf_files: dict[str, Path | bytes] = {p.name: p for p in (models.gguf_f32, models.gguf_q8_0)}
    gguf = _repo(mirrors, GGUF_REPO, {"main": {**gguf_files, "README.md": readme}})
    return {repo.repo_id: repo for repo in (pipeline, gguf)}


def _files(folder: Path) -> dict[str, Path | bytes]:
    return {path.name: path for path in sorted(folder.iterdir()) if path.is_file()}


def _repo(mirrors: Path, repo_id: str, branches: dict[str, dict[str, Path | bytes]]) -> HubRepo:
    """A git repo with one commit per branch (later branches start from ``main``); file
    values are a file to copy or the content itself."""
    path = mirrors / "models" / repo_id
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    commits: dict[str, str] = {}
    for branch, files in branches.items():
        if branch != "main":
            _git(path, "checkout", "--quiet", "-b", branch, "main")
        for old in path.iterdir():
            if old.name != ".git":
                old.unlink()
        for name, source in files.items():
            data = source if isinstance(source, bytes) else source.read_bytes()
            if name.endswith(LFS_SUFFIXES):
                (path / name).write_text(_store_lfs_object(path, data), encoding="ascii")
            else:
                (path / name).write_bytes(data)
        _git(path, "add", "--all")
        _git(path, "commit", "--quiet", "--allow-empty", "-m", f"tiny model files ({branch})")
        commits[branch] = _git(path, "rev-parse", "HEAD").strip()
        _git(path, "checkout", "--quiet", "main")
    return HubRepo(repo_id, path, commits)


def _store_lfs_object(repo: Path, data: bytes) -> str:
    """Put ``data`` in the repo's LFS object store; return its pointer file's text."""
    oid = hashlib.sha256(data).hexdigest()
    target = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **_GIT_ENV}, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout
