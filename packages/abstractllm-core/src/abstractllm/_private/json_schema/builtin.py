"""The built-in checker: draft 2020-12 without ``jsonschema``, one value against one schema.

It checks every assertion and applicator keyword of draft 2020-12 (boolean schemas, ``$ref``
and ``$dynamicRef`` through ``$id``, ``$anchor`` and JSON pointers, ``allOf``/``anyOf``/``oneOf``/
``not``, ``if``/``then``/``else``, ``dependentSchemas``, the object and array keywords with
``unevaluatedProperties``/``unevaluatedItems``, and the keywords of
:mod:`~abstractllm._private.json_schema.assertions`), plus the older spellings ``definitions``,
``dependencies``, the list form of ``items`` and ``additionalItems``. What it cannot check it
reports, through :class:`~abstractllm._private.json_schema.outcome.Outcome`'s ``unknown``: a
``$ref`` to a document the schema does not hold (it never fetches), ``$recursiveRef``, a
pattern it cannot compile, a ``format`` of the specification it has no check for. A schema
that declares an older draft (``draft-07`` and before) has keywords beside ``$ref`` ignored, as
those drafts say.

A value is followed at most ``limit`` levels of schema and value deep; past that the part
below is an error (``"nested deeper than ..."``): a cycle of ``$ref`` or a value too deep to
check never ends in ``RecursionError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag

from abstractllm._private.json_schema.assertions import json_equal, value_errors
from abstractllm._private.json_schema.outcome import Outcome
from abstractllm._private.json_schema.patterns import search
from abstractllm._private.json_schema.references import DEFAULT_BASE, MISSING, REMOTE, Registry, join

__all__ = ["BuiltinChecker"]


class BuiltinChecker:
    """Checks values against ``schema`` (walked once, at construction), ``limit`` levels deep."""

    def __init__(self, schema: Any, *, limit: int) -> None:
        self.schema = schema
        self.limit = limit
        self.registry = Registry(schema)
        declared = schema.get("$schema") if isinstance(schema, dict) else None
        self.legacy_ref = isinstance(declared, str) and "draft-0" in declared
        self.scope: list[str] = []

    def check(self, value: Any) -> Outcome:
        """``value`` against the whole schema."""
        return self.evaluate(value, self.schema, DEFAULT_BASE, "$", 0)

    def evaluate(self, value: Any, schema: Any, base: str, path: str, depth: int) -> Outcome:
        """``value`` (at ``path``) against ``schema`` read under the base URI ``base``."""
        if isinstance(schema, bool):
            return Outcome() if schema else Outcome([f"{path}: no value is allowed here (the schema is false)"])
        if not isinstance(schema, dict):
            return Outcome([f"{path}: the schema here is a {type(schema).__name__}, not an object or a boolean"])
        if depth > self.limit:
            return Outcome([f"{path}: nested deeper than {self.limit} levels of schema and value; not checked further"])
        base = self.registry.base_of(schema, base)
        entered = not self.scope or self.scope[-1] != base
        if entered:
            self.scope.append(base)
        try:
            out = Outcome()
            self._references(value, schema, base, path, depth, out)
            if self.legacy_ref and "$ref" in schema:
                return out
            out.add(value_errors(value, schema, path))
            self._in_place(value, schema, base, path, depth, out)
            if isinstance(value, dict):
                self._object(value, schema, base, path, depth, out)
            elif isinstance(value, list):
                self._array(value, schema, base, path, depth, out)
            return out
        finally:
            if entered:
                self.scope.pop()

    def _references(self, value: Any, schema: dict[str, Any], base: str, path: str, depth: int, out: Outcome) -> None:
        for keyword in ("$ref", "$dynamicRef"):
            reference = schema.get(keyword)
            if not isinstance(reference, str):
                continue
            target, target_base = self.registry.resolve(reference, base)
            if keyword == "$dynamicRef" and target is not MISSING and target is not REMOTE:
                target, target_base = self._dynamic(join(base, reference), target, target_base)
            if target is REMOTE:
                out.unknown.add(keyword)
            elif target is MISSING:
                out.errors.append(f"{path}: {keyword} {reference!r} points at nothing in the schema")
            else:
                out.add(self.evaluate(value, target, target_base, path, depth + 1))
        if "$recursiveRef" in schema:
            out.unknown.add("$recursiveRef")

    def _dynamic(self, uri: str, target: Any, target_base: str) -> tuple[Any, str]:
        """Where a ``$dynamicRef`` to ``uri`` lands: the outermost resource of the dynamic scope
        with the same ``$dynamicAnchor``, when the static target has that anchor itself."""
        name = urldefrag(uri)[1]
        if not name or name.startswith("/") or not isinstance(target, dict) or target.get("$dynamicAnchor") != name:
            return target, target_base
        for resource in self.scope:
            found = self.registry.dynamic_anchors.get(f"{resource}#{name}")
            if found is not None:
                return found, self.registry.base_of(found, resource)
        return target, target_base

    def _in_place(self, value: Any, schema: dict[str, Any], base: str, path: str, depth: int, out: Outcome) -> None:
        """The applicators that judge ``value`` itself: allOf, anyOf, oneOf, not, if, dependentSchemas."""

        def run(sub: Any) -> Outcome:
            return self.evaluate(value, sub, base, path, depth + 1)

        for sub in _list(schema.get("allOf")):
            out.add(run(sub))
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list):
                _choice(keyword, [run(sub) for sub in schema[keyword]], path, out)
        if "not" in schema:
            negated = run(schema["not"])
            if negated.valid:
                out.errors.append(f"{path}: must not match the schema in 'not'")
            elif not negated.invalid:
                out.unknown |= negated.unknown
        if "if" in schema:
            _condition(run(schema["if"]), run(schema.get("then", True)), run(schema.get("else", True)), out)
        for keyword in ("dependentSchemas", "dependencies"):
            if isinstance(schema.get(keyword), dict) and isinstance(value, dict):
                for name, sub in schema[keyword].items():
                    if name in value and isinstance(sub, (dict, bool)):
                        out.add(run(sub))

    def _object(self, value: dict[str, Any], schema: dict[str, Any], base: str, path: str, depth: int, out: Outcome) -> None:
        for name in _list(schema.get("required")):
            if name not in value:
                out.errors.append(f"{path}: missing required property {name!r}")
        for keyword in ("dependentRequired", "dependencies"):
            for key, names in _dict(schema.get(keyword)).items():
                if key in value and isinstance(names, list):
                    out.errors += [f"{path}: {key!r} requires property {name!r}" for name in names if name not in value]
        if _count(schema.get("minProperties")) and len(value) < schema["minProperties"]:
            out.errors.append(f"{path}: fewer than {schema['minProperties']} properties")
        if _count(schema.get("maxProperties")) and len(value) > schema["maxProperties"]:
            out.errors.append(f"{path}: more than {schema['maxProperties']} properties")
        if "propertyNames" in schema:
            for name in value:
                out.add(self.evaluate(name, schema["propertyNames"], base, f"{path} (property name {name!r})", depth + 1))
        properties, patterns = _dict(schema.get("properties")), _dict(schema.get("patternProperties"))
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            where = f"{path}.{name}"
            applied = name in properties
            if applied:
                out.add(self.evaluate(item, properties[name], base, where, depth + 1), annotations=False)
            unsure = False
            for pattern, sub in patterns.items():
                found = search(pattern, name)
                unsure = unsure or found is None
                if found:
                    applied = True
                    out.add(self.evaluate(item, sub, base, where, depth + 1), annotations=False)
            if unsure:
                out.unknown.add("patternProperties")
            if not applied and additional is not None:
                extra = self._extra(item, additional, base, where, depth, f"{path}: unexpected property {name!r}")
                out.add(extra if not (unsure and extra.invalid) else Outcome(unknown={"patternProperties"}), annotations=False)
                applied = True
            if applied:
                out.properties.add(name)
        if "unevaluatedProperties" in schema:
            for name, item in value.items():
                if name not in out.properties:
                    message = f"{path}: unevaluated property {name!r} is not allowed"
                    extra = self._extra(item, schema["unevaluatedProperties"], base, f"{path}.{name}", depth, message)
                    _unevaluated("unevaluatedProperties", extra, out)
            out.properties |= set(value)

    def _array(self, value: list[Any], schema: dict[str, Any], base: str, path: str, depth: int, out: Outcome) -> None:
        if _count(schema.get("minItems")) and len(value) < schema["minItems"]:
            out.errors.append(f"{path}: fewer than {schema['minItems']} items")
        if _count(schema.get("maxItems")) and len(value) > schema["maxItems"]:
            out.errors.append(f"{path}: more than {schema['maxItems']} items")
        if schema.get("uniqueItems") is True and any(json_equal(value[i], value[j]) for i in range(len(value)) for j in range(i)):
            out.errors.append(f"{path}: items are not unique")
        legacy = isinstance(schema.get("items"), list)
        prefix = _list(schema.get("items") if legacy else schema.get("prefixItems"))
        rest = schema.get("additionalItems") if legacy else schema.get("items")
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else rest
            if sub is not None:
                message = f"{path}: no items allowed after the first {len(prefix)}"
                out.add(self._extra(item, sub, base, f"{path}[{index}]", depth, message), annotations=False)
                out.items.add(index)
        if "contains" in schema:
            self._contains(value, schema, base, path, depth, out)
        if "unevaluatedItems" in schema:
            for index, item in enumerate(value):
                if index not in out.items:
                    message = f"{path}: unevaluated item {index} is not allowed"
                    extra = self._extra(item, schema["unevaluatedItems"], base, f"{path}[{index}]", depth, message)
                    _unevaluated("unevaluatedItems", extra, out)
            out.items |= set(range(len(value)))

    def _contains(self, value: list[Any], schema: dict[str, Any], base: str, path: str, depth: int, out: Outcome) -> None:
        results = [self.evaluate(item, schema["contains"], base, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        sure = [i for i, result in enumerate(results) if result.valid]
        maybe = [i for i, result in enumerate(results) if not result.valid and not result.invalid]
        least = schema["minContains"] if _count(schema.get("minContains")) else 1
        most = schema["maxContains"] if _count(schema.get("maxContains")) else None
        out.items.update(sure, maybe)
        if len(sure) >= least and (most is None or len(sure) + len(maybe) <= most):
            return
        if len(sure) + len(maybe) < least:
            out.errors.append(f"{path}: fewer than {least} items match 'contains'")
        elif most is not None and len(sure) > most:
            out.errors.append(f"{path}: more than {most} items match 'contains'")
        else:
            out.unknown.update(*(results[i].unknown for i in maybe))

    def _extra(self, item: Any, sub: Any, base: str, where: str, depth: int, refusal: str) -> Outcome:
        """``item`` against ``sub`` (additional or unevaluated), ``refusal`` when ``sub`` is false."""
        return Outcome([refusal]) if sub is False else self.evaluate(item, sub, base, where, depth + 1)


def _choice(keyword: str, results: list[Outcome], path: str, out: Outcome) -> None:
    """anyOf / oneOf over the options' ``results``."""
    sure = [result for result in results if result.valid]
    maybe = [result for result in results if not result.valid and not result.invalid]
    for result in sure + maybe:
        out.properties |= result.properties
        out.items |= result.items
    if keyword == "oneOf" and len(sure) > 1:
        out.errors.append(f"{path}: matches more than one of the schemas in 'oneOf'")
    elif not sure and not maybe:
        words = "exactly one" if keyword == "oneOf" else "any"
        out.errors.append(f"{path}: does not match {words} of the allowed schemas")
    elif maybe and (keyword == "oneOf" or not sure):
        out.unknown.update(*(result.unknown for result in maybe))


def _condition(condition: Outcome, then: Outcome, otherwise: Outcome, out: Outcome) -> None:
    """if / then / else (an absent branch is a ``true`` schema)."""
    if condition.valid:
        out.add(condition)
        out.add(then)
    elif condition.invalid:
        out.add(otherwise)
    elif then.invalid and otherwise.invalid:
        out.errors.extend(then.errors)
    elif not (then.valid and otherwise.valid):
        out.unknown |= condition.unknown | then.unknown | otherwise.unknown
    for result in (condition, then, otherwise) if not condition.valid and not condition.invalid else ():
        if not result.invalid:
            out.properties |= result.properties
            out.items |= result.items


def _unevaluated(keyword: str, extra: Outcome, out: Outcome) -> None:
    """An unevaluated property's or item's ``extra`` outcome; uncertain when what came before is
    (an unchecked part may have evaluated it)."""
    if extra.invalid and out.unknown:
        out.unknown.add(keyword)
    else:
        out.add(extra, annotations=False)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
