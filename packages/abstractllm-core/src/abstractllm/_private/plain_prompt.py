"""The text a local model without a chat template completes (pipeline and gguf modes).

One rule, whatever shape the conversation was given in (a string, a message list or
a :class:`~abstractllm.session.Session`):

- ``raw=True``: the prompt string, verbatim.
- A conversation that is exactly one user turn, with no system prompt and no tools
  offered: that turn's text, verbatim (the model completes it as a plain prompt).
- Anything more (a system prompt, several turns, tool results, tools offered): core's
  fallback chat format, :func:`abstractllm.request.render_plain_chat`, with offered tools
  described in the system line in the fallback tool format of
  :func:`abstractllm._private.tool_format.tool_prompt` and earlier tool calls written as
  ``<tool_call>`` blocks after the assistant's text.
"""

from __future__ import annotations

from abstractllm._private.tool_format import FALLBACK_MARKUP, ToolMarkup, call_markup, tool_prompt
from abstractllm.backend.messages import Message
from abstractllm.enums import MessageRole
from abstractllm.request import GenerationRequest, render_plain_chat

__all__ = ["plain_prompt_text", "single_user_turn"]


def single_user_turn(request: GenerationRequest) -> str | None:
    """The text of the request's only turn when it is one user turn, no system prompt, no tools offered."""
    messages = request.messages
    if len(messages) != 1 or messages[0].role != MessageRole.USER:
        return None
    if request.offers_tools:
        return None
    return messages[0].content or ""


def plain_prompt_text(request: GenerationRequest, markup: ToolMarkup = FALLBACK_MARKUP) -> str:
    """The prompt text for a model without a chat template (see the module docstring)."""
    if request.raw and request.prompt is not None:
        return request.prompt
    single = single_user_turn(request)
    if single is not None:
        return single
    messages = [_with_calls_shown(message, markup) for message in request.messages]
    if request.offers_tools:
        text = tool_prompt(request.tools, markup)
        if messages and messages[0].role == MessageRole.SYSTEM:
            existing = messages[0].content
            messages[0] = Message(role=MessageRole.SYSTEM.value, content=f"{existing}\n\n{text}" if existing else text)
        else:
            messages.insert(0, Message(role=MessageRole.SYSTEM.value, content=text))
    return render_plain_chat(messages)


def _with_calls_shown(message: Message, markup: ToolMarkup) -> Message:
    """An assistant turn with its tool calls written after its content in the fallback format."""
    if not message.tool_calls:
        return message
    blocks = "".join(call_markup(call.name, call.arguments, markup) for call in message.tool_calls)
    return Message(role=message.role, content=(message.content or "") + blocks)
