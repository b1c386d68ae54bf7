"""Checking JSON values against a JSON Schema: tool arguments and structured replies.

With the ``jsonschema`` package importable (the backends' ``validation`` extra installs
it), values are checked by it, in the schema's declared draft (default 2020-12), with
its format checker. Without it core checks a built-in subset: ``type``, ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties``, ``minProperties`` /
``maxProperties``, ``items``, ``prefixItems``, ``minItems``/``maxItems``,
``uniqueItems``, ``minLength``/``maxLength``, ``pattern``, ``minimum``/``maximum``,
``exclusiveMinimum``/``exclusiveMaximum``, ``multipleOf``, ``anyOf``/``oneOf``/``allOf``
and local ``$ref`` into ``$defs``/``definitions`` (annotations such as ``title`` need no
check). Any other keyword the schema uses (``format``, ``not``, ``if``, ...) is listed
in :attr:`SchemaCheck.unchecked` and logged as a warning, never silently passed.

:func:`schema_defects` checks a schema itself, before any model runs: a keyword of the
subset above whose value has the wrong shape (``{"type": 5}``) makes the schema unusable.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from abstractllm.errors import InvalidArgumentError

__all__ = ["SchemaCheck", "check_json", "require_usable_schema", "schema_defects", "schema_errors"]

logger = logging.getLogger(__name__)

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_CHECKED = frozenset(
    {
        *("type", "enum", "const", "$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf"),
        *("properties", "required", "additionalProperties", "minProperties", "maxProperties"),
        *("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern"),
        *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    }
)
_ANNOTATIONS = frozenset(
    {
        *("title", "description", "default", "examples", "$schema", "$id", "$comment"),
        *("deprecated", "readOnly", "writeOnly", "contentMediaType"),
    }
)
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_warned: set[frozenset[str]] = set()


@dataclass(frozen=True)
class SchemaCheck:
    """``errors`` (``"<path>: <problem>"``, empty when valid) and the schema keywords that were ``unchecked``."""

    errors: list[str]
    unchecked: frozenset[str] = field(default_factory=frozenset)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``; empty when valid (unchecked keywords are logged)."""
    return check_json(value, schema).errors


def check_json(value: Any, schema: dict[str, Any]) -> SchemaCheck:
    """Check ``value`` against ``schema`` with ``jsonschema`` when importable, else the built-in subset."""
    errors = _jsonschema_errors(value, schema)
    if errors is not None:
        return SchemaCheck(errors)
    unchecked = frozenset(_unchecked_keywords(schema))
    if unchecked and unchecked not in _warned:
        _warned.add(unchecked)
        logger.warning("JSON schema keywords not checked (install jsonschema to check them): %s", ", ".join(sorted(unchecked)))
    return SchemaCheck(_subset_errors(value, schema, schema, "$"), unchecked)


def _jsonschema_errors(value: Any, schema: dict[str, Any]) -> list[str] | None:
    """The errors ``jsonschema`` finds, or None when it is not installed or cannot read the schema."""
    try:
        import jsonschema
    except ImportError:
        return None
    try:
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
        found = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    except Exception as exc:  # a schema jsonschema cannot read (bad draft, remote $ref, ...): use the subset
        logger.warning("jsonschema could not check this schema (%s); using the built-in subset", exc)
        return None
    return [f"{error.json_path}: {_message(error)}" for error in found]


def _message(error: Any) -> str:
    """jsonschema's error in the built-in checker's words where they exist (the same text either way)."""
    keyword, limit, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        names = limit if isinstance(limit, list) else [limit]
        return f"expected {' or '.join(names)}, got {type(value).__name__}"
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


