"""From a request to prompt tokens, following core's chat rules.

``raw`` completes ``request.prompt`` verbatim; otherwise the conversation goes through
the chat format (tools offered are shown by core's rule, see
:mod:`abstractllm_hf_gguf.chat`); a file without a chat template completes
:func:`abstractllm.backend.plain_prompt_text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from abstractllm.blocks import ToolFamily, plain_prompt_text
from abstractllm.request import GenerationRequest
from abstractllm_hf_gguf.chat import ChatFormat
from abstractllm_hf_gguf.model import LoadedModel

__all__ = ["Prompt", "render_prompt"]


@dataclass(frozen=True)
class Prompt:
    """The tokens to complete and the chat format's extra stop strings."""

    tokens: list[int]
    stop: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.tokens)


def render_prompt(model: LoadedModel, chat_format: ChatFormat | None, request: GenerationRequest, family: ToolFamily) -> Prompt:
    """Tokens of ``request`` exactly as they are fed to a model of tool-call ``family``."""
    if request.raw and request.prompt is not None:
        return Prompt(model.tokenize(request.prompt, add_bos=True), ())
    if chat_format is None:
        return Prompt(model.tokenize(plain_prompt_text(request, family.markup), add_bos=True), ())
    tools = [tool.to_openai() for tool in request.tools] if request.offers_tools else None
    rendered = chat_format.render(request.chat_dicts(), tools, family)
    return Prompt(model.tokenize(rendered.text, add_bos=rendered.add_bos), rendered.stop)
