"""Tool definitions and tool calls.

A tool is given to ``generate(tools=[...])`` as a Python function (its schema is
derived from the signature, type hints and docstring), a dict in the OpenAI function
format, or a :class:`ToolDefinition`. A model's request to run a tool is a
:class:`ToolCall`; arguments are checked against the tool's schema and problems are
recorded in ``ToolCall.error``, never dropped.
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

from abstractllm._private.json_schema import require_usable_schema, schema_errors
from abstractllm.errors import InvalidArgumentError

__all__ = [
    "ToolCall",
    "ToolChoice",
    "ToolDefinition",
    "ToolResult",
    "check_tool_calls",
    "function_to_tool_definition",
    "normalize_tool_choice",
    "normalize_tools",
]

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


def normalize_tools(tools: Sequence[Any] | None) -> tuple[ToolDefinition, ...]:
    """Turn functions, OpenAI dicts and ``ToolDefinition`` objects into definitions.

    Raises ``InvalidArgumentError`` (parameter ``tools``) for anything else or for a
    duplicate name.
    """
    if not tools:
        return ()
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise InvalidArgumentError(
            f"tools must be a list, got {type(tools).__name__}",
            parameter="tools",
            value=type(tools).__name__,
            allowed="a list of tools",
        )
    result: list[ToolDefinition] = []
    for index, tool in enumerate(tools):
        if isinstance(tool, ToolDefinition):
            definition = tool
        elif isinstance(tool, Mapping):
            definition = _definition_from_mapping(tool, index)
        elif callable(tool):
            definition = ToolDefinition.from_function(tool, where=f"tools[{index}]")
        else:
            raise InvalidArgumentError(
                f"tools[{index}] is a {type(tool).__name__}; pass a function, an OpenAI function dict or a ToolDefinition",
                parameter="tools",
                value=type(tool).__name__,
                allowed="function, dict or ToolDefinition",
            )
        require_usable_schema(
            definition.input_schema, what=f"tools[{index}] ({definition.name!r})'s parameter schema", parameter="tools"
        )
        if any(existing.name == definition.name for existing in result):
            raise InvalidArgumentError(
                f"two tools are named {definition.name!r}; tool names must be unique", parameter="tools", value=definition.name
            )
        result.append(definition)
    return tuple(result)


def normalize_tool_choice(tool_choice: Any, tools: Sequence[ToolDefinition]) -> str:
    """Check ``tool_choice`` against the tools; returns "auto", "none", "required" or a tool name."""
    if tool_choice is None:
        return "auto" if tools else "none"
    if isinstance(tool_choice, Mapping):  # OpenAI's {"type": "function", "function": {"name": ...}}
        function = tool_choice.get("function")
        tool_choice = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(tool_choice, str):
        raise InvalidArgumentError(
            "tool_choice must be 'auto', 'none', 'required' or a tool name",
            parameter="tool_choice",
            value=tool_choice,
            allowed="'auto', 'none', 'required' or a tool name",
        )
    names = [tool.name for tool in tools]
    if tool_choice in ("auto", "none"):
        return tool_choice
    if not tools:
        raise InvalidArgumentError(
            f"tool_choice={tool_choice!r} needs tools; pass tools=[...]", parameter="tool_choice", value=tool_choice
        )
    if tool_choice == "required" or tool_choice in names:
        return tool_choice
    raise InvalidArgumentError(
        f"tool_choice={tool_choice!r} names no tool; the tools are {names}",
        parameter="tool_choice",
        value=tool_choice,
        allowed=", ".join(["auto", "none", "required", *names]),
    )


def check_tool_calls(calls: Sequence[ToolCall], tools: Sequence[ToolDefinition]) -> list[ToolCall]:
    """Mark calls to unknown tools and calls whose arguments break the tool's schema (``error``)."""
    by_name = {tool.name: tool for tool in tools}
    for call in calls:
        if call.error is not None:
            continue
        tool = by_name.get(call.name)
        if tool is None:
            call.error = f"unknown tool {call.name!r}; the tools are {sorted(by_name)}"
            continue
        problems = schema_errors(call.arguments, tool.input_schema)
        if problems:
            call.error = "invalid arguments: " + "; ".join(problems)
    return list(calls)


def _definition_from_mapping(tool: Mapping[str, Any], index: int) -> ToolDefinition:
    function = tool.get("function") if tool.get("type") == "function" else tool
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidArgumentError(
            f"tools[{index}] has no function name; use {{'type': 'function', 'function': {{'name': ..., 'parameters': ...}}}}",
            parameter="tools",
            value=dict(tool),
        )
    schema = function.get("parameters", function.get("input_schema")) or {"type": "object", "properties": {}}
    if not isinstance(schema, Mapping):
        raise InvalidArgumentError(
            f"tools[{index}] parameters must be a JSON schema object", parameter="tools", value=type(schema).__name__
        )
    return ToolDefinition(name=function["name"], description=str(function.get("description") or ""), input_schema=dict(schema))


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


@dataclass(frozen=True)
class ToolResult:
    """The original library's record of one tool run: ``call_id``, ``result`` and ``error``."""

    call_id: str
    result: Any
    error: str | None = None


def function_to_tool_definition(function: Callable[..., Any]) -> ToolDefinition:
    """Alias of :meth:`ToolDefinition.from_function`: the original library's name."""
    return ToolDefinition.from_function(function)


def __getattr__(name: str) -> Any:
    # ToolCallRequest: alias of abstractllm.response.GenerateResponse, the original library's name (the
    # response carries content, tool_calls and execute_tool_calls); imported lazily because
    # abstractllm.response depends on this module.
    if name == "ToolCallRequest":
        from abstractllm.response import GenerateResponse

        return GenerateResponse
    raise AttributeError(f"module 'abstractllm.tools' has no attribute {name!r}")
