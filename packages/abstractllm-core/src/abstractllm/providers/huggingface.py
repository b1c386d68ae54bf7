"""The ``"huggingface"`` provider: the model class behind every mode, and its hub cache helpers.

Its modes, shared options and routing rules are in :mod:`abstractllm.providers.huggingface_modes`
(re-exported here under their original import path).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm._private.model_cache import clear_all_model_caches
from abstractllm.providers.huggingface_modes import DEFAULT_MODEL as DEFAULT_MODEL
from abstractllm.providers.huggingface_modes import DEFAULT_PREFIX_CACHE_BYTES as DEFAULT_PREFIX_CACHE_BYTES
from abstractllm.providers.huggingface_modes import HF_OPTIONS as HF_OPTIONS
from abstractllm.providers.huggingface_modes import HF_TOKEN_ENV as HF_TOKEN_ENV
from abstractllm.providers.huggingface_modes import MODE_DISTRIBUTIONS as MODE_DISTRIBUTIONS
from abstractllm.providers.huggingface_modes import PROVIDER as PROVIDER
from abstractllm.providers.huggingface_modes import ROUTING_OPTIONS as ROUTING_OPTIONS
from abstractllm.providers.huggingface_modes import hf_options as hf_options
from abstractllm.providers.huggingface_modes import resolve_mode as resolve_mode

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PREFIX_CACHE_BYTES",
    "MODE_DISTRIBUTIONS",
    "HF_OPTIONS",
    "HF_TOKEN_ENV",
    "PROVIDER",
    "ROUTING_OPTIONS",
    "HuggingFaceProvider",
    "hf_options",
    "resolve_mode",
]


def _hub_cache_dir(cache_dir: str | None = None) -> str:
    """The hub cache folder (with os.path: pathlib is not imported by ``create_llm``)."""
    if cache_dir:
        return os.path.expanduser(cache_dir)
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


class HuggingFaceProvider(AbstractLLMInterface):
    """Every model made with ``create_llm("huggingface", ...)``, whatever its mode."""

    DEFAULT_MODEL = DEFAULT_MODEL
    #: The hub cache folder in effect when this module was imported (the original's class attribute).
    DEFAULT_CACHE_DIR = _hub_cache_dir()

    @staticmethod
    def default_cache_dir() -> Path:
        """The HuggingFace hub cache folder in effect (``HF_HUB_CACHE``, ``HF_HOME``, or the default)."""
        from pathlib import Path

        return Path(_hub_cache_dir())

    @staticmethod
    def list_cached_models(cache_dir: str | None = None) -> list[dict[str, Any]]:
        """Models in the local HuggingFace cache, with the modes that can run each.

        Each entry: ``name`` (repo id), ``size`` (bytes), ``last_used`` (epoch seconds),
        ``path``, ``files`` and ``modes`` (``gguf`` when it holds ``.gguf`` files,
        ``pipeline`` when it holds a ``config.json``). Uses huggingface_hub's cache scan
        when installed, else reads the cache folder layout.
        """
        from pathlib import Path

        root = Path(_hub_cache_dir(cache_dir))
        if not root.is_dir():
            return []
        try:
            from huggingface_hub import scan_cache_dir
        except ImportError:
            return _scan_layout(root)
        entries = []
        for repo in scan_cache_dir(root).repos:
            if repo.repo_type != "model":
                continue
            files = sorted({file.file_name for revision in repo.revisions for file in revision.files})
            entries.append(
                {
                    "name": repo.repo_id,
                    "size": repo.size_on_disk,
                    "last_used": repo.last_accessed,
                    "path": str(repo.repo_path),
                    "files": files,
                    "modes": _modes_for(files),
                }
            )
        return sorted(entries, key=lambda entry: entry["name"])

    @staticmethod
    def clear_model_cache() -> int:
        """Drop every model this process keeps loaded for sharing; returns how many were dropped."""
        return clear_all_model_caches()


def _modes_for(files: list[str]) -> list[str]:
    modes = []
    if any(name.lower().endswith(".gguf") for name in files):
        modes.append("gguf")
    if "config.json" in files:
        modes.append("pipeline")
    return modes


def _scan_layout(root: Path) -> list[dict[str, Any]]:
    entries = []
    for folder in sorted(root.glob("models--*")):
        name = folder.name[len("models--") :].replace("--", "/")
        snapshot_files = [path for path in (folder / "snapshots").rglob("*") if path.is_file()]
        files = sorted({path.name for path in snapshot_files})
        blobs = [path for path in (folder / "blobs").glob("*") if path.is_file()]
        entries.append(
            {
                "name": name,
                "size": sum(path.stat().st_size for path in blobs),
                "last_used": max((path.stat().st_atime for path in blobs), default=0.0),
                "path": str(folder),
                "files": files,
                "modes": _modes_for(files),
            }
        )
    return entries
