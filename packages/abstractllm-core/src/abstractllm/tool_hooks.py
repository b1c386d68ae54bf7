"""Running the tool calls a model asked for, through the before/after tool-call hooks.

Only functions the caller passed are ever run: a call naming anything else, or whose
arguments failed the tool's schema, becomes an error result for the model. A refusal
from ``abstractllm_before_tool_call`` is given to the model as the tool's result. An
exception inside a tool is logged and given to the model as the tool's error.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.enums import MessageRole
from abstractllm.messages import Message
from abstractllm.tools import ToolCall

if TYPE_CHECKING:
    from abstractllm.plugins import Plugins

__all__ = ["ToolCallContext", "run_tool_calls", "run_tool_calls_async"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolCallContext:
    """What the tool-call hooks see: the ``call``, the function that would run, the round."""

    call: ToolCall
    function: Callable[..., Any] | None
    round: int
    session_id: str | None = None


def _as_content(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _result_message(call: ToolCall, content: str, error: bool) -> Message:
    return Message(
        role=MessageRole.TOOL.value,
        content=content,
        name=call.name,
        tool_call_id=call.id,
        metadata={"error": error, "arguments": call.arguments},
    )


def _prepare(
    call: ToolCall, functions: Mapping[str, Callable[..., Any]], plugins: Plugins, round_: int, session_id: str | None
) -> tuple[ToolCallContext, Message | None]:
    function = functions.get(call.name)
    context = ToolCallContext(call, function, round_, session_id)
    if call.error is not None:
        return context, _result_message(call, f"error: {call.error}", True)
    if function is None:
        return context, _result_message(call, f"error: tool {call.name!r} is not available", True)
    refusal = plugins.hook.abstractllm_before_tool_call(context=context)
    if refusal is not None:
        logger.info("tool call %s refused by a plugin", call.name)
        return context, _result_message(call, str(refusal), True)
    return context, None


def _finish(context: ToolCallContext, plugins: Plugins, result: Any, error: BaseException | None) -> Message:
    plugins.hook.abstractllm_after_tool_call(context=context, result=result, error=error)
    if error is not None:
        logger.warning("tool %s raised %s: %s", context.call.name, type(error).__name__, error, exc_info=error)
        return _result_message(context.call, f"error: {type(error).__name__}: {error}", True)
    return _result_message(context.call, _as_content(result), False)


def run_tool_calls(
    calls: Sequence[ToolCall],
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> list[Message]:
    """Run each call; one ``tool`` message per call, in order. Async functions are not allowed here."""
    results = []
    for call in calls:
        context, early = _prepare(call, functions, plugins, round_, session_id)
        if early is not None:
            results.append(early)
            continue
        assert context.function is not None
        try:
            value = context.function(**call.arguments)
            if inspect.isawaitable(value):
                close = getattr(value, "close", None)
                if close is not None:
                    close()
                raise TypeError(f"{call.name} is async; use generate_with_tools_async")
        except Exception as exc:
            results.append(_finish(context, plugins, None, exc))
        else:
            results.append(_finish(context, plugins, value, None))
    return results


async def run_tool_calls_async(
    calls: Sequence[ToolCall],
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> list[Message]:
    """Like :func:`run_tool_calls`, awaiting async tool functions."""
    results = []
    for call in calls:
        context, early = _prepare(call, functions, plugins, round_, session_id)
        if early is not None:
            results.append(early)
            continue
        assert context.function is not None
        try:
            value = context.function(**call.arguments)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            results.append(_finish(context, plugins, None, exc))
        else:
            results.append(_finish(context, plugins, value, None))
    return results
