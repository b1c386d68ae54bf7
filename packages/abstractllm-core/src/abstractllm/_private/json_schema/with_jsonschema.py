"""Checking with the ``jsonschema`` package, where it is importable and can check the whole schema.

``jsonschema`` checks in the schema's declared draft (2020-12 by default), with three changes so
that both paths give one answer: ``multipleOf`` is exact, ``pattern`` runs ECMA-262 patterns through
:mod:`~abstractllm._private.json_schema.patterns`, and the formats of
:mod:`~abstractllm._private.json_schema.formats` are checked by core's own rules. It is not
used (:func:`jsonschema_errors` returns None and the built-in checker answers, reporting what it
cannot check) when the schema holds a pattern that cannot be compiled, a ``patternProperties``
name that Python's ``re`` would read differently (``jsonschema`` matches those itself), a
format of the specification that neither knows, or when ``jsonschema`` fails on the schema (a
``$ref`` to a document the schema does not hold, a draft it does not know).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from abstractllm._private.json_schema.assertions import is_multiple, json_type
from abstractllm._private.json_schema.formats import FORMATS, SPEC_FORMATS
from abstractllm._private.json_schema.patterns import compile_pattern, translate

__all__ = ["jsonschema_errors"]

logger = logging.getLogger(__name__)
_extended: dict[type, tuple[type, Any]] = {}


def jsonschema_errors(value: Any, schema: Any) -> list[str] | None:
    """The errors ``jsonschema`` finds in ``value``, or None when it is not installed or cannot
    check all of ``schema`` (see the module's doc)."""
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        return None
    try:
        base_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator_class, format_checker = _extend(jsonschema, base_class)
        if not _fully_checkable(schema, set(format_checker.checkers)):
            return None
        validator = validator_class(schema, format_checker=format_checker)
        found = sorted(validator.iter_errors(value), key=lambda error: [str(part) for part in error.absolute_path])
    except Exception as exc:  # a schema jsonschema cannot read (remote $ref, bad draft, ...): the built-in answers
        logger.info("jsonschema could not check this schema (%s: %s); using the built-in checker", type(exc).__name__, exc)
        return None
    return [f"{error.json_path}: {_message(error)}" for error in found]


def _extend(jsonschema: Any, base_class: type) -> tuple[type, Any]:
    """``base_class`` with core's ``pattern`` and exact ``multipleOf``, and a format checker with core's formats (cached)."""
    if base_class not in _extended:

        def pattern(validator: Any, expected: str, instance: Any, schema: Any) -> Any:
            compiled = compile_pattern(expected)
            if validator.is_type(instance, "string") and compiled is not None and not compiled.search(instance):
                yield jsonschema.ValidationError(f"{instance!r} does not match {expected!r}")

        def multiple_of(validator: Any, step: float, instance: Any, schema: Any) -> Any:
            if validator.is_type(instance, "number") and not is_multiple(instance, step):
                yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {step}")

        extended = jsonschema.validators.extend(base_class, {"pattern": pattern, "multipleOf": multiple_of})
        format_checker = jsonschema.FormatChecker(formats=())
        format_checker.checkers = dict(base_class.FORMAT_CHECKER.checkers)  # type: ignore[attr-defined]
        for name, check in FORMATS.items():
            format_checker.checks(name)(check)
        _extended[base_class] = (extended, format_checker)
    return _extended[base_class]


def _fully_checkable(schema: Any, formats: set[str]) -> bool:
    """Whether every pattern and format of ``schema`` is one the extended ``jsonschema`` checks."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        if isinstance(node.get("pattern"), str) and compile_pattern(node["pattern"]) is None:
            return False
        if isinstance(node.get("patternProperties"), dict) and any(translate(name) != name for name in node["patternProperties"]):
            return False
        if node.get("format") in SPEC_FORMATS and node["format"] not in formats:
            return False
    return True


def _message(error: Any) -> str:
    """jsonschema's error in the built-in checker's words where they exist (the same text either way)."""
    keyword, limit, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        names = limit if isinstance(limit, list) else [limit]
        return f"expected {' or '.join(names)}, got {json_type(value)}"
    if keyword == "additionalProperties" and isinstance(value, dict):
        known = error.schema.get("properties", {})
        extra = [name for name in value if name not in known]
        return "; ".join(f"unexpected property {name!r}" for name in extra) or str(error.message)
    if keyword == "required" and isinstance(value, dict):
        missing = [name for name in limit if name not in value and str(error.message).startswith(repr(name))]
        return f"missing required property {missing[0]!r}" if missing else str(error.message)
    if keyword == "const":
        return f"must be {limit!r}"
    words = {
        "minimum": "less than {}",
        "maximum": "greater than {}",
        "minItems": "fewer than {} items",
        "maxItems": "more than {} items",
        "minLength": "shorter than {}",
        "maxLength": "longer than {}",
    }
    if keyword in words:
        return words[keyword].format(limit)
    return str(error.message)
