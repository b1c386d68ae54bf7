"""What a backend is asked to do: one validated generation request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from abstractllm._private.messages import Message
from abstractllm._private.structured import ResponseFormat
from abstractllm.enums import MessageRole
from abstractllm.tools import ToolDefinition

__all__ = ["GenerationParams", "GenerationRequest", "ResponseFormat", "render_plain_chat"]


@dataclass(frozen=True)
class GenerationParams:
    """Validated sampling parameters (see ``abstractllm.options.GENERATION_OPTIONS``).

    ``extra`` holds validated backend-specific generation options.
    """

    temperature: float = 0.7
    max_tokens: int = 512
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    do_sample: bool | None = None
    num_return_sequences: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def greedy(self) -> bool:
        """True when decoding must be greedy: ``temperature == 0`` or ``do_sample=False``."""
        return self.temperature == 0 or self.do_sample is False


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, already validated by core.

    ``messages`` is the conversation (system prompt first, if any). ``prompt`` is the
    caller's plain string when one was given. With ``raw`` the backend must complete
    ``prompt`` verbatim without any chat template; otherwise it renders ``messages``
    through the model's chat template, or, for a model without one, uses
    :meth:`text_without_template`.
    """

    messages: tuple[Message, ...]
    params: GenerationParams
    prompt: str | None = None
    raw: bool = False
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: str = "none"
    response_format: ResponseFormat | None = None
    _encoded: Any = field(default=None, init=False, compare=False, repr=False)

    @property
    def offers_tools(self) -> bool:
        """Whether the model is offered tools: some are given and ``tool_choice`` is not ``"none"``."""
        return bool(self.tools) and self.tool_choice != "none"

    @property
    def forces_tool_call(self) -> bool:
        """Whether the reply must be a tool call: ``tool_choice`` is ``"required"`` or a tool's name."""
        return bool(self.tools) and self.tool_choice not in ("auto", "none")

    @property
    def encoded(self) -> Any:
        """This request's prompt as the backend's ``encode`` returned it when core checked the
        context window, or None. Core sets it once, before any plugin sees the request; a
        request built anew (``dataclasses.replace`` by a plugin, say) carries none, so a
        backend never generates from a stale encoding."""
        return self._encoded

    def chat_dicts(self) -> list[dict[str, Any]]:
        """``messages`` in the OpenAI chat shape, ready for ``apply_chat_template`` or an API."""
        return [message.to_chat_dict() for message in self.messages]

    def text_without_template(self) -> str:
        """The text a model without a chat template completes.

        A conversation of exactly one user turn (no system prompt), given as a string or as a
        message list, is completed as it is, like the original AbstractLLM did; anything else
        goes through :func:`render_plain_chat` (the rule of :mod:`abstractllm._private.plain_prompt`).
        """
        if self.raw and self.prompt is not None:
            return self.prompt
        if len(self.messages) == 1 and self.messages[0].role == MessageRole.USER:
            return self.messages[0].content or ""
        return render_plain_chat(self.messages)


def render_plain_chat(messages: tuple[Message, ...] | list[Message]) -> str:
    """The documented fallback chat format for models without a template.

    Each turn is ``"<Role>: <content>"`` on its own line (tool results as
    ``"Tool (<name>): ..."``), ending with ``"Assistant:"`` for the model to continue.
    """
    lines = []
    for message in messages:
        if message.role == MessageRole.TOOL:
            lines.append(f"Tool ({message.name or message.tool_call_id or 'result'}): {message.content or ''}")
        else:
            lines.append(f"{str(message.role).capitalize()}: {message.content or ''}")
    lines.append("Assistant:")
    return "\n".join(lines)
