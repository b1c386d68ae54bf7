"""The tool types of the contract: a tool the model may call and a call it made.

``ToolDefinition.from_function`` derives a definition from a Python function (signature, type
hints and docstring). Checking a definition's schema and a call's arguments against it is
core's work (:mod:`abstractllm.tools`), not the contract's.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from abstractllm.errors import InvalidArgumentError

__all__ = ["ToolCall", "ToolChoice", "ToolDefinition"]

ToolChoice = str  # "auto", "none", "required", or the name of one tool


@dataclass(frozen=True)
class ToolDefinition:
    """A tool the model may call: ``name``, ``description`` and a JSON schema of its arguments."""

    name: str
    description: str
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def from_function(cls, function: Callable[..., Any], *, where: str = "tool") -> ToolDefinition:
        """Derive a definition from a function's name, signature, type hints and docstring.

        ``functools.partial`` objects describe their remaining parameters under the wrapped
        function's name; callable objects use their class name and ``__call__``. Classes and
        callables without a readable signature raise ``InvalidArgumentError`` (parameter
        ``tools``) naming ``where``.
        """
        inner = function
        while isinstance(inner, functools.partial):
            inner = inner.func
        if isinstance(inner, type):
            raise InvalidArgumentError(
                f"{where} is the class {inner.__name__}; pass a function that takes the tool's arguments,"
                " an OpenAI function dict or a ToolDefinition",
                parameter="tools",
                value=inner.__name__,
                allowed="function, dict or ToolDefinition",
            )
        routine = inspect.isroutine(inner)
        name = str(getattr(inner, "__name__", "")) if routine else type(inner).__name__
        described = inner if routine else type(inner).__call__
        try:
            schema = _signature_schema(function, described)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{where}: the signature of {name} cannot be read ({exc}); wrap it in a function with named parameters",
                parameter="tools",
                value=name,
                allowed="function, dict or ToolDefinition",
            ) from exc
        return ToolDefinition(name=name, description=_summary(described), input_schema=schema)

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "description", "input_schema"}``, the original AbstractLLM shape."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``{"type": "function", "function": {...}}`` shape used by chat templates and APIs."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.input_schema},
        }


@dataclass
class ToolCall:
    """A model's request to run tool ``name`` with ``arguments``.

    ``error`` is set when the call names an unknown tool or its arguments do not match
    the tool's schema; such a call is reported to the caller and never executed blindly.
    """

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{os.urandom(6).hex()}")
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.error is not None:
            data["error"] = self.error
        return data

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Read ``to_dict`` output or an OpenAI tool call (arguments as a JSON string)."""
        function = data.get("function")
        name = function.get("name") if isinstance(function, Mapping) else data.get("name")
        arguments: Any = function.get("arguments") if isinstance(function, Mapping) else data.get("arguments")
        error = data.get("error")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                error = f"arguments are not valid JSON: {exc.msg}"
                arguments = {}
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(
                "tool call has no function name", parameter="tool_calls", value=dict(data), allowed="a named call"
            )
        if not isinstance(arguments, dict):
            error = error or "arguments must be a JSON object"
            arguments = {}
        call_id = data.get("id")
        return cls(
            name=name, arguments=arguments, id=call_id if isinstance(call_id, str) and call_id else cls._new_id(), error=error
        )

    @staticmethod
    def _new_id() -> str:
        return f"call_{os.urandom(6).hex()}"


def _summary(function: Callable[..., Any]) -> str:
    doc = inspect.getdoc(function) or ""
    summary: list[str] = []
    for line in doc.splitlines():
        if not line.strip() or re.match(r"^(Args|Arguments|Parameters|Returns|Raises)\s*:", line.strip()):
            break
        summary.append(line.strip())
    return " ".join(summary)


def _param_docs(function: Callable[..., Any]) -> dict[str, str]:
    """Google-style ``Args:`` and reST ``:param x:`` descriptions."""
    docs: dict[str, str] = {}
    doc = inspect.getdoc(function) or ""
    for match in re.finditer(r":param\s+(\w+):\s*(.+)", doc):
        docs[match.group(1)] = match.group(2).strip()
    section = re.search(r"^(?:Args|Arguments|Parameters)\s*:\s*\n((?:[ \t]+.*\n?)+)", doc, re.MULTILINE)
    if section:
        for match in re.finditer(r"^[ \t]+(\w+)(?:\s*\([^)]*\))?\s*:\s*(.+)$", section.group(1), re.MULTILINE):
            docs.setdefault(match.group(1), match.group(2).strip())
    return docs


def _signature_schema(function: Callable[..., Any], described: Callable[..., Any]) -> dict[str, Any]:
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(described)
    except Exception:  # unresolvable forward references: fall back to no type information
        hints = {}
    docs = _param_docs(described)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or name in ("self", "cls"):
            continue
        schema = _type_schema(hints.get(name, Any))
        if name in docs:
            schema["description"] = docs[name]
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        elif parameter.default is None or isinstance(parameter.default, (str, int, float, bool)):
            schema["default"] = parameter.default
        properties[name] = schema
    schema_out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema_out["required"] = required
    return schema_out


_SIMPLE_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def _type_schema(annotation: Any) -> dict[str, Any]:
    if annotation in _SIMPLE_TYPES:
        return {"type": _SIMPLE_TYPES[annotation]}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple, set, frozenset, Sequence):
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin in (dict, Mapping):
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in args if arg is not type(None)]
        if len(options) == 1:
            return _type_schema(options[0])
        return {"anyOf": [_type_schema(option) for option in options]}
    return {}
