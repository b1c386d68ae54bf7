"""The keywords that judge one value alone: ``type``, ``enum``, ``const``, the number bounds and
``multipleOf``, the string lengths, ``pattern`` and ``format``.

Equality is JSON's: ``true`` is not ``1``, ``1`` equals ``1.0``, arrays and objects compare item
by item. ``multipleOf`` is exact: each number is read as the decimal it was written as
(``0.0075`` is 75/10000, not the binary float nearest to it), so ``1e308`` neither overflows nor
passes for a multiple it is not.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from abstractllm._private.json_schema.formats import FORMATS, SPEC_FORMATS
from abstractllm._private.json_schema.outcome import Outcome
from abstractllm._private.json_schema.patterns import search

__all__ = ["JSON_TYPES", "is_multiple", "is_type", "json_equal", "json_type", "value_errors"]

JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def is_type(value: Any, name: str) -> bool:
    """Whether ``value`` (as ``json.loads`` returns it) is of JSON type ``name`` (``1.0`` is an integer)."""
    if isinstance(value, bool):
        return name == "boolean"
    if isinstance(value, int):
        return name in ("integer", "number")
    if isinstance(value, float):
        return name == "number" or (name == "integer" and value.is_integer())
    kinds = {"string": str, "object": dict, "array": list}
    return isinstance(value, kinds[name]) if name in kinds else (name == "null" and value is None)


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: booleans are not numbers, ``1 == 1.0``, containers compare deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    return type(left) is type(right) and left == right


def value_errors(value: Any, schema: dict[str, Any], path: str) -> Outcome:
    """What ``type``, ``enum``, ``const`` and the keywords for ``value``'s own type find."""
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(isinstance(name, str) and is_type(value, name) for name in names):
            return Outcome([f"{path}: expected {' or '.join(map(str, names))}, got {json_type(value)}"])
    out = Outcome()
    if isinstance(schema.get("enum"), list) and not any(json_equal(value, option) for option in schema["enum"]):
        out.errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and not json_equal(value, schema["const"]):
        out.errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, str):
        _string(value, schema, path, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _number(value, schema, path, out)
    return out


def json_type(value: Any) -> str:
    """The JSON type of ``value`` by its widest name (``number`` for ``1``), for messages."""
    return next((name for name in JSON_TYPES if name != "integer" and is_type(value, name)), type(value).__name__)


def _is_number(bound: Any) -> bool:
    return isinstance(bound, (int, float)) and not isinstance(bound, bool)


def _string(value: str, schema: dict[str, Any], path: str, out: Outcome) -> None:
    if _is_number(schema.get("minLength")) and len(value) < schema["minLength"]:
        out.errors.append(f"{path}: shorter than {schema['minLength']}")
    if _is_number(schema.get("maxLength")) and len(value) > schema["maxLength"]:
        out.errors.append(f"{path}: longer than {schema['maxLength']}")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        found = search(pattern, value)
        if found is None:
            out.unknown.add("pattern")
        elif not found:
            out.errors.append(f"{path}: does not match the pattern {pattern!r}")
    name = schema.get("format")
    if isinstance(name, str) and name in FORMATS:
        if not FORMATS[name](value):
            out.errors.append(f"{path}: {value!r} is not a valid {name}")
    elif name in SPEC_FORMATS:
        out.unknown.add("format")


def _number(value: float, schema: dict[str, Any], path: str, out: Outcome) -> None:
    checks = (
        ("minimum", lambda bound: value < bound, "less than {}"),
        ("maximum", lambda bound: value > bound, "greater than {}"),
        ("exclusiveMinimum", lambda bound: value <= bound, "not greater than {}"),
        ("exclusiveMaximum", lambda bound: value >= bound, "not less than {}"),
    )
    for keyword, breaks, words in checks:
        if _is_number(schema.get(keyword)) and breaks(schema[keyword]):
            out.errors.append(f"{path}: {words.format(schema[keyword])}")
    step: Any = schema.get("multipleOf")
    if _is_number(step) and step > 0 and math.isfinite(step) and not is_multiple(value, step):
        out.errors.append(f"{path}: not a multiple of {step}")


def is_multiple(value: float, step: float) -> bool:
    """Whether ``value`` is an integer times ``step`` (> 0), both read as written, exactly."""
    return math.isfinite(value) and _exact(value) % _exact(step) == 0


def _exact(number: float) -> Fraction:
    """``number`` as the decimal it was written as (a float's shortest repr), exactly."""
    return Fraction(number) if isinstance(number, int) else Fraction(Decimal(repr(number)))
