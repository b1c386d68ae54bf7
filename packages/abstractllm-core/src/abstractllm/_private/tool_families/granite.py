"""Granite 3.x: ``<|tool_call|>[{"name": ..., "arguments": {...}}, ...]`` to the end of the reply.

Detected by ``<|tool_call|>`` in a template of Granite's role tokens (``<|start_of_role|>``). Granite
3.0's template reads earlier calls as an ``assistant_tool_call`` turn (the calls' JSON list) and
results as ``tool_response`` turns; a template that reads ``tool_calls`` itself gets them as they are.
"""

from __future__ import annotations

import json

from abstractllm._private.tool_families.family import Messages, ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["GRANITE"]

OPEN = "<|tool_call|>"


def _render_back(messages: Messages, template: str) -> Messages:
    messages = arguments_as_objects(messages)
    if "tool_calls" in template:
        return messages
    result = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            listed = [{"name": call["function"]["name"], "arguments": call["function"]["arguments"]} for call in calls]
            message = {"role": "assistant_tool_call", "content": json.dumps(listed)}
        elif message.get("role") == "tool":
            message = {"role": "tool_response", "content": message.get("content") or ""}
        result.append(message)
    return result


GRANITE = ToolFamily(
    "granite",
    ToolMarkup(OPEN, ""),
    detect=lambda template: OPEN in template and "<|start_of_role|>" in template,
    list_body=True,
    render_back=_render_back,
)
