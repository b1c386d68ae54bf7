"""Mistral / Mistral-Nemo / Ministral: ``[TOOL_CALLS]`` then the calls.

- ``mistral`` (v3 tokenizers, v3-tekken): ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]``;
- ``mistral_v11`` (v11+ tokenizers, templates with ``[ARGS]``): ``[TOOL_CALLS]get_weather[ARGS]{...}``,
  one ``[TOOL_CALLS]`` per call.

Both read either form. Mistral templates demand call ids of 9 letters and digits: earlier calls and
their results are handed back with ids cut to their last 9 letters and digits (the same for a call
and its result).
"""

from __future__ import annotations

from collections.abc import Sequence

from abstractllm._private.tool_families.family import ForcedCall, Messages, ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup
from abstractllm.tools import ToolDefinition

__all__ = ["MISTRAL", "MISTRAL_V11", "mistral_id"]

TOOL_CALLS = "[TOOL_CALLS]"
ARGS = "[ARGS]"


def mistral_id(call_id: str) -> str:
    """``call_id`` as the 9 letters and digits Mistral's templates demand (its last 9, zero-padded)."""
    kept = "".join(char for char in call_id if char.isascii() and char.isalnum())
    return kept[-9:].rjust(9, "0")


def _render_back(messages: Messages, template: str) -> Messages:
    result = []
    for message in arguments_as_objects(messages):
        calls = message.get("tool_calls")
        if calls:
            message = {**message, "tool_calls": [{**call, "id": mistral_id(str(call.get("id", "")))} for call in calls]}
        if message.get("role") == "tool" and isinstance(message.get("tool_call_id"), str):
            message = {**message, "tool_call_id": mistral_id(message["tool_call_id"])}
        result.append(message)
    return result


def _with_args(template: str) -> bool:
    return TOOL_CALLS in template and ARGS in template


def _without_args(template: str) -> bool:
    return TOOL_CALLS in template and ARGS not in template


MISTRAL = ToolFamily(
    "mistral",
    ToolMarkup(TOOL_CALLS, "", name_marker=ARGS),
    detect=_without_args,
    list_body=True,
    render_back=_render_back,
)


class _NamedCalls(ToolFamily):
    """The v11 family: a forced call is ``[TOOL_CALLS]<name>[ARGS]{arguments}`` for the one tool named."""

    def forced_call(self, tools: Sequence[ToolDefinition], choice: str) -> ForcedCall:
        named = [tool for tool in tools if choice == "required" or tool.name == choice]
        if len(named) != 1:  # several tools allowed: the v3 list form, which this family reads too
            return MISTRAL.forced_call(tools, choice)
        tool = named[0]
        return ForcedCall(f"{TOOL_CALLS}{tool.name}{ARGS}", tool.input_schema or {"type": "object"}, "")


MISTRAL_V11 = _NamedCalls(
    "mistral_v11",
    ToolMarkup(TOOL_CALLS, "", name_marker=ARGS),
    detect=_with_args,
    render_back=_render_back,
)
