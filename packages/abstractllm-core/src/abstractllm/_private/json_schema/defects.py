"""Whether a schema can be used at all, decided before any model runs or any request is sent.

A schema is refused (:func:`require_usable_schema` raises ``InvalidArgumentError``) when:

- it nests deeper than :data:`MAX_SCHEMA_DEPTH` levels (objects and lists): deeper schemas are
  written with ``$defs`` and ``$ref``, and a limit keeps every checker and grammar builder clear
  of ``RecursionError``;
- a keyword's value has the wrong shape (``{"type": 5}``, ``{"required": "a"}``,
  ``{"maxItems": -1}``; a count written as ``2.0`` is an integer, as JSON Schema says);
- a ``$ref`` into the schema itself points at nothing (``#/$defs/missing``); a reference to
  another document is left to the checker, which reports it as unchecked;
- a ``$ref`` cycle never leaves the value it started on: following ``$ref``, ``allOf``,
  ``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else`` or ``dependentSchemas`` leads back to
  the same schema (``{"$defs": {"a": {"$ref": "#/$defs/a"}}, ...}``), so checking it, or
  turning it into a grammar, could never end. A recursive schema whose cycle goes through a
  property or an item (a tree: ``{"properties": {"children": {"items": {"$ref": "#"}}}}``)
  is accepted: each turn goes one level into the value, and the value is finite.
"""

from __future__ import annotations

import math
from typing import Any

from abstractllm._private.json_schema.assertions import JSON_TYPES
from abstractllm._private.json_schema.references import DEFAULT_BASE, MISSING, Registry, subschemas
from abstractllm.errors import InvalidArgumentError

__all__ = ["MAX_SCHEMA_DEPTH", "nests_too_deep", "require_usable_schema", "schema_defects"]

MAX_SCHEMA_DEPTH = 100

_ONE = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames")
_ONE_MORE = ("unevaluatedItems", "unevaluatedProperties")
_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains")
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_STRINGS = ("pattern", "$ref", "$dynamicRef", "$id", "$anchor", "$dynamicAnchor", "format")
#: The defects of the schemas judged last, by their repr (oldest first).
_recent: dict[str, tuple[str, ...]] = {}
#: Keywords that apply their subschemas to the very value the schema judges.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies")


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
            allowed=f"a JSON Schema object, nested at most {MAX_SCHEMA_DEPTH} levels deep",
        )


