"""JSON Schema patterns are ECMA-262 regular expressions: translated to Python's before they run.

ECMA-262 and Python disagree on ``\\d``, ``\\w``, ``\\b``, ``\\s`` (ASCII, ASCII, ASCII and a fixed
list of spaces in ECMA-262; any Unicode digit, letter or space in Python), ``.`` (no line terminator),
``$`` (only the end, never before a last newline), ``\\cX`` and ``(?<name>...)``; Python's
``re`` has no ``\\p{...}``. :func:`compile_pattern` translates those, and compiles with the
``regex`` module where it is installed (it knows ``\\p{Letter}``), else with ``re``. A pattern
it cannot translate or compile gives None: the caller reports the keyword as unchecked, and
never raises.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

__all__ = ["compile_pattern", "search", "translate"]

#: ECMA-262's WhiteSpace and LineTerminator code points, as a character-class body.
_SPACES = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_DIGITS = "0-9"
_WORD = "A-Za-z0-9_"
#: Escapes whose ECMA-262 meaning differs from Python's: (outside a class, inside a class or None
#: when a class cannot hold it without set operations).
_CLASS_ESCAPES: dict[str, tuple[str, str | None]] = {
    "d": (f"[{_DIGITS}]", _DIGITS),
    "D": (f"[^{_DIGITS}]", None),
    "w": (f"[{_WORD}]", _WORD),
    "W": (f"[^{_WORD}]", None),
    "s": (f"[{_SPACES}]", _SPACES),
    "S": (f"[^{_SPACES}]", None),
}
_DOT = "[^\\n\\r\\u2028\\u2029]"
_BOUNDARY = f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
_NOT_BOUNDARY = f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"


def translate(pattern: str) -> str | None:
    """``pattern`` (ECMA-262) in Python's syntax, or None when it uses what cannot be translated."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            piece, index = _escape(pattern, index + 1, in_class)
            if piece is None:
                return None
            out.append(piece)
            continue
        if in_class:
            out.append("\\[" if char == "[" else char)
            in_class = char != "]"
        elif char == "[":
            if pattern.startswith("[]", index) or pattern.startswith("[^]", index):
                out.append("(?!)" if pattern[index + 1] == "]" else "[\\s\\S]")  # ECMA: matches nothing / anything
                index += 2 if pattern[index + 1] == "]" else 3
                continue
            in_class = True
            out.append("[^" if pattern.startswith("[^", index) else "[")
            index += 1 if pattern.startswith("[^", index) else 0
        elif char == "$":
            out.append("\\Z")
        elif char == ".":
            out.append(_DOT)
        elif pattern.startswith("(?<", index) and pattern[index + 3 : index + 4] not in ("=", "!"):
            out.append("(?P<")
            index += 3
            continue
        else:
            out.append(char)
        index += 1
    return None if in_class else "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str | None, int]:
    """The translation of the escape whose letter is at ``index``, and the index after it."""
    if index >= len(pattern):
        return None, index
    letter = pattern[index]
    if letter in _CLASS_ESCAPES:
        outside, inside = _CLASS_ESCAPES[letter]
        return (inside if in_class else outside), index + 1
    if letter in "bB" and not in_class:  # a word boundary of ASCII word characters
        return (_BOUNDARY if letter == "b" else _NOT_BOUNDARY), index + 1
    if letter == "c" and index + 1 < len(pattern) and pattern[index + 1].isascii() and pattern[index + 1].isalpha():
        return f"\\x{ord(pattern[index + 1]) % 32:02x}", index + 2
    if letter == "u" and pattern.startswith("{", index + 1):
        end = pattern.find("}", index)
        digits = pattern[index + 2 : end] if end > 0 else ""
        if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits) or int(digits, 16) > 0x10FFFF:
            return None, index
        return f"\\U{int(digits, 16):08x}", end + 1
    if letter == "k" and pattern.startswith("<", index + 1):
        end = pattern.find(">", index)
        return (None, index) if end < 0 else (f"(?P={pattern[index + 2 : end]})", end + 1)
    if letter in "pP" and not pattern.startswith("{", index + 1):
        return None, index
    return "\\" + letter, index + 1


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any | None:
    """``pattern`` compiled (a ``regex`` or ``re`` pattern object), or None when it cannot be."""
    translated = translate(pattern)
    if translated is None:
        return None
    try:
        engine: Any = importlib.import_module("regex")
    except ImportError:
        engine = re
    try:
        return engine.compile(translated)
    except Exception:  # re.error, regex.error, or a bad escape either module refuses: not checkable
        return None


def search(pattern: str, text: str) -> bool | None:
    """Whether ``pattern`` matches somewhere in ``text``; None when the pattern cannot be compiled."""
    compiled = compile_pattern(pattern)
    return None if compiled is None else compiled.search(text) is not None
