"""What a backend is asked to do: one validated generation request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from abstractllm.backend.enums import MessageRole
from abstractllm.backend.messages import Message
from abstractllm.backend.tools import ToolDefinition

__all__ = ["GenerationParams", "GenerationRequest", "PromptEncoding", "ResponseFormat", "render_plain_chat"]


@dataclass(frozen=True)
class ResponseFormat:
    """``kind`` is ``"json_object"`` (any JSON object) or ``"json_schema"`` (``schema`` applies)."""

    kind: str
    schema: dict[str, Any] | None = None
    name: str = "response"

    def json_schema(self) -> dict[str, Any]:
        """The schema to constrain decoding with (``{"type": "object"}`` for ``json_object``)."""
        return self.schema if self.schema is not None else {"type": "object"}

    def to_openai(self) -> dict[str, Any]:
        if self.kind == "json_object":
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.schema, "strict": True}}


@dataclass(frozen=True)
class GenerationParams:
    """Validated sampling parameters (see ``abstractllm.options.GENERATION_OPTIONS``).

    ``extra`` holds validated backend-specific generation options. A params object may be shared
    by many requests (core reuses one for calls giving the same values): read it, never change it;
    ``dataclasses.replace`` makes a changed copy.
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
class PromptEncoding:
    """A request's prompt in a backend's own form (``value``, whose ``len()`` is its token count)
    and the part of the request it encodes (``source``)."""

    value: Any
    source: tuple[Any, ...]


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
    #: The prompt as the backend's ``encode`` returned it, with what it encodes; set by :meth:`with_encoded`.
    encoding: PromptEncoding | None = field(default=None, compare=False, repr=False)

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
        context window, or None. Core sets it once (:meth:`with_encoded`), before any plugin sees
        the request. It holds only while the prompt is the one encoded: a request whose messages,
        prompt, tools or format a plugin changed (``dataclasses.replace``) reads None here, so a
        backend never generates from a stale encoding; one with other params keeps it."""
        encoding = self.encoding
        return encoding.value if encoding is not None and encoding.source == self._prompt_source() else None

    def with_encoded(self, value: Any) -> GenerationRequest:
        """This request carrying ``value`` as its :attr:`encoded` prompt (a copy; this one is unchanged)."""
        copy = object.__new__(type(self))  # ``dataclasses.replace`` would run __init__ again: 2 µs a call
        copy.__dict__.update(self.__dict__)
        object.__setattr__(copy, "encoding", PromptEncoding(value, self._prompt_source()))
        return copy

    def _prompt_source(self) -> tuple[Any, ...]:
        return (self.messages, self.prompt, self.raw, self.tools, self.tool_choice, self.response_format)

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
