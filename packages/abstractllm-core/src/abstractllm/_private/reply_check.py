"""The last line of defence of structured output: a finished reply the schema rejects is an error.

Constrained decoding (local modes) and the server (api/endpoint) should only ever finish a
``response_format`` reply that is valid JSON of the schema. If one ever does not, core must not
hand it over as a success: :func:`require_valid_reply` runs on every finished structured reply
(``finish_reason`` other than ``"length"`` and ``"tool_calls"``) in
``abstractllm._private.llm`` (``_response`` for a whole reply, ``_stream``/``_stream_async`` before
the last chunk of a stream) and raises ``OutputParsingError`` with the text in
``details["text"]``. A number the JSON text writes beyond a double's range (``1E400``, read as
infinity) counts as invalid: JSON has no infinity.
"""

from __future__ import annotations

import json
import math
from typing import Any

from abstractllm._private.json_schema import schema_errors
from abstractllm._private.structured import ResponseFormat, json_error_text
from abstractllm.errors import OutputParsingError

__all__ = ["StreamedReplyCheck", "require_valid_reply"]

_NOT_FINISHED = ("length", "tool_calls")


def require_valid_reply(text: str, response_format: ResponseFormat | None, finish_reason: str | None) -> None:
    """Raise ``OutputParsingError`` when a finished reply to ``response_format`` is not valid JSON of its schema."""
    if response_format is None or finish_reason in _NOT_FINISHED or finish_reason is None:
        return
    problem = _problem(text, response_format.json_schema())
    if problem is not None:
        raise OutputParsingError(
            f"the reply finished ({finish_reason!r}) but {problem}; it is reported as an error rather than returned "
            "as a success (the reply's text is in details['text'])",
            details={"text": text, "finish_reason": finish_reason},
        )


def _problem(text: str, schema: dict[str, Any]) -> str | None:
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return f"it is not valid JSON: {json_error_text(exc)}"
    except ValueError as exc:
        return str(exc)
    except RecursionError:
        return "it is nested too deep to read"
    problems = schema_errors(value, schema)
    return "it breaks the schema: " + "; ".join(problems[:5]) if problems else None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"it holds the number {text[:40]!r}, beyond a double's range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"it holds {name}, which is not JSON")


class StreamedReplyCheck:
    """:func:`require_valid_reply` for a stream: fed every delta, it checks the joined text at the finishing one."""

    def __init__(self, response_format: ResponseFormat | None) -> None:
        self._format = response_format
        self._parts: list[str] = []

    def feed(self, text: str, finish_reason: str | None) -> None:
        """Take one delta; raises ``OutputParsingError`` when it finishes a reply the schema rejects."""
        if self._format is None:
            return
        self._parts.append(text)
        if finish_reason is not None:
            require_valid_reply("".join(self._parts), self._format, finish_reason)
