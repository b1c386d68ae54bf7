"""Turning a request into the exact token ids the model reads.

- ``request.raw``: the prompt string verbatim, tokenized with the tokenizer's own
  special tokens (e.g. a BOS when the tokenizer adds one).
- A tokenizer with a chat template: ``apply_chat_template(messages, tools=...,
  add_generation_prompt=True)``, tokenized without adding special tokens again (the
  template writes them). Offered tools (``tool_choice != "none"``) follow core's rule
  (:mod:`abstractllm.backend`): passed to a template that renders them
  (:func:`tool_rendering` is ``"native"``), otherwise described in the system message
  in the fallback format (``"prompted"``).
- No chat template: core's :func:`abstractllm.backend.plain_prompt_text` (one user
  turn as it is, anything more in the ``"Role: content"`` fallback, tools prompted).

With ``truncation`` the prompt keeps its *last* tokens so that prompt plus
``max_tokens`` fit the context window (at least one prompt token is kept).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.blocks import messages_with_tool_prompt, plain_prompt_text, template_renders_tools
from abstractllm.request import GenerationRequest
from abstractllm_hf_pipeline.tool_calls import tool_markup

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["EncodedPrompt", "encode_prompt", "has_chat_template", "tool_rendering"]

_RENDERING: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EncodedPrompt:
    """The prompt text (as rendered, before truncation) and the ids the model reads."""

    text: str
    ids: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)


def has_chat_template(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer ships a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def tool_rendering(tokenizer: PreTrainedTokenizerBase) -> str:
    """``"native"`` when the tokenizer's chat template renders tools, else ``"prompted"`` (probed once per template)."""
    template = str(getattr(tokenizer, "chat_template", None) or "")
    known = _RENDERING.get(tokenizer)
    if known is not None and known[0] == template:
        return known[1]
    native = bool(template) and template_renders_tools(lambda messages, tools: _apply(tokenizer, messages, tools))
    rendering = "native" if native else "prompted"
    _RENDERING[tokenizer] = (template, rendering)
    return rendering


def _render(tokenizer: PreTrainedTokenizerBase, request: GenerationRequest) -> tuple[str, bool]:
    """The prompt text and whether the tokenizer must add its special tokens."""
    if request.raw and request.prompt is not None:
        return request.prompt, True
    if not has_chat_template(tokenizer):
        return plain_prompt_text(request, tool_markup(tokenizer)), True
    messages = request.chat_dicts()
    tools: list[Any] | None = None
    if request.offers_tools:
        if tool_rendering(tokenizer) == "native":
            tools = [tool.to_openai() for tool in request.tools]
        else:
            messages = messages_with_tool_prompt(messages, request.tools, tool_markup(tokenizer))
    return _apply(tokenizer, messages, tools), False


def _apply(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]], tools: list[Any] | None) -> str:
    return str(tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True))


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase,
    request: GenerationRequest,
    *,
    context_window: int | None,
    truncation: bool,
) -> EncodedPrompt:
    """Render and tokenize ``request`` (see the module docstring for the rules)."""
    text, add_special = _render(tokenizer, request)
    ids: list[int] = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    if truncation and context_window is not None:
        keep = max(1, context_window - request.params.max_tokens)
        if len(ids) > keep:
            ids = ids[-keep:]
    return EncodedPrompt(text=text, ids=tuple(ids))
