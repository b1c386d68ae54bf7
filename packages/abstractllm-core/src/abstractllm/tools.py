"""Tool definitions and tool calls.

A tool is given to ``generate(tools=[...])`` as a Python function (its schema is
derived from the signature, type hints and docstring), a dict in the OpenAI function
format, or a :class:`ToolDefinition`. A model's request to run a tool is a
:class:`ToolCall`; arguments are checked against the tool's schema and problems are
recorded in ``ToolCall.error``, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abstractllm._private.json_schema import require_usable_schema, schema_errors
from abstractllm.backend.tools import ToolCall as ToolCall
from abstractllm.backend.tools import ToolChoice as ToolChoice
from abstractllm.backend.tools import ToolDefinition as ToolDefinition
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
