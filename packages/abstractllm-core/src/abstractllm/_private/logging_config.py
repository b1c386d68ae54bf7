"""``configure_logging``: the original library's switch for AbstractLLM's log output."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

__all__ = ["configure_logging"]

_HANDLER_MARK = "_abstractllm_handler"


def configure_logging(
    log_dir: str | None = None,
    log_level: int | None = None,
    provider_level: int | None = None,
    console_output: bool | None = None,
) -> None:
    """Configure the ``abstractllm`` logger.

    ``log_level`` (default INFO) applies to ``abstractllm``; ``provider_level`` to the
    backend loggers (``abstractllm.providers`` and the ``abstractllm_hf_*`` packages).
    With ``log_dir`` (default: ``ABSTRACTLLM_LOG_DIR``) a file
    ``abstractllm_YYYYmmdd_HHMMSS.log`` is written there. Console output (stderr) is on
    when ``console_output`` is True, or when it is None and no log directory is set.
    Calling it again replaces the handlers it added before.
    """
    log_dir = log_dir or os.environ.get("ABSTRACTLLM_LOG_DIR")
    level = logging.INFO if log_level is None else log_level
    logger = logging.getLogger("abstractllm")
    logger.setLevel(level)
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if console_output or (console_output is None and not log_dir):
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(Path(log_dir) / time.strftime("abstractllm_%Y%m%d_%H%M%S.log")))
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    if provider_level is not None:
        for name in ("abstractllm.providers", "abstractllm_hf_pipeline", "abstractllm_hf_gguf", "abstractllm_hf_api"):
            logging.getLogger(name).setLevel(provider_level)
