"""A schema made safe to decode: numbers that cannot run away, no-op keywords dropped.

Constrained decoding must end. Strings and arrays end when the model closes them (or at
``max_tokens``); numbers are bounded here: a number or integer subschema without a lower or
upper bound gets one, ``±(10**15 - 1)`` (so at most 15 digits before the point), unless the
other bound is already past it (then the new bound is ten times further). A bounded number
is compiled without an exponent, so no reply holds ``4.4E4444444444444444`` (which Python
reads as infinity). The bounds are narrower than JSON Schema's (a valid value above 10**15
cannot be produced), never wider: every reply still satisfies the caller's schema.

Dates and times are written as patterns the strictest checkers accept (``jsonschema``'s ``date``
rejects year 0000 and 29 February of a common year, which a plain ``[0-9]{4}-..`` admits): a
``string`` with ``format`` ``date``, ``date-time`` or ``time`` and no ``pattern`` gets
:data:`FORMAT_PATTERNS`' pattern instead of its ``format`` (seconds 00-59, at most 9 fraction digits).

An object schema that lists ``properties``, requires only those, and says nothing about other
properties (no ``additionalProperties``, ``patternProperties``, ``minProperties``, combinator or
``$ref``) is closed while decoding: ``additionalProperties: false``, as llama.cpp's and xgrammar's
converters do, so a model cannot add key after key until ``max_tokens``. A schema that may be
intersected with another (an ``allOf``/``anyOf``/``oneOf`` branch, a ``$defs`` entry) is left open.

Where a closable schema allows any value (``true``, ``{}``, an ``object`` that says nothing of its
properties such as ``json_object``'s ``{"type": "object"}``, an ``array`` without ``items``), it
gets a reference to a definition of any JSON value whose numbers are bounded the same way
(added to the root's ``$defs``; not done for a schema with an ``$id``, whose references resolve
elsewhere).

A ``format`` JSON Schema does not define (``semver``, ``url``, ...) is an annotation: no validator
checks it, so it is dropped rather than refused. ``uniqueItems: false`` (a keyword that allows
everything) is dropped too.
The caller's schema is never changed; :func:`bounded_schema` returns a new one.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["FORMAT_PATTERNS", "NUMBER_BOUND", "SPEC_FORMATS", "bounded_schema"]

NUMBER_BOUND = 10**15 - 1  # exactly representable as a double, as the compiler reads bounds

_YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_MONTH_DAY = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:[zZ]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#: The formats JSON Schema (2020-12) defines; any other ``format`` is an annotation.
SPEC_FORMATS = frozenset(
    {
        *("date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6"),
        *("uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer"),
        *("relative-json-pointer", "regex"),
    }
)
#: The pattern that replaces each of these formats while decoding.
FORMAT_PATTERNS = {"date": f"^{_DATE}$", "date-time": f"^{_DATE}[tT]{_TIME}$", "time": f"^{_TIME}$"}

_VALUE = "abstractllm-json-value"
_VALUE_REF = {"$ref": f"#/$defs/{_VALUE}"}
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_OPENING = ("additionalProperties", "patternProperties", "unevaluatedProperties", "minProperties", "maxProperties")
_COMBINING = ("allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "not", "if", "then", "else", "dependentSchemas", "dependencies")
_SCHEMA_ONES = (
    *("additionalProperties", "additionalItems", "not", "if", "then", "else", "contains"),
    *("propertyNames", "unevaluatedProperties", "unevaluatedItems"),
)


def bounded_schema(schema: Any, *, free_values: bool = True) -> Any:
    """``schema`` made safe to decode, as the module says (a new object; ``schema`` is not changed).

    ``free_values=False`` leaves values the schema allows anything for to JSON's own grammar.
    """
    if not isinstance(schema, dict):
        return schema
    free = None if not free_values or "$id" in schema or "id" in schema or _VALUE in schema.get("$defs", {}) else _VALUE_REF
    out = _bound(schema, closable=True, free=free)
    if free is not None and _VALUE_REF["$ref"] in json.dumps(out):
        out["$defs"] = {**out.get("$defs", {}), _VALUE: _bounded_value()}
    return out


def _bound(schema: Any, *, closable: bool, free: dict[str, str] | None) -> Any:
    """One subschema. ``closable`` is False for a schema that may be intersected with another (a branch
    of ``allOf``/``anyOf``/``oneOf``, a ``$defs`` entry, a ``dependentSchemas`` value) and for everything
    inside one: none of it is closed or narrowed. ``free``, where given, is the reference to
    :func:`_bounded_value` that stands for "any JSON value" in a closable place."""
    if schema is True or (isinstance(schema, dict) and not set(schema) - _ANNOTATIONS):
        return dict(free) if closable and free is not None else schema
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "uniqueItems" and value is False) or (key == "format" and value not in SPEC_FORMATS):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            inner = closable and key == "properties"
            out[key] = {name: _bound(sub, closable=inner, free=free) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_bound(sub, closable=closable and key == "prefixItems", free=free) for sub in value]
        elif key == "items" and isinstance(value, list):
            out[key] = [_bound(sub, closable=closable, free=free) for sub in value]
        elif key == "items" or key in _SCHEMA_ONES:
            inner = closable and key in ("items", "additionalProperties", "additionalItems")
            out[key] = _bound(value, closable=inner, free=free)
        else:
            out[key] = value
    if _is_numeric(out.get("type")):
        _add_bounds(out)
    if out.get("format") in FORMAT_PATTERNS and "pattern" not in out:
        out["pattern"] = FORMAT_PATTERNS[out.pop("format")]
    if closable and _closable(out):
        out["additionalProperties"] = False
    elif closable and free is not None and not any(key in out for key in (*_OPENING, *_COMBINING, "properties")):
        if out.get("type") == "object":
            out["additionalProperties"] = dict(free)
        elif out.get("type") == "array" and "items" not in out and "prefixItems" not in out:
            out["items"] = dict(free)
    return out


def _bounded_value() -> dict[str, Any]:
    """Any JSON value, with its numbers bounded (no exponent) like every other number."""
    number = {"type": "number", "minimum": -NUMBER_BOUND, "maximum": NUMBER_BOUND}
    return {
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            number,
            {"type": "string"},
            {"type": "array", "items": dict(_VALUE_REF)},
            {"type": "object", "additionalProperties": dict(_VALUE_REF)},
        ]
    }


def _closable(schema: dict[str, Any]) -> bool:
    """An object schema that lists its properties, says nothing of others, and is combined with nothing."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return False
    if any(key in schema for key in (*_OPENING, *_COMBINING)):
        return False
    required = schema.get("required", [])
    return isinstance(required, list) and all(name in properties for name in required)


def _is_numeric(declared: Any) -> bool:
    names = declared if isinstance(declared, list) else [declared]
    return any(name in ("integer", "number") for name in names)


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _add_bounds(schema: dict[str, Any]) -> None:
    """Give ``schema`` a lower and an upper bound where it lacks one (draft 4's boolean exclusive forms included)."""
    lower = _number(schema.get("minimum"))
    if lower is None:
        lower = _number(schema.get("exclusiveMinimum"))
    upper = _number(schema.get("maximum"))
    if upper is None:
        upper = _number(schema.get("exclusiveMaximum"))
    if lower is None:
        schema["minimum"] = -max(NUMBER_BOUND, _further(upper))
    if upper is None:
        schema["maximum"] = max(NUMBER_BOUND, _further(lower))


def _further(bound: float | None) -> int:
    """A bound ten times past ``bound`` (0 when there is none), so a range never ends up empty."""
    return 0 if bound is None else int(abs(bound) * 10) + 1
