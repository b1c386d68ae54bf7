"""Running the tool calls a model asked for, through the before/after tool-call hooks.

Every way of running a tool goes through here (``Session.generate_with_tools`` and
``GenerateResponse.execute_tool_calls``), so a plugin that refuses a call cannot be
sidestepped.

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from abstractllm.backend.calls import ToolCallContext
from abstractllm.backend.enums import MessageRole
from abstractllm.backend.messages import Message
from abstractllm.backend.tools import ToolCall

if TYPE_CHECKING:
    from abstractllm._private.plugins import Plugins

__all__ = [
    "ToolOutcome",
    "execute_tool_call",
    "execute_tool_call_async",
    "not_run_for_round_limit",
    "run_tool_calls",
    "run_tool_calls_async",
]

logger = logging.getLogger(__name__)


def _as_content(value: Any) -> str:
    """A tool's result as message text: a string as is, else JSON, else its ``repr`` (which may raise)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


@dataclass(frozen=True)
class ToolOutcome:
    """What running one call gave: the tool's ``output``, or ``error`` (why it did not run or how it failed).

    ``refused`` is True when a ``abstractllm_before_tool_call`` plugin refused the call
    (``error`` is then the plugin's text, given to the model as the tool's result).
    """

    call: ToolCall
    output: Any = None
    error: str | None = None
    refused: bool = False
    text: str | None = field(default=None, repr=False, compare=False)  # ``output`` as text, when already made

    def message(self) -> Message:
        """The ``tool`` message that gives this outcome to the model."""
        if self.refused:
            content, failed = self.error or "", True
        elif self.error is not None:
            content, failed = f"error: {self.error}", True
        else:
            content, failed = self.text if self.text is not None else _as_content(self.output), False
        return Message(
            role=MessageRole.TOOL.value,
            content=content,
            name=self.call.name,
            tool_call_id=self.call.id,
            metadata={"error": failed, "arguments": self.call.arguments},
        )


def _prepare(
    call: ToolCall, functions: Mapping[str, Callable[..., Any]], plugins: Plugins, round_: int, session_id: str | None
) -> tuple[ToolCallContext, ToolOutcome | None]:
    function = functions.get(call.name)
    context = ToolCallContext(call, function, round_, session_id)
    if call.error is not None:
        return context, ToolOutcome(call, error=call.error)
    if function is None:
        return context, ToolOutcome(call, error=f"tool {call.name!r} is not available")
    refusal = plugins.hook.abstractllm_before_tool_call(context=context)
    if refusal is not None:
        logger.info("tool call %s refused by a plugin", call.name)
        return context, ToolOutcome(call, error=str(refusal), refused=True)
    return context, None


def _finish(context: ToolCallContext, plugins: Plugins, result: Any, error: BaseException | None) -> ToolOutcome:
    plugins.hook.abstractllm_after_tool_call(context=context, result=result, error=error)
    if error is not None:
        logger.warning("tool %s raised %s", context.call.name, type(error).__name__, exc_info=error)
        return ToolOutcome(context.call, error=f"{type(error).__name__}: {_describe(error)}")
    try:
        text = _as_content(result)
    except Exception as exc:  # a result whose repr raises: the tool's error, like a tool that raises
        logger.warning("the result of tool %s cannot be turned into text", context.call.name, exc_info=exc)
        reason = f"{type(exc).__name__}: {_describe(exc)}"
        return ToolOutcome(
            context.call,
            error=f"{context.call.name} returned a {type(result).__name__} that cannot be turned into text ({reason})",
        )
    return ToolOutcome(context.call, output=result, text=text)


def _describe(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # an exception whose str raises too
        return "(no description)"


def not_run_for_round_limit(calls: Sequence[ToolCall], max_tool_rounds: int) -> list[Message]:
    """One ``tool`` message per call that a tool loop leaves unrun at its round limit, saying so
    (strict OpenAI-compatible servers reject a history with an unanswered tool call)."""
    reason = f"not run: the tool loop reached its limit of {max_tool_rounds} round(s) (max_tool_rounds)"
    return [ToolOutcome(call, error=reason).message() for call in calls]


def execute_tool_call(
    call: ToolCall,
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> ToolOutcome:
    """Run one call through the hooks. Async functions are not allowed here (their outcome is an error)."""
    context, early = _prepare(call, functions, plugins, round_, session_id)
    if early is not None:
        return early
    assert context.function is not None
    try:
        value = context.function(**call.arguments)
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()
            raise TypeError(f"{call.name} is async; use generate_with_tools_async")
    except Exception as exc:
        return _finish(context, plugins, None, exc)
    return _finish(context, plugins, value, None)


async def execute_tool_call_async(
    call: ToolCall,
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> ToolOutcome:
    """Like :func:`execute_tool_call`, awaiting async tool functions."""
    context, early = _prepare(call, functions, plugins, round_, session_id)
    if early is not None:
        return early
    assert context.function is not None
    try:
        value = context.function(**call.arguments)
        if inspect.isawaitable(value):
            value = await value
    except Exception as exc:
        return _finish(context, plugins, None, exc)
    return _finish(context, plugins, value, None)


def run_tool_calls(
    calls: Sequence[ToolCall],
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> list[Message]:
    """Run each call; one ``tool`` message per call, in order. Async functions are not allowed here."""
    return [execute_tool_call(call, functions, plugins, round_=round_, session_id=session_id).message() for call in calls]


async def run_tool_calls_async(
    calls: Sequence[ToolCall],
    functions: Mapping[str, Callable[..., Any]],
    plugins: Plugins,
    *,
    round_: int = 1,
    session_id: str | None = None,
) -> list[Message]:
    """Like :func:`run_tool_calls`, awaiting async tool functions."""
    return [
        (await execute_tool_call_async(call, functions, plugins, round_=round_, session_id=session_id)).message()
        for call in calls
    ]
