"""Tool calls in a model's reply: their markup and how they are read back.

A model whose tokenizer ships a ``response_template`` (transformers ≥ 5.13) is read
with ``tokenizer.parse_response``; its ``tool_calls`` field's literal ``open`` /
``close`` anchors are the markup. Every other model uses core's fallback markup and
parser (:func:`abstractllm.backend.read_tool_calls`)::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

Core's reply assembler (``abstractllm.backend.ReplyAssembler``) takes the blocks out of
the text and decides what a call that cannot be read, or is cut short, becomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from abstractllm.blocks import FALLBACK_MARKUP, ToolCallScan, ToolMarkup, read_tool_calls, tool_call_from_data
from abstractllm.tools import ToolDefinition

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["call_reader", "tool_markup"]

logger = logging.getLogger(__name__)


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


def call_reader(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, tools: Sequence[ToolDefinition]
) -> Callable[[str], ToolCallScan] | None:
    """How to read the calls of a reply (the generated text after stop handling) with the
    tokenizer's ``parse_response``, or None for a tokenizer without a response template."""
    if _response_template(tokenizer) is None:
        return None

    def read(reply: str) -> ToolCallScan:
        try:
            message = tokenizer.parse_response(reply, prefix=prompt_text, tools=[tool.to_openai() for tool in tools])
        except Exception as exc:  # a reply the template cannot read: fall back and say so in the log
            logger.warning("parse_response could not read the reply (%s); using the <tool_call> fallback", exc)
            return read_tool_calls(reply, tool_markup(tokenizer))
        calls = message.get("tool_calls") if isinstance(message, Mapping) else None
        return ToolCallScan([tool_call_from_data(call) for call in calls or []])

    return read
