"""Structured output: the ``response_format`` a caller asks for, normalised."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from abstractllm._private.json_schema import require_usable_schema, schema_errors
from abstractllm.backend.request import ResponseFormat
from abstractllm.errors import InvalidArgumentError, OutputParsingError

__all__ = ["ResponseFormat", "json_error_text", "normalize_response_format", "parse_structured"]


def normalize_response_format(value: Any) -> ResponseFormat | None:
    """Accept OpenAI's ``{"type": "json_object"}`` / ``{"type": "json_schema", "json_schema": {...}}``,
    ``{"type": "text"}``, or a class with ``model_json_schema()`` (e.g. a pydantic model).
    """
    normalized = _response_format(value)
    if normalized is not None and normalized.schema is not None:
        require_usable_schema(normalized.schema, what="response_format's schema", parameter="response_format")
    return normalized


def _response_format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    if hasattr(value, "model_json_schema"):
        schema = value.model_json_schema()
        return ResponseFormat("json_schema", dict(schema), name=getattr(value, "__name__", "response"))
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "text":
            return None
        if kind == "json_object":
            schema = value.get("schema")
            return ResponseFormat("json_object", dict(schema) if isinstance(schema, Mapping) else None)
        if kind == "json_schema":
            spec = value.get("json_schema")
            if isinstance(spec, Mapping) and isinstance(spec.get("schema"), Mapping):
                return ResponseFormat("json_schema", dict(spec["schema"]), name=str(spec.get("name") or "response"))
    raise InvalidArgumentError(
        "response_format must be {'type': 'json_object'}, {'type': 'json_schema', 'json_schema': "
        "{'name': ..., 'schema': {...}}} or a class with model_json_schema()",
        parameter="response_format",
        value=value if isinstance(value, Mapping) else type(value).__name__,
        allowed="json_object, json_schema or a pydantic model class",
    )


def parse_structured(text: str, response_format: ResponseFormat, finish_reason: str | None) -> Any:
    """The reply parsed as JSON and checked against the schema.

    Raises ``OutputParsingError`` when the reply was cut by ``max_tokens``, is not JSON (or
    nests too deep for ``json.loads``), or breaks the schema (checked by :mod:`abstractllm._private.json_schema`).
    """
    if finish_reason == "length":
        raise OutputParsingError("the structured reply was cut off by max_tokens (finish_reason 'length'); raise max_tokens")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputParsingError(f"the reply is not valid JSON: {json_error_text(exc)}", original_exception=exc) from exc
    except RecursionError as exc:  # json.loads follows nesting on the stack: a reply too deep is refused, not a crash
        raise OutputParsingError("the reply is JSON nested too deep to parse", original_exception=exc) from exc
    problems = schema_errors(value, response_format.json_schema())
    if problems:
        raise OutputParsingError("the reply does not match the schema: " + "; ".join(problems[:5]))
    return value


def json_error_text(exc: json.JSONDecodeError) -> str:
    """``exc`` in words: its problem and where (``json`` ends some messages with "at" already)."""
    return f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno} (character {exc.pos})"
