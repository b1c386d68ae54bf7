"""Place local files into a huggingface_hub cache so that offline Hub look-ups find them.

The layout is the one ``huggingface_hub`` itself writes::

    <hf_home>/hub/models--<org>--<name>/
        blobs/<etag>                      # file contents (sha256 for LFS-style files, git sha1 otherwise)
        snapshots/<40-hex commit>/<path>  # relative symlinks into ../../blobs (copies if symlinks fail)
        refs/main                         # the commit hash, no trailing newline

With ``HF_HOME=<hf_home>`` and ``HF_HUB_OFFLINE=1``, ``snapshot_download``,
``hf_hub_download``, ``transformers`` ``from_pretrained(repo_id)`` and
``scan_cache_dir`` then resolve the repo without any network access.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["install_in_hub_cache", "repo_cache_dir"]

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.\-]*/)?[A-Za-z0-9][\w.\-]*$")
#: Files stored with a sha256 etag (as Git LFS files are on the Hub).
_LFS_SUFFIXES = frozenset(
    {
        ".safetensors",
        ".gguf",
        ".bin",
        ".pt",
        ".pth",
        ".ckpt",
        ".h5",
        ".msgpack",
        ".onnx",
        ".model",
        ".npz",
        ".npy",
        ".pkl",
        ".tar",
        ".zip",
        ".gz",
        ".tflite",
        ".ot",
    }
)
_LFS_MIN_SIZE = 10 * 1024 * 1024
_CHUNK = 1 << 20


def repo_cache_dir(hf_home: Path, repo_id: str) -> Path:
    """The cache folder of model repo ``repo_id`` under ``hf_home`` (``hf_home/hub/models--org--name``)."""
    if not _REPO_ID.match(repo_id) or "--" in repo_id or ".." in repo_id:
        raise ValueError(f"invalid repo_id {repo_id!r}")
    return Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))


def _etag(path: Path) -> str:
    """sha256 of LFS-style files, git blob sha1 of the rest (what the Hub reports as etag)."""
    size = path.stat().st_size
    if path.suffix.lower() in _LFS_SUFFIXES or size >= _LFS_MIN_SIZE:
        h = hashlib.sha256()
    else:
        h = hashlib.sha1()
        h.update(f"blob {size}\0".encode())
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _list_files(src: Path) -> list[str]:
    """Relative POSIX paths of all regular files under ``src`` (``.git`` excluded), sorted."""
    out: list[str] = []
    for p in src.rglob("*"):
        rel = p.relative_to(src)
        if ".git" in rel.parts or not p.is_file():
            continue
        out.append(rel.as_posix())
    return sorted(out)


def _atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` via a temporary sibling + rename."""
    fd, tmp = tempfile.mkstemp(prefix=dst.name + ".", suffix=".incomplete", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_text(dst: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=dst.name + ".", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_in_hub_cache(src: Path, hf_home: Path, repo_id: str, *, files: list[str] | None = None) -> Path:
    """Install files from directory ``src`` as revision ``main`` of model repo ``repo_id`` in a Hub cache.

    Contract:

    * ``files`` are paths relative to ``src`` (``/``-separated, may contain
      sub-folders); default: every regular file under ``src`` except ``.git``.
      A missing file raises ``FileNotFoundError``; an absolute or ``..`` path
      raises ``ValueError``.
    * The commit hash is a deterministic 40-hex digest of the (path, etag) set,
      so the same content always lands in the same snapshot; ``refs/main`` is
      (re)pointed at it, previous snapshots are left in place.
    * Blobs and refs are written atomically (temp file + rename); re-running is
      idempotent and safe against concurrent installs of the same content.
    * Snapshot entries are relative symlinks to the blobs, like
      huggingface_hub; where symlinks are unsupported, files are copied.
    * Returns the snapshot directory ``hf_home/hub/models--org--name/snapshots/<commit>``.
    """
    src = Path(src)
    if not src.is_dir():
        raise NotADirectoryError(f"src must be a directory: {src}")
    repo_dir = repo_cache_dir(Path(hf_home), repo_id)
    rel_files = sorted(set(files)) if files is not None else _list_files(src)
    if not rel_files:
        raise ValueError(f"no files to install from {src}")
    etags: dict[str, str] = {}
    for rel in rel_files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"invalid relative file path {rel!r}")
        path = src / rel
        if not path.is_file():
            raise FileNotFoundError(path)
        etags[rel] = _etag(path)
    commit = hashlib.sha1("".join(f"{rel}\0{etags[rel]}\n" for rel in rel_files).encode("utf-8")).hexdigest()

    blobs = repo_dir / "blobs"
    snapshot = repo_dir / "snapshots" / commit
    refs = repo_dir / "refs"
    for d in (blobs, snapshot, refs):
        d.mkdir(parents=True, exist_ok=True)

    for rel in rel_files:
        blob = blobs / etags[rel]
        if not blob.is_file():
            _atomic_copy(src / rel, blob)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(blob, link.parent)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        tmp_link = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        try:
            tmp_link.unlink(missing_ok=True)
            os.symlink(target, tmp_link)
            os.replace(tmp_link, link)
        except OSError:
            tmp_link.unlink(missing_ok=True)
            _atomic_copy(blob, link)

    _atomic_write_text(refs / "main", commit)
    logger.info("installed %d file(s) as %s@%s in %s", len(rel_files), repo_id, commit[:12], repo_dir)
    return snapshot
