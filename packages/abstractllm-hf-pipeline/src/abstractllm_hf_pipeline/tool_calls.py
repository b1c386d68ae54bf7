"""Tool calls in a model's reply: the model's tool-call family, its markup, and how calls are read back.

The family (core's table, :mod:`abstractllm._private.tool_families`) is the one the ``tool_format``
option names, else the one detected in the tokenizer's chat template when that template renders
tools, else Hermes (core's prompted fallback)::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

A model whose tokenizer ships a ``response_template`` (transformers ≥ 5.13) is read with
``tokenizer.parse_response``; its ``tool_calls`` field's literal ``open`` / ``close`` anchors are
the markup. Core's reply assembler (``abstractllm.backend.ReplyAssembler``) takes the blocks out of
the text and decides what a call that cannot be read, or is cut short, becomes. A family's markers
that are special tokens (``[TOOL_CALLS]``, ``<|python_tag|>``, ...) are kept in the decoded text
while tools are offered (:func:`marker_ids`), so the assembler sees them.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from abstractllm.blocks import (
    ToolCallScan,
    ToolFamily,
    ToolMarkup,
    choose_family,
    read_tool_calls,
    render_chat,
    template_renders_tools,
    tool_call_from_data,
)
from abstractllm.tools import ToolDefinition

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "ToolSetup",
    "apply_template",
    "call_reader",
    "marker_ids",
    "tool_family",
    "tool_markup",
    "tool_rendering",
    "tool_setup",
]

logger = logging.getLogger(__name__)

_RENDERING: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()
_SETUPS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], ToolSetup]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ToolSetup:
    """How one model does tool calls: its ``family``, the ``markup`` it writes, and the ids of that
    markup's special-token markers (``markers``, kept in the decoded text when tools are offered)."""

    family: ToolFamily
    markup: ToolMarkup
    markers: frozenset[int]


def tool_setup(tokenizer: PreTrainedTokenizerBase, named: str | None = None) -> ToolSetup:
    """The model's :class:`ToolSetup` for the ``tool_format`` option ``named`` (found once per template and name)."""
    key = (str(getattr(tokenizer, "chat_template", None) or ""), named)
    setups = _SETUPS.setdefault(tokenizer, {})
    setup = setups.get(key)
    if setup is None:
        family = tool_family(tokenizer, named)
        markup = tool_markup(tokenizer, family)
        if markup != family.markup:  # the response template's anchors: forced calls are written in them too
            family = replace(family, markup=markup)
        setup = setups[key] = ToolSetup(family, markup, marker_ids(tokenizer, markup))
    return setup


def tool_rendering(tokenizer: PreTrainedTokenizerBase) -> str:
    """``"native"`` when the tokenizer's chat template renders tools, else ``"prompted"`` (probed once per template)."""
    template = str(getattr(tokenizer, "chat_template", None) or "")
    known = _RENDERING.get(tokenizer)
    if known is not None and known[0] == template:
        return known[1]
    native = bool(template) and template_renders_tools(lambda messages, tools: apply_template(tokenizer, messages, tools))
    rendering = "native" if native else "prompted"
    _RENDERING[tokenizer] = (template, rendering)
    return rendering


def apply_template(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]], tools: list[Any] | None) -> str:
    """The chat template applied to ``messages`` and ``tools``, ending with the assistant's turn (core's
    :func:`~abstractllm.blocks.render_chat`: an empty list for a template that cannot take no tools)."""

    from jinja2.exceptions import TemplateError  # what transformers' raise_exception raises

    def render(chat: list[dict[str, Any]], given: list[Any] | None) -> str:
        return str(tokenizer.apply_chat_template(chat, tools=given, tokenize=False, add_generation_prompt=True))

    return render_chat(render, messages, tools, refusal=TemplateError)


def _response_template(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any] | None:
    template = getattr(tokenizer, "response_template", None)
    if isinstance(template, Mapping) and hasattr(tokenizer, "parse_response"):
        return dict(template)
    return None


def tool_family(tokenizer: PreTrainedTokenizerBase, named: str | None = None) -> ToolFamily:
    """The model's tool-call family: ``named`` (the ``tool_format`` option), else detected (see the module docstring)."""
    template = str(getattr(tokenizer, "chat_template", None) or "")
    return choose_family(template, native=bool(template) and tool_rendering(tokenizer) == "native", named=named)


def tool_markup(tokenizer: PreTrainedTokenizerBase, family: ToolFamily) -> ToolMarkup:
    """The model's tool-call markup: from its response template when it has literal anchors, else the family's."""
    template = _response_template(tokenizer)
    field = (template or {}).get("fields", {}).get("tool_calls")
    if isinstance(field, Mapping) and isinstance(field.get("open"), str) and isinstance(field.get("close"), str):
        return ToolMarkup(field["open"], field["close"])
    return family.markup


def marker_ids(tokenizer: PreTrainedTokenizerBase, markup: ToolMarkup) -> frozenset[int]:
    """The ids of the special tokens written in the markup's markers (kept when decoding a reply with tools)."""
    special = {index for index, token in tokenizer.added_tokens_decoder.items() if token.special}
    return frozenset(
        token for marker in markup.markers() for token in tokenizer.encode(marker, add_special_tokens=False) if token in special
    )


def call_reader(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, tools: Sequence[ToolDefinition], markup: ToolMarkup
) -> Callable[[str], ToolCallScan] | None:
    """How to read the calls of a reply (the generated text after stop handling) with the
    tokenizer's ``parse_response``, or None for a tokenizer without a response template."""
    if _response_template(tokenizer) is None:
        return None

    def read(reply: str) -> ToolCallScan:
        try:
            message = tokenizer.parse_response(reply, prefix=prompt_text, tools=[tool.to_openai() for tool in tools])
        except Exception as exc:  # a reply the template cannot read: fall back and say so in the log
            logger.warning("parse_response could not read the reply (%s); using the family's own reader", exc)
            return read_tool_calls(reply, markup)
        calls = message.get("tool_calls") if isinstance(message, Mapping) else None
        return ToolCallScan([tool_call_from_data(call) for call in calls or []])

    return read
