"""An option a backend declares (``BackendInfo.load_options`` and ``generation_options``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "Option"]

#: A check: returns the normalised value or raises ``ValueError`` saying what is allowed.
Check = Callable[[Any], Any]


@dataclass(frozen=True)
class Option:
    """One parameter: its ``name``, ``default``, a ``check`` that returns the normalised
    value or raises ``ValueError`` saying what is allowed, and a one-line ``doc``.
    ``secret`` options are masked wherever configuration is shown. ``env`` names
    environment variables read, in order, for the default.
    """

    name: str
    default: Any
    check: Check
    doc: str
    secret: bool = False
    env: tuple[str, ...] = ()
