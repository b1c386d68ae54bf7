"""The token huggingface_hub would use without being given one, read without importing it.

huggingface_hub (``get_token`` / ``get_token_to_send``) looks, in order, at ``HF_TOKEN``,
then ``HUGGING_FACE_HUB_TOKEN``, then the file ``hf auth login`` writes: ``HF_TOKEN_PATH``,
else ``$HF_HOME/token``, ``HF_HOME`` defaulting to ``$XDG_CACHE_HOME/huggingface`` (that is
``~/.cache/huggingface``). A token read this way is stripped of spaces and line breaks, and
none is used at all when ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` is true. ``HF_TOKEN`` (and
``HUGGINGFACE_API_KEY``, this project's own name) reach the backend as core's ``api_key``
default; this module supplies the rest of that order.
"""

from __future__ import annotations

import logging
import os

__all__ = ["implicit_token_disabled", "stored_token", "token_file"]

logger = logging.getLogger(__name__)

_TRUE = {"1", "ON", "YES", "TRUE"}


def implicit_token_disabled() -> bool:
    """Whether ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` forbids using a token nobody passed."""
    return os.environ.get("HF_HUB_DISABLE_IMPLICIT_TOKEN", "").upper() in _TRUE


def token_file() -> str:
    """Where ``hf auth login`` stores the token."""
    explicit = os.environ.get("HF_TOKEN_PATH")
    if explicit:
        return os.path.expanduser(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = os.environ.get("HF_HOME") or os.path.join(cache, "huggingface")
    return os.path.join(os.path.expanduser(home), "token")


def stored_token() -> tuple[str, str] | None:
    """``HUGGING_FACE_HUB_TOKEN``, else the token in :func:`token_file`, cleaned, with where it came
    from (for messages: the variable's name, or the file's path); None when neither holds one.
    An unreadable file is logged (its path, never its content) and skipped."""
    from_environment = _clean(os.environ.get("HUGGING_FACE_HUB_TOKEN"))
    if from_environment is not None:
        return from_environment, "HUGGING_FACE_HUB_TOKEN"
    path = token_file()
    try:
        with open(path, encoding="utf-8") as file:
            token = _clean(file.read())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("cannot read the stored HuggingFace token at %s (%s); ignoring it", path, type(exc).__name__)
        return None
    return (token, f"the token file {path} (written by `hf auth login`)") if token is not None else None


def _clean(token: str | None) -> str | None:
    if token is None:
        return None
    return token.replace("\r", "").replace("\n", "").strip() or None
