"""HF's own OpenAI-compatible server, ``transformers serve``, on a local model folder and a free
loopback port, offline (``HF_HUB_OFFLINE=1``: the folder is all it reads).

It needs ``transformers[serving]`` (fastapi, uvicorn, pydantic and ``openai>=1.98``);
:func:`serve_unavailable` says what is missing, for a test to skip with.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tinymodel.serve import free_port, serving

__all__ = ["serve_unavailable", "transformers_serve"]


def serve_unavailable() -> str | None:
    """Why ``transformers serve`` cannot start in this interpreter, or ``None`` when it can."""
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError as exc:
        return f"transformers is not importable: {exc}"
    if not is_serve_available():
        return "transformers serve needs transformers[serving] (fastapi, uvicorn, pydantic, openai>=1.98)"
    return None


@contextmanager
def transformers_serve(model_dir: Path, *, log: Path | None = None, timeout: float = 180) -> Iterator[str]:
    """``transformers serve model_dir`` on CPU, pinned to that one model (preloaded before it
    listens); yields its URL once ``/health`` answers, stops it when the block ends.

    Raises ``RuntimeError`` if it exits or does not answer within ``timeout`` seconds.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # ``env`` replaces itself with Python (same process, so stopping it stops the server); no hub
    # access and no PyPI update check.
    command = ["env", "HF_HUB_OFFLINE=1", "HF_HUB_DISABLE_UPDATE_CHECK=1", sys.executable, "-m", "transformers.cli.transformers"]
    command += ["serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with ExitStack() as running:
        try:
            running.enter_context(serving(command, url + "/health", log=log, timeout=timeout))
        except RuntimeError as exc:  # serving() names the command by its first words, here ``env ...``
            raise RuntimeError(f"transformers serve {model_dir}: {exc}") from exc
        yield url
