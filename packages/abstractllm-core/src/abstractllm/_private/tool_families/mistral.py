"""Mistral / Mistral-Nemo / Ministral: ``[TOOL_CALLS]`` then the calls.

- ``mistral`` (v3 tokenizers, v3-tekken): ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]``;
- ``mistral_v11`` (v11+ tokenizers, templates with ``[ARGS]``): ``[TOOL_CALLS]get_weather[ARGS]{...}``,
  one ``[TOOL_CALLS]`` per call.

Both read either form. Mistral templates demand call ids of 9 letters and digits: earlier calls and
their results are handed back with ids cut to their last 9 letters and digits (the same for a call
and its result).
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import Messages, ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

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


MISTRAL_V11 = ToolFamily(
    "mistral_v11",
    ToolMarkup(TOOL_CALLS, "", name_marker=ARGS),
    detect=_with_args,
    render_back=_render_back,
    named_call=(TOOL_CALLS + "{name}" + ARGS, ""),
)
