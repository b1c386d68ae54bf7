"""Tool calls in a model's reply: their markup and how they are read back.

A model whose tokenizer ships a ``response_template`` (transformers ≥ 5.13) is read
with ``tokenizer.parse_response``; its ``tool_calls`` field's literal ``open`` /
``close`` anchors are the markup. Every other model uses the documented fallback,
the common Hermes/Qwen format::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

(one JSON object per call; ``arguments`` may also be a JSON string or be named
``parameters``). A call that cannot be read is reported as a ``ToolCall`` whose
``error`` says why, never dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.tools import ToolCall, ToolDefinition

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["FALLBACK_MARKUP", "ToolMarkup", "parse_tool_calls", "tool_markup"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolMarkup:
    """The text around one tool call's ``{"name": ..., "arguments": ...}`` JSON."""

    open: str
    close: str


FALLBACK_MARKUP = ToolMarkup("<tool_call>", "</tool_call>")


def _response_template(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any] | None:
    template = getattr(tokenizer, "response_template", None)
    if isinstance(template, Mapping) and hasattr(tokenizer, "parse_response"):
        return dict(template)
    return None


def tool_markup(tokenizer: PreTrainedTokenizerBase) -> ToolMarkup:
    """The model's tool-call markup: from its response template when it has literal anchors, else the fallback."""
    template = _response_template(tokenizer)
    field = (template or {}).get("fields", {}).get("tool_calls")
    if isinstance(field, Mapping) and isinstance(field.get("open"), str) and isinstance(field.get("close"), str):
        return ToolMarkup(field["open"], field["close"])
    return FALLBACK_MARKUP


def parse_tool_calls(
    tokenizer: PreTrainedTokenizerBase, reply: str, prompt_text: str, tools: Sequence[ToolDefinition]
) -> list[ToolCall]:
    """Tool calls in ``reply`` (the generated text after stop handling)."""
    template = _response_template(tokenizer)
    if template is not None:
        try:
            message = tokenizer.parse_response(reply, prefix=prompt_text, tools=[tool.to_openai() for tool in tools])
        except Exception as exc:  # a reply the template cannot read: fall back and say so in the log
            logger.warning("parse_response could not read the reply (%s); using the <tool_call> fallback", exc)
        else:
            calls = message.get("tool_calls") if isinstance(message, Mapping) else None
            return [_call(call) for call in calls or []]
    return _fallback_calls(reply, tool_markup(tokenizer))


def _call(data: Any) -> ToolCall:
    if not isinstance(data, Mapping):
        return ToolCall(name="unknown", arguments={}, error=f"the tool call is not a JSON object: {data!r}")
    nested = data.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return ToolCall(name="unknown", arguments={}, error=f"the tool call names no tool: {json.dumps(data)[:200]}")
    arguments = function.get("arguments", function.get("parameters", {}))
    return ToolCall.from_dict({"name": name, "arguments": arguments, **({"id": data["id"]} if "id" in data else {})})


def _fallback_calls(reply: str, markup: ToolMarkup) -> list[ToolCall]:
    """Each ``open`` marker followed by one JSON value (read with ``raw_decode``, so markup inside
    JSON strings is harmless) is a call; the ``close`` marker is optional (a reply cut by
    ``max_tokens`` still reports its call, as an error if its JSON is incomplete)."""
    calls = []
    decoder = json.JSONDecoder()
    position = reply.find(markup.open)
    while position >= 0:
        start = position + len(markup.open)
        while start < len(reply) and reply[start].isspace():
            start += 1
        try:
            data, end = decoder.raw_decode(reply, start)
        except json.JSONDecodeError as exc:
            body = reply[start:].split(markup.close, 1)[0]
            calls.append(
                ToolCall(name="unknown", arguments={}, error=f"the tool call is not valid JSON ({exc.msg}): {body[:200]}")
            )
            position = reply.find(markup.open, start)
            continue
        calls.append(_call(data))
        position = reply.find(markup.open, end)
    return calls
