"""Which JSON Schema keywords each mode enforces on a structured reply: one table, used by code and docs.

The local modes (``pipeline``, ``gguf``) constrain decoding with one compiler, llguidance
(:mod:`abstractllm._private.token_constraint`), so a schema gets the same guarantees in both.
:data:`KEYWORDS` says, keyword by keyword, what happens in each mode:

- ``enforced``: decoding cannot produce a value that breaks the keyword;
- ``enforced*``: enforced, but some uses of it cannot be compiled and are refused (the note says which);
- ``refused``: a schema using the keyword raises ``UnsupportedFeatureError`` before generation,
  naming the keyword and the mode;
- ``checked after``: the endpoint's server is asked to follow the schema; what it returns is
  checked when it finishes, and a finished reply the schema rejects raises ``OutputParsingError``.

Every mode ends with the same last-line check (:mod:`abstractllm._private.reply_check`), so a
reply with ``finish_reason="stop"`` is never one the schema rejects. The table in
``docs/structured-output.md`` is :func:`keyword_table_markdown`'s output (a test keeps it so), and
the claims are tested by compiling each keyword in both local modes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from abstractllm.errors import AbstractLLMError, InvalidArgumentError, UnsupportedFeatureError

__all__ = [
    "ENFORCED_FORMATS",
    "KEYWORDS",
    "LOCAL_MODES",
    "KeywordSupport",
    "keyword_table_markdown",
    "refusal",
]

LOCAL_MODES = ("pipeline", "gguf")
ENFORCED_FORMATS = ("date", "date-time", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri")


@dataclass(frozen=True)
class KeywordSupport:
    """One keyword: ``local`` is what the pipeline and GGUF modes do with it, ``example`` a schema using it."""

    keyword: str
    local: str
    example: dict[str, object]
    note: str = ""


_ENDPOINT = "checked after"
_FORMAT_NOTE = (
    "formats " + ", ".join(ENFORCED_FORMATS) + "; JSON Schema's other formats refused; formats it does not define ignored"
)

KEYWORDS: tuple[KeywordSupport, ...] = (
    KeywordSupport("type", "enforced", {"type": "integer"}),
    KeywordSupport("enum", "enforced", {"enum": ["a", 1, None]}),
    KeywordSupport("const", "enforced", {"const": {"a": [1, "x"]}}),
    KeywordSupport(
        "properties", "enforced", {"type": "object", "properties": {"a": {"type": "string"}}}, "in the schema's order"
    ),
    KeywordSupport("required", "enforced", {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
    KeywordSupport("additionalProperties", "enforced", {"type": "object", "additionalProperties": {"type": "integer"}}),
    KeywordSupport(
        "patternProperties",
        "enforced*",
        {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
        "refused when two patterns can match the same name",
    ),
    KeywordSupport(
        "minProperties",
        "enforced*",
        {"type": "object", "minProperties": 1},
        "refused when it would also count properties that are not required",
    ),
    KeywordSupport("maxProperties", "enforced*", {"type": "object", "maxProperties": 2}, "as minProperties"),
    KeywordSupport("items", "enforced", {"type": "array", "items": {"type": "integer"}}),
    KeywordSupport("prefixItems", "enforced", {"type": "array", "prefixItems": [{"type": "integer"}]}),
    KeywordSupport("additionalItems", "enforced", {"type": "array", "items": [{"type": "integer"}], "additionalItems": False}),
    KeywordSupport("minItems", "enforced", {"type": "array", "minItems": 1}),
    KeywordSupport("maxItems", "enforced", {"type": "array", "maxItems": 3}),
    KeywordSupport("minLength", "enforced", {"type": "string", "minLength": 2}),
    KeywordSupport("maxLength", "enforced", {"type": "string", "maxLength": 32767}, "any size, without crashing"),
    KeywordSupport("pattern", "enforced*", {"type": "string", "pattern": "^[a-z]+$"}, "refused with look-around"),
    KeywordSupport("format", "enforced*", {"type": "string", "format": "date"}, _FORMAT_NOTE),
    KeywordSupport("minimum", "enforced", {"type": "integer", "minimum": 3}),
    KeywordSupport("maximum", "enforced", {"type": "integer", "maximum": 9}),
    KeywordSupport("exclusiveMinimum", "enforced", {"type": "number", "exclusiveMinimum": 0}),
    KeywordSupport("exclusiveMaximum", "enforced", {"type": "number", "exclusiveMaximum": 1}),
    KeywordSupport("multipleOf", "enforced", {"type": "integer", "multipleOf": 5}),
    KeywordSupport("anyOf", "enforced", {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
    KeywordSupport(
        "oneOf", "enforced*", {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "refused unless the options cannot overlap"
    ),
    KeywordSupport(
        "allOf",
        "enforced*",
        {"allOf": [{"type": "object"}, {"required": ["a"]}]},
        "refused when the intersection cannot be compiled",
    ),
    KeywordSupport("$ref", "enforced", {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}, "local references only"),
    KeywordSupport("uniqueItems", "refused", {"type": "array", "uniqueItems": True}, "uniqueItems: false is accepted"),
    KeywordSupport("contains", "refused", {"type": "array", "contains": {"type": "integer"}}),
    KeywordSupport("minContains", "refused", {"type": "array", "contains": {"type": "integer"}, "minContains": 2}),
    KeywordSupport("maxContains", "refused", {"type": "array", "contains": {"type": "integer"}, "maxContains": 2}),
    KeywordSupport("not", "refused", {"not": {"type": "string"}}),
    KeywordSupport("if", "refused", {"if": {"type": "string"}, "then": {"minLength": 1}}),
    KeywordSupport("then", "refused", {"if": {"type": "string"}, "then": {"minLength": 1}}),
    KeywordSupport("else", "refused", {"if": {"type": "string"}, "else": {"type": "integer"}}),
    KeywordSupport("dependentRequired", "refused", {"type": "object", "dependentRequired": {"a": ["b"]}}),
    KeywordSupport("dependentSchemas", "refused", {"type": "object", "dependentSchemas": {"a": {"required": ["b"]}}}),
    KeywordSupport("dependencies", "refused", {"type": "object", "dependencies": {"a": ["b"]}}),
    KeywordSupport("propertyNames", "refused", {"type": "object", "propertyNames": {"maxLength": 3}}),
    KeywordSupport("unevaluatedProperties", "refused", {"type": "object", "unevaluatedProperties": False}),
    KeywordSupport("unevaluatedItems", "refused", {"type": "array", "unevaluatedItems": False}),
)

_BY_NAME = {entry.keyword: entry for entry in KEYWORDS}
_UNSUPPORTED = ("unimplemented", "not supported", "unsupported", "unknown format", "too large", "limit", "exceeded")
_UNIMPLEMENTED = re.compile(r"Unimplemented keys: \[([^\]]*)\]")


def keyword_table_markdown() -> str:
    """The keyword table of ``docs/structured-output.md``, generated from :data:`KEYWORDS`."""
    lines = [
        "| keyword | pipeline | gguf | api / endpoint | note |",
        "|---|---|---|---|---|",
    ]
    for entry in KEYWORDS:
        lines.append(f"| `{entry.keyword}` | {entry.local} | {entry.local} | {_ENDPOINT} | {entry.note} |")
    return "\n".join(lines) + "\n"


def refusal(reason: str, *, mode: str, parameter: str) -> AbstractLLMError:
    """The error for a schema ``mode`` cannot decode by; ``reason`` is the compiler's own words.

    A schema that uses what the compiler does not support (a ``refused`` keyword of
    :data:`KEYWORDS`, an unknown ``format``, a look-around ``pattern``, overlapping ``oneOf``
    options) is ``UnsupportedFeatureError``; one that is broken (a ``$ref`` to nothing, a
    ``pattern`` that is no regex, a schema no value satisfies) is ``InvalidArgumentError``. The
    message names the keyword when the reason does, the mode, and the fix.
    """
    keywords = _keywords_of(reason)
    keyword = keywords[0] if keywords else None
    what = "this JSON schema"
    if keywords:
        what = f"the JSON Schema keyword{'s' if len(keywords) > 1 else ''} " + ", ".join(repr(name) for name in keywords)
    first = reason.strip().splitlines()[0] if reason.strip() else "no reason given"
    details = {"keyword": keyword, "keywords": keywords, "reason": reason}
    if any(marker in reason.lower() for marker in _UNSUPPORTED):
        return UnsupportedFeatureError(
            f"{parameter}: {what} cannot be enforced while decoding in {mode} mode ({first}); "
            "remove or rewrite it (docs/structured-output.md lists what each mode enforces)",
            feature=parameter,
            mode=mode,
            details=details,
        )
    return InvalidArgumentError(
        f"{parameter}: {what} cannot be compiled for decoding in {mode} mode ({first}); fix the schema",
        parameter=parameter,
        value=keyword,
        allowed="a satisfiable JSON Schema whose local $refs resolve and whose patterns are regexes",
        mode=mode,
        details=details,
    )


def _keywords_of(reason: str) -> list[str]:
    """The keywords the compiler's ``reason`` is about (its list of unimplemented ones, or the one it names)."""
    found = _UNIMPLEMENTED.search(reason)
    if found:
        return [name.strip().strip('"') for name in found.group(1).split(",") if name.strip()]
    lowered = reason.lower()
    for keyword in ("oneof", "allof", "patternproperties", "minproperties", "maxproperties", "format", "$ref"):
        if keyword in lowered or (keyword == "$ref" and "pointer" in lowered):
            return [next(entry.keyword for entry in KEYWORDS if entry.keyword.lower() == keyword)]
    if "regex" in lowered or "look-around" in lowered:
        return ["pattern"]
    return []
