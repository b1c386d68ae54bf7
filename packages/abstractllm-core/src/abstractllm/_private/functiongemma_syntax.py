"""FunctionGemma's argument syntax: reading its calls, and the grammar of one call's arguments for a JSON schema.

FunctionGemma (Google's Gemma-3-270M function-calling model) writes a call as
``<start_function_call>call:get_weather{city:<escape>Paris<escape>,days:3}<end_function_call>``:
the arguments are an object whose keys are bare words and whose strings are wrapped in the
``<escape>`` token (a special token of its tokenizer, not a JSON quote); numbers, ``true``, ``false``
and ``null`` are written as in JSON, objects as ``{key:value,...}`` and lists as ``[value,...]``.
Several calls are several blocks, one after the other.

What the syntax cannot say: a string holding the ``<escape>`` text itself (it would end the string),
and an object key that is not a bare word (letters, digits, ``_``, ``-``, ``.``; a key written
``<escape>key<escape>`` is read too). ``None`` (what a Jinja template prints for a null) is read as null.

:func:`read_calls` reads a reply's blocks into :class:`~abstractllm._private.tool_format.ToolCallScan`
(what core's reply assembler takes); :func:`value_rules` writes the llguidance grammar rules of one
value of a JSON schema in this syntax (used by forced calls, in both local modes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from abstractllm._private.tool_format import UNPARSED_NAME, ToolCallScan, ToolMarkup
from abstractllm.tools import ToolCall

__all__ = ["ESCAPE", "SYNTAX", "read_calls", "read_value", "value_rules", "write_call", "write_value"]

#: The name of this syntax (a forced call's ``syntax``).
SYNTAX = "functiongemma"
#: The token FunctionGemma wraps strings in.
ESCAPE = "<escape>"
CALL_WORD = "call:"

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_KEY = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*:")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WORDS = {"true": True, "false": False, "null": None, "None": None}


class ArgumentsError(ValueError):
    """Text that is not (or not yet) a FunctionGemma value."""


def read_value(text: str, start: int) -> tuple[Any, int]:
    """The value written at ``text[start:]`` (spaces before it skipped) and the index after it.

    Raises ``ValueError`` when there is none.
    """
    at = _skip(text, start)
    if at >= len(text):
        raise ArgumentsError("the arguments end before a value")
    if text.startswith(ESCAPE, at):
        end = text.find(ESCAPE, at + len(ESCAPE))
        if end < 0:
            raise ArgumentsError("a string has no closing <escape>")
        return text[at + len(ESCAPE) : end], end + len(ESCAPE)
    if text[at] == "{":
        return _read_object(text, at + 1)
    if text[at] == "[":
        return _read_list(text, at + 1)
    number = _NUMBER.match(text, at)
    if number:
        end = number.end()
        value: Any = float(number.group()) if number.group(1) or number.group(2) else int(number.group())
        return value, end
    for word, meaning in _WORDS.items():
        if text.startswith(word, at):
            return meaning, at + len(word)
    raise ArgumentsError(f"no value at {text[at : at + 20]!r} (strings are wrapped in <escape>)")


def _read_object(text: str, at: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    at = _skip(text, at)
    if text.startswith("}", at):
        return result, at + 1
    while True:
        at = _skip(text, at)
        if text.startswith(ESCAPE, at):  # a key written as a string
            key, at = read_value(text, at)
            at = _skip(text, at)
            if not text.startswith(":", at):
                raise ArgumentsError("a key has no ':'")
            at += 1
        else:
            found = _KEY.match(text, at)
            if found is None:
                raise ArgumentsError(f"no key at {text[at : at + 20]!r}")
            key, at = found.group(1), found.end()
        result[str(key)], at = read_value(text, at)
        at = _skip(text, at)
        if at >= len(text):
            raise ArgumentsError("the arguments end inside an object")
        if text[at] == "}":
            return result, at + 1
        if text[at] != ",":
            raise ArgumentsError(f"expected ',' or '}}' at {text[at : at + 20]!r}")
        at += 1


def _read_list(text: str, at: int) -> tuple[list[Any], int]:
    result: list[Any] = []
    at = _skip(text, at)
    if text.startswith("]", at):
        return result, at + 1
    while True:
        value, at = read_value(text, at)
        result.append(value)
        at = _skip(text, at)
        if at >= len(text):
            raise ArgumentsError("the arguments end inside a list")
        if text[at] == "]":
            return result, at + 1
        if text[at] != ",":
            raise ArgumentsError(f"expected ',' or ']' at {text[at : at + 20]!r}")
        at += 1


def write_value(value: Any) -> str:
    """``value`` (JSON data) in FunctionGemma's syntax: what :func:`read_value` reads back as ``value``."""
    if isinstance(value, str):
        return ESCAPE + value + ESCAPE
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{write_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(write_value(item) for item in value) + "]"
    return json.dumps(value)


def write_call(name: str, arguments: Any) -> str:
    """One call's body as FunctionGemma writes it: ``call:NAME{...}``."""
    return CALL_WORD + name + write_value(arguments if isinstance(arguments, dict) else {})


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def read_calls(reply: str, markup: ToolMarkup) -> ToolCallScan:
    """Every ``<open>call:NAME{...}<close>`` block of ``reply`` (``markup``'s open and close markers).

    A block whose arguments cannot be read is a call (named as it says, else ``<unparsed>``) with
    ``error`` set, when its close marker follows; a last block without one is ``truncated`` (``cut_name``
    its tool, when the block names it): core's reply assembler makes it no call when ``max_tokens`` cut
    the reply, else a call with its error.
    """
    scan = ToolCallScan()
    position = reply.find(markup.open)
    while position >= 0:
        start = _skip(reply, position + len(markup.open))
        close = reply.find(markup.close, start)
        body = reply[start:] if close < 0 else reply[start:close]
        name = ""
        try:
            if not body.startswith(CALL_WORD):
                raise ArgumentsError("the block does not start with 'call:'")
            found = _NAME.match(body, len(CALL_WORD))
            at = _skip(body, found.end() if found else len(CALL_WORD))
            if not body.startswith("{", at):
                raise ArgumentsError("no '{' after the tool's name")
            name = found.group() if found else ""  # complete: a '{' follows it
            arguments, end = read_value(body, at)
            if body[end:].strip():
                raise ArgumentsError(f"text after the arguments: {body[end : end + 20]!r}")
            scan.calls.append(ToolCall(name=name or UNPARSED_NAME, arguments=arguments))
        except ArgumentsError as exc:
            if close < 0:  # no close marker: the block runs to the end of the reply, which ended inside it
                scan.truncated, scan.cut_name = True, name
                return scan
            error = f"the tool call is not valid FunctionGemma ({exc}): {body[:200]!r}"
            scan.calls.append(ToolCall(name=name or UNPARSED_NAME, arguments={}, error=error))
        if close < 0:
            break
        position = reply.find(markup.open, close + len(markup.close))
    return scan


# -- the grammar of one value ---------------------------------------------------------------------------------

_ANNOTATIONS = frozenset(("description", "title", "default", "examples", "$schema", "$comment", "deprecated", "readOnly"))
_HANDLED = frozenset(("type", "enum", "const", "properties", "required", "additionalProperties", "items", "anyOf", "oneOf"))
_INTEGER = r"/-?(0|[1-9][0-9]{0,14})/"
_NUMBER_RULE = r"/-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?/"
#: A string's text: no control characters but tab and line end, and never the text ``<escape>`` (spelled in other tokens).
_STRING_TEXT = r"/[^\x00-\x08\x0b-\x1f]*/ & ~/(?s:.*<escape>.*)/"


def value_rules(schema: Any, start: str, quote: str) -> list[str]:
    """Lark rules (llguidance's dialect) for one value of the JSON ``schema`` in FunctionGemma's syntax,
    the first named ``start``; ``quote`` is the Lark item of the ``<escape>`` token (``<[id]>`` for a
    special token). Objects with declared properties admit exactly those, in the schema's order.

    Raises ``ValueError`` naming a keyword it cannot enforce (what core reports as unsupported).
    """
    builder = _Rules(quote, start)
    builder.rule(start, schema)
    return builder.lines


class _Rules:
    def __init__(self, quote: str, prefix: str) -> None:
        self.quote = quote
        self.prefix = prefix
        self.lines: list[str] = []
        self.count = 0
        self.any_rule = ""
        self.text = ""

    def fresh(self) -> str:
        self.count += 1
        return f"{self.prefix}_{self.count}"

    def rule(self, name: str, schema: Any) -> str:
        self.lines.append(f"{name}: {self.expression(schema)}")
        return name

    def expression(self, schema: Any) -> str:
        if schema is True or schema == {}:
            return self.free()
        if not isinstance(schema, dict):
            raise ValueError(f"unsupported schema {json.dumps(schema)[:80]} (not an object)")
        unknown = sorted(set(schema) - _HANDLED - _ANNOTATIONS)
        if unknown:
            raise ValueError(f"Unimplemented keys: [{', '.join(repr(k) for k in unknown)}] in FunctionGemma's syntax")
        if "const" in schema:
            return self.literal(schema["const"])
        if "enum" in schema:
            return "(" + " | ".join(self.literal(value) for value in schema["enum"]) + ")"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k != key}
                options = [self.rule(self.fresh(), {**rest, **option}) for option in schema[key]]
                return "(" + " | ".join(options) + ")"
        kinds = schema.get("type")
        if kinds is None:
            kinds = "object" if "properties" in schema else ("array" if "items" in schema else None)
        if kinds is None:
            return self.free()
        if isinstance(kinds, list):
            return "(" + " | ".join(self.typed(kind, schema) for kind in kinds) + ")"
        return self.typed(kinds, schema)

    def typed(self, kind: str, schema: dict[str, Any]) -> str:
        simple: dict[str, Callable[[], str]] = {
            "string": lambda: f"{self.quote} {self.string_text()} {self.quote}",
            "integer": lambda: _INTEGER,
            "number": lambda: _NUMBER_RULE,
            "boolean": lambda: '("true" | "false")',
            "null": lambda: '"null"',
        }
        if kind in simple:
            return simple[kind]()
        if kind == "array":
            item = self.rule(self.fresh(), schema.get("items", True))
            return f'"[" ({item} ("," {item})*)? "]"'
        if kind == "object":
            return self.object(schema)
        raise ValueError(f"unsupported type {kind!r}")

    def object(self, schema: dict[str, Any]) -> str:
        properties = schema.get("properties") or {}
        if not properties:
            return self.free_object() if schema.get("additionalProperties", True) is not False else '"{" "}"'
        required = set(schema.get("required") or ())
        members = []
        for key, value in properties.items():
            if not _NAME.fullmatch(key):
                raise ValueError(f"unsupported property name {key!r}: FunctionGemma's keys are bare words")
            members.append((self.rule(self.fresh(), value), key in required, json.dumps(key + ":")))
        # rest_i: the members from i on, each after a comma; the body: the first member present, then its rest
        rests = [""] * (len(members) + 1)
        for index in range(len(members) - 1, 0, -1):
            rule, needed, key = members[index]
            item = f'"," {key} {rule}'
            rests[index] = self.fresh()
            self.lines.append(f"{rests[index]}: {item if needed else f'({item})?'} {rests[index + 1]}".rstrip())
        options = []
        for index, (rule, needed, key) in enumerate(members):
            options.append(f"{key} {rule} {rests[index + 1]}".rstrip())
            if needed:
                break
        body = self.fresh()
        self.lines.append(f"{body}: " + " | ".join(options))
        return f'"{{" {body} "}}"' if required & set(properties) else f'"{{" {body}? "}}"'

    def literal(self, value: Any) -> str:
        if isinstance(value, str):
            if ESCAPE in value:
                raise ValueError(f"unsupported value {value!r}: a string cannot hold {ESCAPE}")
            return f"{self.quote} {json.dumps(value)} {self.quote}" if value else f"{self.quote} {self.quote}"
        if isinstance(value, bool) or value is None:
            return json.dumps(json.dumps(value))
        if isinstance(value, (int, float)):
            return json.dumps(json.dumps(value))
        if isinstance(value, list):
            return '"[" ' + ' "," '.join(self.literal(item) for item in value) + ' "]"' if value else '"[" "]"'
        if isinstance(value, dict):
            parts = ' "," '.join(f"{json.dumps(str(key) + ':')} {self.literal(item)}" for key, item in value.items())
            return '"{" ' + parts + ' "}"' if value else '"{" "}"'
        raise ValueError(f"unsupported value {value!r}")

    def free(self) -> str:
        """Any value (a schema that allows anything)."""
        if not self.any_rule:
            self.any_rule = f"{self.prefix}_any"
            text = f"{self.quote} {self.string_text()} {self.quote}"
            keyed = f'/[A-Za-z_][A-Za-z0-9_]{{0,63}}/ ":" {self.any_rule}'
            self.lines.append(
                f'{self.any_rule}: {text} | {_NUMBER_RULE} | "true" | "false" | "null"'
                f' | "[" ({self.any_rule} ("," {self.any_rule})*)? "]" | "{{" ({keyed} ("," {keyed})*)? "}}"'
            )
        return self.any_rule

    def string_text(self) -> str:
        """The terminal of a string's text (defined once)."""
        if not self.text:
            self.text = f"{self.prefix.upper()}_TEXT"
            self.lines.append(f"{self.text}: {_STRING_TEXT}")
        return self.text

    def free_object(self) -> str:
        anything = self.free()
        keyed = f'/[A-Za-z_][A-Za-z0-9_]{{0,63}}/ ":" {anything}'
        return f'"{{" ({keyed} ("," {keyed})*)? "}}"'