def _unchecked_keywords(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    for key, item in schema.items():
        if key not in _CHECKED and key not in _ANNOTATIONS:
            yield key
        elif key in _SUBSCHEMA_MAPS and isinstance(item, dict):
            for child in item.values():
                yield from _unchecked_keywords(child)
        elif key in _SUBSCHEMA_LISTS and isinstance(item, list):
            for child in item:
                yield from _unchecked_keywords(child)
        elif key in ("items", "additionalProperties"):
            yield from _unchecked_keywords(item)


def _subset_errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    if "$ref" in schema:
        return _subset_errors(value, _resolve(schema["$ref"], root), root, path)
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is_type(value, name) for name in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    errors.extend(_combinator_errors(value, schema, root, path))
    if isinstance(value, dict):
        errors.extend(_object_errors(value, schema, root, path))
    elif isinstance(value, list):
        errors.extend(_array_errors(value, schema, root, path))
    elif isinstance(value, str):
        errors.extend(_string_errors(value, schema, path))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        errors.extend(_number_errors(value, schema, path))
    return errors


def _combinator_errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    errors = []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = [option for option in schema[key] if not _subset_errors(value, option, root, path)]
            if not matches or (key == "oneOf" and len(matches) > 1):
                errors.append(f"{path}: does not match {'exactly one' if key == 'oneOf' else 'any'} of the allowed schemas")
    for option in schema.get("allOf", []):
        errors.extend(_subset_errors(value, option, root, path))
    return errors


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _object_errors(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(f"{path}: fewer than {schema['minProperties']} properties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(f"{path}: more than {schema['maxProperties']} properties")
    additional = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors.extend(_subset_errors(item, properties[name], root, f"{path}.{name}"))
        elif additional is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(additional, dict):
            errors.extend(_subset_errors(item, additional, root, f"{path}.{name}"))
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    errors: list[str] = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and any(value[i] in value[:i] for i in range(len(value))):
        errors.append(f"{path}: items are not unique")
    prefix: list[Any] = schema.get("prefixItems", [])
    for index, (item, item_schema) in enumerate(zip(value, prefix, strict=False)):
        errors.extend(_subset_errors(item, item_schema, root, f"{path}[{index}]"))
    items = schema.get("items")
    for index, item in enumerate(value[len(prefix) :], start=len(prefix)):
        if items is False:
            errors.append(f"{path}: no items allowed after the first {len(prefix)}")
            break
        if isinstance(items, dict):
            errors.extend(_subset_errors(item, items, root, f"{path}[{index}]"))
    return errors


def _string_errors(value: str, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        errors.append(f"{path}: does not match the pattern {schema['pattern']!r}")
    return errors


def _number_errors(value: float, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: less than {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: greater than {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errors.append(f"{path}: not greater than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        errors.append(f"{path}: not less than {schema['exclusiveMaximum']}")
    step = schema.get("multipleOf")
    if step and not math.isclose(value / step, round(value / step)):
        errors.append(f"{path}: not a multiple of {step}")
    return errors


def _resolve(reference: str, root: dict[str, Any]) -> dict[str, Any]:
    if not reference.startswith("#/"):
        return {}
    node: Any = root
    for part in reference[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def require_usable_schema(schema: Any, *, what: str, parameter: str) -> None:
    """Raise ``InvalidArgumentError`` (``parameter``) naming the first of :func:`schema_defects` and how many
    more there are; ``what`` says whose schema it is (``"response_format's schema"``)."""
    defects = schema_defects(schema)
    if defects:
        more = f" (and {len(defects) - 1} more)" if len(defects) > 1 else ""
        raise InvalidArgumentError(
            f"{what} is not a usable JSON Schema: {defects[0]}{more}; fix the schema",
            parameter=parameter,
            value=defects[0],
            allowed="a JSON Schema object",
        )


_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def schema_defects(schema: Any, path: str = "$") -> list[str]:
    """What makes ``schema`` unusable, each as ``"<path>.<keyword>: <problem>"``; empty when
    every keyword of the checked subset has a value of the right shape (a JSON Schema is an
    object; a subschema may also be ``true`` or ``false``)."""
    if isinstance(schema, bool) and path != "$":
        return []
    if not isinstance(schema, dict):
        return [f"{path}: a schema is an object, not {type(schema).__name__}"]
    defects: list[str] = []
    for keyword, value in schema.items():
        where = f"{path}.{keyword}"
        defects += _keyword_defects(keyword, value, where)
    return defects


def _keyword_defects(keyword: str, value: Any, where: str) -> list[str]:
    if keyword == "type":
        names = value if isinstance(value, list) and value else [value]
        wrong = [name for name in names if not isinstance(name, str) or name not in _TYPES]
        return [f"{where}: {wrong[0]!r} is not a JSON type; use one of {', '.join(sorted(_TYPES))}"] if wrong else []
    if keyword in _SUBSCHEMA_MAPS:
        if not isinstance(value, dict):
            return [f"{where}: must be an object of name to schema"]
        return [defect for name, sub in value.items() for defect in schema_defects(sub, f"{where}.{name}")]
    if keyword in _SUBSCHEMA_LISTS:
        if not isinstance(value, list) or not value:
            return [f"{where}: must be a non-empty list of schemas"]
        return [defect for index, sub in enumerate(value) for defect in schema_defects(sub, f"{where}[{index}]")]
    if keyword == "items" and isinstance(value, list):  # the tuple form of drafts before 2020-12
        return [defect for index, sub in enumerate(value) for defect in schema_defects(sub, f"{where}[{index}]")]
    if keyword in ("items", "additionalProperties", "not"):
        return schema_defects(value, where) if not isinstance(value, bool) else []
    if keyword == "required":
        ok = isinstance(value, list) and all(isinstance(name, str) for name in value)
        return [] if ok else [f"{where}: must be a list of property names"]
    if keyword == "enum":
        return [] if isinstance(value, list) else [f"{where}: must be a list of the allowed values"]
    if keyword in _COUNTS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return [] if ok else [f"{where}: must be an integer >= 0"]
    if keyword in _BOUNDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (keyword != "multipleOf" or value > 0)
        return [] if ok else [f"{where}: must be a finite number" + (" > 0" if keyword == "multipleOf" else "")]
    if keyword in ("pattern", "$ref"):
        return [] if isinstance(value, str) else [f"{where}: must be a string"]
    if keyword == "uniqueItems":
        return [] if isinstance(value, bool) else [f"{where}: must be true or false"]
    return []
