"""Turning a request into the exact token ids the model reads.

- ``request.raw``: the prompt string verbatim, tokenized with the tokenizer's own
  special tokens (e.g. a BOS when the tokenizer adds one).
- A tokenizer with a chat template: ``apply_chat_template(messages, tools=...,
  add_generation_prompt=True)``, tokenized without adding special tokens again (the
  template writes them). Offered tools (``tool_choice != "none"``) follow core's rule
  (:mod:`abstractllm.backend`): passed to a template that renders them
  (:func:`tool_rendering` is ``"native"``; earlier calls and results adapted to what the
  model's tool-call family's template reads), otherwise described in the system message
  in the family's markup (``"prompted"``).
- No chat template: core's :func:`abstractllm.backend.plain_prompt_text` (one user
  turn as it is, anything more in the ``"Role: content"`` fallback, tools prompted).

With ``truncation`` the prompt keeps its *last* tokens so that prompt plus
``max_tokens`` fit the context window (at least one prompt token is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.blocks import ToolMarkup, messages_with_tool_prompt, plain_prompt_text
from abstractllm.request import GenerationRequest
from abstractllm_hf_pipeline.tool_calls import ToolSetup, apply_template, tool_rendering, tool_setup

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from abstractllm.blocks import ToolFamily

__all__ = ["EncodedPrompt", "encode_prompt", "has_chat_template", "tool_rendering"]


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


def _render(
    tokenizer: PreTrainedTokenizerBase, request: GenerationRequest, family: ToolFamily, markup: ToolMarkup
) -> tuple[str, bool]:
    """The prompt text and whether the tokenizer must add its special tokens."""
    if request.raw and request.prompt is not None:
        return request.prompt, True
    if not has_chat_template(tokenizer):
        return plain_prompt_text(request, markup), True
    messages = request.chat_dicts()
    tools: list[Any] | None = None
    if request.offers_tools:
        if tool_rendering(tokenizer) == "native":
            tools = [tool.to_openai() for tool in request.tools]
            messages = family.messages_for_template(messages, str(tokenizer.chat_template))
        else:
            messages = messages_with_tool_prompt(messages, request.tools, markup)
    elif tool_rendering(tokenizer) == "native":
        messages = family.history_for_template(messages, str(tokenizer.chat_template))
    return apply_template(tokenizer, messages, tools), False


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase,
    request: GenerationRequest,
    *,
    context_window: int | None,
    truncation: bool,
    tools: ToolSetup | None = None,
) -> EncodedPrompt:
    """Render and tokenize ``request`` for a model doing tool calls as ``tools`` says (default: as its template
    does; see the module docstring for the rules)."""
    setup = tools or tool_setup(tokenizer)
    text, add_special = _render(tokenizer, request, setup.family, setup.markup)
    ids: list[int] = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    if truncation and context_window is not None:
        keep = max(1, context_window - request.params.max_tokens)
        if len(ids) > keep:
            ids = ids[-keep:]
    return EncodedPrompt(text=text, ids=tuple(ids))
