"""Where llama.cpp's own log lines go.

llama.cpp logs through one process-wide callback. Unless a model is loaded with
``verbose=True``, that callback hands every line to the ``abstractllm_hf_gguf.llama_cpp``
logger (which has a ``NullHandler``), so nothing reaches stdout or stderr unless the
application configures logging. ``verbose=True`` restores llama-cpp-python's printing
to stderr. Like llama.cpp's, the setting is process-wide: the last load decides.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

__all__ = ["route_llama_logs"]

logger = logging.getLogger("abstractllm_hf_gguf.llama_cpp")

logger.addHandler(logging.NullHandler())  # never Python's last-resort stderr handler

#: ggml log levels (NONE, DEBUG, INFO, WARN, ERROR; 5 continues the previous line) -> logging levels.
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}

_lock = threading.Lock()
_callback: Any = None  # the ctypes callback must stay referenced while installed
_last_level = logging.DEBUG


def route_llama_logs(verbose: bool) -> None:
    """Send llama.cpp's logs to stderr (``verbose``) or to Python logging (otherwise)."""
    global _callback
    import llama_cpp
    from llama_cpp import _logger as llama_logger

    with _lock:
        if verbose:
            llama_cpp.llama_log_set(llama_logger.llama_log_callback, ctypes.c_void_p(0))
            llama_logger.set_verbose(True)
            return
        if _callback is None:
            _callback = llama_cpp.llama_log_callback(_forward)
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        llama_logger.set_verbose(False)


def _forward(level: int, text: bytes, user_data: Any) -> None:
    global _last_level
    python_level = _LEVELS.get(level, _last_level)
    _last_level = python_level
    if logger.isEnabledFor(python_level):
        message = text.decode("utf-8", errors="replace").rstrip("\n")
        if message:
            logger.log(python_level, "%s", message)
