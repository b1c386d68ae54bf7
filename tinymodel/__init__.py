"""Tiny, deterministic, locally built test language model (no downloads).

``ensure_tiny_models(cache_root)`` builds once (:data:`BUILD_TIME`) and then reuses:

* ``pipeline_dir`` - transformers ``LlamaForCausalLM`` + fast tokenizer with a
  ChatML chat template (see :mod:`tinymodel.build`),
* ``pipeline_dir_no_template`` - the same weights, tokenizer without chat template,
* ``gguf_f32`` / ``gguf_q8_0`` - the same model as GGUF for llama.cpp.

Importing this package is cheap; torch/transformers are imported on use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .build import build_tiny_llama, build_tiny_llama_pair
from .corpus import (
    CHATML_TEMPLATE,
    EXPECTED_CHATS,
    EXPECTED_COMPLETIONS,
    EXPECTED_TOOL_CHATS,
    SPECIAL_TOKENS,
    WEATHER_TOOL,
)
from .hub_cache import install_in_hub_cache, repo_cache_dir

__all__ = [
    "BUILD_TIME",
    "CHATML_TEMPLATE",
    "EXPECTED_CHATS",
    "EXPECTED_COMPLETIONS",
    "EXPECTED_TOOL_CHATS",
    "SPECIAL_TOKENS",
    "WEATHER_TOOL",
    "TinyModels",
    "build_tiny_llama",
    "build_tiny_llama_pair",
    "ensure_tiny_models",
    "install_in_hub_cache",
    "repo_cache_dir",
    "source_hash",
]

logger = logging.getLogger(__name__)

#: How long the first build takes: 500 training steps on one core (26 s of CPU time on the project's
#: 2-core machine; 47 s to 99 s of wall time there, as busy as it was).
BUILD_TIME = "30 s to 2 min"

_MANIFEST = "manifest.json"
#: Libraries whose version changes what gets written (part of the cache key).
_KEY_DISTRIBUTIONS = ("torch", "transformers", "tokenizers", "safetensors", "gguf")
#: This package's modules whose code decides the built files (part of the cache key).
_BUILD_SOURCES = ("__init__.py", "build.py", "corpus.py", "gguf_export.py", "hub_cache.py")


@dataclass(frozen=True)
class TinyModels:
    """Paths of one complete tiny-model build (all inside ``root``)."""

    root: Path
    pipeline_dir: Path
    pipeline_dir_no_template: Path
    gguf_f32: Path
    gguf_q8_0: Path

    @classmethod
    def at(cls, root: Path) -> TinyModels:
        """The fixed layout below ``root`` (nothing is checked)."""
        return cls(
            root=root,
            pipeline_dir=root / "tiny-llama",
            pipeline_dir_no_template=root / "tiny-llama-no-template",
            gguf_f32=root / "gguf" / "tiny-llama-f32.gguf",
            gguf_q8_0=root / "gguf" / "tiny-llama-q8_0.gguf",
        )


def source_hash() -> str:
    """Return the 16-hex cache key.

    It is the sha256 of the sources that decide what is written (``_BUILD_SOURCES``) plus the
    installed versions of torch, transformers, tokenizers, safetensors and gguf (their output
    formats can change). Other modules of this package (servers, the real model) do not count.
    """
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for path in sorted(pkg / name for name in _BUILD_SOURCES):
        h.update(path.relative_to(pkg).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    for dist in _KEY_DISTRIBUTIONS:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{dist}=={version}\0".encode())
    return h.hexdigest()[:16]


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Inter-process lock on ``path`` (``fcntl.flock``; a no-op where unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _is_complete(models: TinyModels) -> bool:
    return (models.root / _MANIFEST).is_file()


def _build_all(root: Path) -> TinyModels:
    """Build every artifact into ``root`` (which must be empty) and write the manifest last."""
    models = TinyModels.at(root)
    build_tiny_llama_pair(models.pipeline_dir, models.pipeline_dir_no_template)
    from .gguf_export import write_gguf  # numpy: imported only to build

    write_gguf(models.pipeline_dir, models.gguf_f32, quant="f32")
    write_gguf(models.pipeline_dir, models.gguf_q8_0, quant="q8_0")
    manifest = {
        "pipeline_dir": models.pipeline_dir.name,
        "pipeline_dir_no_template": models.pipeline_dir_no_template.name,
        "gguf_f32": models.gguf_f32.relative_to(root).as_posix(),
        "gguf_q8_0": models.gguf_q8_0.relative_to(root).as_posix(),
        "versions": {d: _version(d) for d in _KEY_DISTRIBUTIONS},
    }
    (root / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return models


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def ensure_tiny_models(cache_root: Path) -> TinyModels:
    """Return the tiny models under ``cache_root/<source_hash()>/``, building them if needed.

    Contract:

    * A complete build is recognised by its ``manifest.json`` and reused as is
      (no torch import, no work).
    * Otherwise everything is built into a temporary directory inside
      ``cache_root`` and renamed into place, so ``cache_root/<key>`` is either
      absent or complete.  Concurrent callers serialise on a lock file
      ``cache_root/.<key>.lock`` (POSIX); should two builds still race, the
      first rename wins and the loser discards its copy.
    * Old keys are never deleted.  Torch's thread count is changed only during
      the build and restored afterwards.
    """
    cache_root = Path(cache_root).resolve()
    key = source_hash()
    final = TinyModels.at(cache_root / key)
    if _is_complete(final):
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    logger.debug("acquiring build lock for %s", final.root)
    with _exclusive_lock(cache_root / f".{key}.lock"):
        if _is_complete(final):
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache_root))
        try:
            _build_all(tmp)
            tmp.chmod(0o755)  # mkdtemp creates 0700
            try:
                os.rename(tmp, final.root)
            except OSError:
                if not _is_complete(final):
                    if final.root.exists():  # leftover without manifest: replace it
                        shutil.rmtree(final.root)
                        os.rename(tmp, final.root)
                    else:
                        raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    logger.info("tiny models ready in %s", final.root)
    return final
