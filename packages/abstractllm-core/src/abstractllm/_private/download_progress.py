"""Downloads and model loads draw progress bars on a terminal, and stay quiet in logs, pipes and CI.

huggingface_hub and transformers draw their bars whatever stderr is; the local backends fetch
and load through :func:`progress_only_on_a_terminal`, so that a user at a terminal sees a long
download move while a service's log file does not fill with bar redraws.
``HF_HUB_DISABLE_PROGRESS_BARS`` and an application's own choice keep their meaning: bars that
were off stay off, and only bars turned off here are turned on again.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_only_on_a_terminal"]

_lock = threading.Lock()
_quieted = 0  # blocks running with the bars turned off here
_restore: Callable[[], None] | None = None  # puts back the bars the first block turned off


def _stderr_is_a_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _turn_off() -> Callable[[], None]:
    """Turn off the bars that are on (huggingface_hub's; transformers' when it is imported);
    return what puts both back as they were (transformers' switch flips the hub's too)."""
    from huggingface_hub import utils as hub

    transformers_logging = sys.modules.get("transformers.utils.logging")
    hub_was_on = not hub.are_progress_bars_disabled()
    transformers_was_on = transformers_logging is not None and transformers_logging.is_progress_bar_enabled()
    if transformers_was_on and transformers_logging is not None:
        transformers_logging.disable_progress_bar()
    if hub_was_on:
        hub.disable_progress_bars()

    def restore() -> None:
        if transformers_was_on and transformers_logging is not None:
            transformers_logging.enable_progress_bar()
        if hub_was_on:
            hub.enable_progress_bars()
        elif transformers_was_on:
            hub.disable_progress_bars()

    return restore


@contextmanager
def progress_only_on_a_terminal() -> Iterator[None]:
    """Within the block, the bars are off unless stderr is a terminal.

    For backends that have huggingface_hub installed (it is imported here, on use). Nested and
    concurrent blocks are fine: the bars come back when the last quieted block ends.
    """
    global _quieted, _restore
    if _stderr_is_a_terminal():
        yield
        return
    with _lock:
        if _quieted == 0:
            _restore = _turn_off()
        _quieted += 1
    try:
        yield
    finally:
        with _lock:
            _quieted -= 1
            if _quieted == 0 and _restore is not None:
                _restore()
                _restore = None
