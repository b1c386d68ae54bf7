"""Turning a request into the exact token ids the model reads.

- ``request.raw``: the prompt string verbatim, tokenized with the tokenizer's own
  special tokens (e.g. a BOS when the tokenizer adds one).
- A tokenizer with a chat template: ``apply_chat_template(messages, tools=...,
  add_generation_prompt=True)``, tokenized without adding special tokens again (the
  template writes them). Tools are passed unless ``tool_choice == "none"``.
- No chat template (the documented fallback): ``request.text_without_template()`` —
  a plain prompt as it is, anything else in core's ``"Role: content"`` format.

With ``truncation`` the prompt keeps its *last* tokens so that prompt plus
``max_tokens`` fit the context window (at least one prompt token is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abstractllm.request import GenerationRequest

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["EncodedPrompt", "encode_prompt", "has_chat_template"]


@dataclass(frozen=True)
class EncodedPrompt:
    """The prompt text (as rendered, before truncation) and the ids the model reads."""

    text: str
    ids: tuple[int, ...]


def has_chat_template(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer ships a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def _render(tokenizer: PreTrainedTokenizerBase, request: GenerationRequest) -> tuple[str, bool]:
    """The prompt text and whether the tokenizer must add its special tokens."""
    if request.raw and request.prompt is not None:
        return request.prompt, True
    if not has_chat_template(tokenizer):
        return request.text_without_template(), True
    tools: list[Any] | None = None
    if request.tools and request.tool_choice != "none":
        tools = [tool.to_openai() for tool in request.tools]
    text = tokenizer.apply_chat_template(request.chat_dicts(), tools=tools, tokenize=False, add_generation_prompt=True)
    return str(text), False


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