def nests_too_deep(value: Any, limit: int = MAX_SCHEMA_DEPTH) -> bool:
    """Whether ``value`` holds objects or lists more than ``limit`` levels deep (a container that
    holds itself does); found without recursion, so any depth is safe to ask about."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)) and child:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def schema_defects(schema: Any, path: str = "$") -> list[str]:
    """What makes ``schema`` unusable (see the module's doc), each as ``"<path>.<keyword>: <problem>"``;
    empty when it is usable. A JSON Schema is an object; a subschema may also be ``true`` or ``false``."""
    if nests_too_deep(schema):
        return [f"{path}: nested more than {MAX_SCHEMA_DEPTH} levels deep (the limit); move inner schemas to $defs"]
    if path != "$":
        return _defects(schema, path)
    key = repr(schema)  # a request reuses its schema: each call after the first costs a repr
    if key not in _recent:
        if len(_recent) >= 256:
            _recent.pop(next(iter(_recent), ""), None)
        _recent[key] = tuple(_defects(schema, path))
    return list(_recent[key])


def _defects(schema: Any, path: str) -> list[str]:
    defects = _shape(schema, path)
    if defects or path != "$":
        return defects
    registry = Registry(schema)
    nodes = _walk(registry)
    return _reference_defects(registry, nodes) + _cycles(registry, nodes)


def _shape(schema: Any, path: str) -> list[str]:
    if isinstance(schema, bool) and path != "$":
        return []
    if not isinstance(schema, dict):
        return [f"{path}: a schema is an object, not {type(schema).__name__}"]
    return [defect for keyword, value in schema.items() for defect in _keyword_defects(keyword, value, f"{path}.{keyword}")]


def _keyword_defects(keyword: str, value: Any, where: str) -> list[str]:
    if keyword == "type":
        names = value if isinstance(value, list) and value else [value]
        wrong = [name for name in names if not isinstance(name, str) or name not in JSON_TYPES]
        return [f"{where}: {wrong[0]!r} is not a JSON type; use one of {', '.join(sorted(JSON_TYPES))}"] if wrong else []
    if keyword in _MAPS:
        if not isinstance(value, dict):
            return [f"{where}: must be an object of name to schema"]
        return [defect for name, sub in value.items() for defect in _shape(sub, f"{where}.{name}")]
    if keyword in _LISTS or (keyword == "items" and isinstance(value, list)):  # items: the list form of old drafts
        if not isinstance(value, list) or (not value and keyword != "items"):
            return [f"{where}: must be a non-empty list of schemas"]
        return [defect for index, sub in enumerate(value) for defect in _shape(sub, f"{where}[{index}]")]
    if keyword in _ONE or keyword in _ONE_MORE:
        return _shape(value, where)
    if keyword in ("required", "dependentRequired", "dependencies"):
        return _name_list_defects(keyword, value, where)
    if keyword == "enum":
        return [] if isinstance(value, list) else [f"{where}: must be a list of the allowed values"]
    if keyword in _COUNTS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return [] if ok and value >= 0 and value == int(value) else [f"{where}: must be an integer >= 0"]
    if keyword in _BOUNDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (keyword != "multipleOf" or value > 0)
        return [] if ok else [f"{where}: must be a finite number" + (" > 0" if keyword == "multipleOf" else "")]
    if keyword in _STRINGS:
        return [] if isinstance(value, str) else [f"{where}: must be a string"]
    if keyword == "uniqueItems":
        return [] if isinstance(value, bool) else [f"{where}: must be true or false"]
    return []


def _name_list_defects(keyword: str, value: Any, where: str) -> list[str]:
    """``required`` (a list of names), ``dependentRequired`` (an object of such lists) and
    ``dependencies`` (an object of such lists or of schemas)."""

    def names(item: Any) -> bool:
        return isinstance(item, list) and all(isinstance(name, str) for name in item)

    if keyword == "required":
        return [] if names(value) else [f"{where}: must be a list of property names"]
    if not isinstance(value, dict):
        return [f"{where}: must be an object of property name to a list of property names"]
    defects = []
    for name, item in value.items():
        if keyword == "dependencies" and isinstance(item, (dict, bool)):
            defects += _shape(item, f"{where}.{name}")
        elif not names(item):
            defects.append(f"{where}.{name}: must be a list of property names")
    return defects


def _walk(registry: Registry) -> list[tuple[str, dict[str, Any]]]:
    """Every object subschema of the registry's root with its path (``$.properties.a``)."""
    found: list[tuple[str, dict[str, Any]]] = []
    stack: list[tuple[str, Any]] = [("$", registry.root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            found.append((path, node))
            stack.extend((f"{path}.{key.replace('/', '.')}", child) for key, child in subschemas(node))
    return found


def _reference_defects(registry: Registry, nodes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    defects = []
    for path, node in nodes:
        for keyword in ("$ref", "$dynamicRef"):
            if isinstance(node.get(keyword), str):
                target, _ = registry.resolve(node[keyword], registry.base_of(node, DEFAULT_BASE))
                if target is MISSING:
                    defects.append(f"{path}.{keyword}: {node[keyword]!r} points at nothing in the schema; fix the reference")
    return defects


def _in_place_targets(registry: Registry, node: dict[str, Any]) -> list[Any]:
    """The schemas ``node`` applies to its own value: its in-place subschemas and ``$ref`` targets."""
    targets = [child for key, child in subschemas(node) if key.split("/")[0] in _IN_PLACE]
    for keyword in ("$ref", "$dynamicRef"):
        if isinstance(node.get(keyword), str):
            targets.append(registry.resolve(node[keyword], registry.base_of(node, DEFAULT_BASE))[0])
    return [target for target in targets if isinstance(target, dict)]


def _cycles(registry: Registry, nodes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """One defect per in-place cycle found among ``nodes`` (depth-first, without recursion)."""
    paths = {id(node): path for path, node in reversed(nodes)}
    state: dict[int, str] = {}  # "open" while on the current chain, "done" after
    defects = []
    for _, start in nodes:
        if id(start) in state:
            continue
        chain: list[tuple[dict[str, Any], list[Any]]] = [(start, _in_place_targets(registry, start))]
        state[id(start)] = "open"
        while chain:
            node, pending = chain[-1]
            if not pending:
                state[id(node)] = "done"
                chain.pop()
                continue
            target = pending.pop()
            if state.get(id(target)) == "open":
                where = paths.get(id(target), "$")
                defects.append(
                    f"{where}: a $ref cycle applies this schema to the same value again without going into a"
                    " property or an item, so no value can ever be checked against it; break the cycle"
                )
            elif id(target) not in state:
                state[id(target)] = "open"
                chain.append((target, _in_place_targets(registry, target)))
    return defects
