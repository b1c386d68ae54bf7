"""Where a ``$ref`` points: the schema resources (``$id``), anchors and JSON pointers of one schema.

A :class:`Registry` walks a schema once, through the keywords that hold subschemas only (an
``$id`` inside ``enum`` or ``const`` names nothing), and records each resource's absolute URI,
each ``$anchor``/``$dynamicAnchor`` and the base URI every subschema is read under. A reference
is resolved against the base URI of the schema that holds it; a JSON pointer fragment is
percent-decoded, then ``~1`` becomes ``/`` and ``~0`` becomes ``~``. A root without ``$id`` gets
:data:`DEFAULT_BASE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

__all__ = ["DEFAULT_BASE", "MISSING", "REMOTE", "Registry", "join", "subschemas"]

DEFAULT_BASE = "https://schema.invalid/root.json"
#: What :meth:`Registry.resolve` returns for a reference into a known resource that holds nothing
#: there (an error of the schema), and for one into a document the schema does not hold (remote).
MISSING = object()
REMOTE = object()

#: Keywords whose value is one subschema, an object of them, or a list of them (``items``: either).
_ONE = frozenset(
    {
        *("additionalProperties", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames"),
        *("unevaluatedItems", "unevaluatedProperties", "contentSchema", "items"),
    }
)
_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"})
_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})


def subschemas(schema: Any) -> Iterator[tuple[str, Any]]:
    """Each ``(keyword path, subschema)`` directly under ``schema`` (``"properties/name"``)."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in _ONE and isinstance(value, (dict, bool)):
            yield key, value
        elif key in _MAPS and isinstance(value, dict):
            for name, child in value.items():
                if isinstance(child, (dict, bool)):
                    yield f"{key}/{_escape(name)}", child
        elif key in _LISTS and isinstance(value, list):
            for index, child in enumerate(value):
                if isinstance(child, (dict, bool)):
                    yield f"{key}/{index}", child


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def join(base: str, reference: str) -> str:
    """``reference`` resolved against ``base`` (a fragment-only reference works for ``urn:`` too)."""
    if not reference:
        return base
    if reference.startswith("#"):
        return urldefrag(base)[0] + reference
    if urlsplit(reference).scheme:
        return reference
    return urljoin(base, reference)


@dataclass
class Registry:
    """The resources, anchors and base URIs of ``root``."""

    root: Any
    resources: dict[str, Any] = field(default_factory=dict)
    anchors: dict[str, Any] = field(default_factory=dict)
    dynamic_anchors: dict[str, Any] = field(default_factory=dict)
    bases: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resources[DEFAULT_BASE] = self.root
        stack: list[tuple[Any, str]] = [(self.root, DEFAULT_BASE)]
        while stack:
            node, base = stack.pop()
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("$id"), str):
                base = join(base, urldefrag(node["$id"])[0])
                self.resources[base] = node
            self.bases[id(node)] = base
            for key, table in (("$anchor", self.anchors), ("$dynamicAnchor", self.dynamic_anchors)):
                if isinstance(node.get(key), str):
                    self.anchors[f"{base}#{node[key]}"] = node
                    table[f"{base}#{node[key]}"] = node
            stack.extend((child, base) for _, child in subschemas(node))

    def base_of(self, schema: Any, fallback: str) -> str:
        """The base URI ``schema`` is read under (``fallback`` for a node the walk did not reach)."""
        return self.bases.get(id(schema), fallback)

    def resolve(self, reference: str, base: str) -> tuple[Any, str]:
        """The schema ``reference`` points at from ``base`` and its own base URI; the schema is
        :data:`MISSING` or :data:`REMOTE` when there is none here."""
        uri = join(base, reference)
        document, fragment = urldefrag(uri)
        if document not in self.resources:
            return REMOTE, document
        node: Any = self.resources[document]
        if fragment and not fragment.startswith("/"):
            found = self.anchors.get(f"{document}#{fragment}", MISSING)
            return found, self.base_of(found, document)
        for token in unquote(fragment).split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return MISSING, document
        if not isinstance(node, (dict, bool)):
            return MISSING, document
        return node, self.base_of(node, document)
