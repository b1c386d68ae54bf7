"""Chat formats: how a conversation becomes the prompt text a GGUF model completes.

The default is the chat template stored in the GGUF metadata (``tokenizer.chat_template``),
rendered with llama-cpp-python's ``Jinja2ChatFormatter``. ``chat_format`` may instead name
another template of the file (``chat_template.<name>``) or one of llama-cpp-python's
registered formats (``chatml``, ``llama-2``, ...). A file without a template uses core's
plain fallback (:func:`abstractllm.backend.plain_prompt_text`).

Tools follow core's tool rule (:mod:`abstractllm.backend`): a format whose template renders
them gets them (``tool_rendering == "native"``), with earlier calls and results adapted to what
the template's tool-call family reads (:meth:`ChatFormat.family`); any other format gets them
described in the system message in the family's markup, Hermes unless named (``"prompted"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from abstractllm.blocks import ToolFamily, choose_family, messages_with_tool_prompt, render_chat, template_renders_tools
from abstractllm.errors import InvalidArgumentError
from abstractllm.tools import normalize_tools

__all__ = ["DEFAULT_TEMPLATE", "ChatFormat", "RenderedChat", "available_chat_formats", "check_chat_format", "make_chat_format"]

DEFAULT_TEMPLATE = "chat_template.default"
_TEMPLATE_KEY = "tokenizer.chat_template"


@dataclass(frozen=True)
class RenderedChat:
    """A rendered conversation: ``text`` to tokenize (special tokens parsed), whether the
    model's BOS must still be added, and the format's extra stop strings."""

    text: str
    add_bos: bool
    stop: tuple[str, ...]


_Render = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], RenderedChat]


@dataclass(frozen=True)
class ChatFormat:
    """A named way to render conversations; ``template`` is the Jinja source when there is one.

    ``render(messages, tools, family)`` applies core's tool rule for a model of tool-call
    ``family`` (default: :meth:`family`); ``tool_rendering`` says which way tools are shown
    (``"native"`` or ``"prompted"``).
    """

    name: str
    render: Callable[..., RenderedChat]
    template: str | None
    tool_rendering: str = "prompted"

    def family(self, named: str | None = None) -> ToolFamily:
        """The tool-call family of this format's model: ``named`` (the ``tool_format`` option), else the one
        its template shows when it renders tools, else Hermes (core's prompted fallback)."""
        return choose_family(self.template, native=self.tool_rendering == "native", named=named)


def _with_tool_rule(name: str, render: _Render, template: str | None) -> ChatFormat:
    """``render`` wrapped so that tools it does not render go into the prompt (core's fallback)."""
    native = template_renders_tools(lambda messages, tools: render(messages, tools).text)
    default = choose_family(template, native=native)

    def render_with_tools(
        messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, family: ToolFamily | None = None
    ) -> RenderedChat:
        family = family or default
        if tools and not native:
            return render(messages_with_tool_prompt(messages, normalize_tools(tools), family.markup), None)
        if tools:
            messages = family.messages_for_template(messages, template or "")
        elif native:
            messages = family.history_for_template(messages, template or "")
        return render(messages, tools)

    return ChatFormat(name, render_with_tools, template, "native" if native else "prompted")


def _gguf_templates(metadata: Mapping[str, Any]) -> dict[str, str]:
    templates = {
        "chat_template." + key[len(_TEMPLATE_KEY) + 1 :]: value
        for key, value in metadata.items()
        if key.startswith(_TEMPLATE_KEY + ".") and isinstance(value, str)
    }
    if isinstance(metadata.get(_TEMPLATE_KEY), str):
        templates[DEFAULT_TEMPLATE] = metadata[_TEMPLATE_KEY]
    return templates


def _registered_formatters() -> dict[str, Any]:
    """llama-cpp-python's registered chat formats that are plain prompt formatters."""
    from llama_cpp import llama_chat_format

    formatters = {}
    for name, handler in llama_chat_format.LlamaChatCompletionHandlerRegistry()._chat_handlers.items():
        code = getattr(handler, "__code__", None)
        cells = getattr(handler, "__closure__", None) or ()
        if code is None:
            continue
        captured = dict(zip(code.co_freevars, cells, strict=False))
        if "chat_formatter" in captured:
            formatters[name] = captured["chat_formatter"].cell_contents
    return formatters


def available_chat_formats(metadata: Mapping[str, Any]) -> list[str]:
    """Every ``chat_format`` value this file accepts: its own templates, then llama.cpp's formats."""
    return sorted(_gguf_templates(metadata)) + sorted(_registered_formatters())


def make_chat_format(name: str | None, metadata: Mapping[str, Any], bos_token: str, eos_token: str) -> ChatFormat | None:
    """The chat format ``name`` (default: the file's template); None when the file has none.

    Raises ``InvalidArgumentError`` listing the valid names for an unknown ``name``.
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    templates = _gguf_templates(metadata)
    if name is None:
        if DEFAULT_TEMPLATE not in templates:
            return None
        name = DEFAULT_TEMPLATE
    if name in templates:
        formatter = Jinja2ChatFormatter(template=templates[name], eos_token=eos_token, bos_token=bos_token)

        def render_template(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> RenderedChat:
            result = render_chat(
                lambda chat, given: formatter(messages=chat, tools=given),  # type: ignore[arg-type]
                messages,
                tools or None,
                refusal=ValueError,  # what llama-cpp-python's raise_exception raises
            )
            return RenderedChat(result.prompt, add_bos=not result.added_special, stop=_stops(result.stop))

        return _with_tool_rule(name, render_template, templates[name])
    registered = _registered_formatters()
    if name in registered:
        named = registered[name]

        def render_registered(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> RenderedChat:
            result = named(messages=messages)
            return RenderedChat(result.prompt, add_bos=not result.added_special, stop=_stops(result.stop))

        return _with_tool_rule(name, render_registered, None)
    raise _unknown(name, metadata)


def check_chat_format(name: str | None, metadata: Mapping[str, Any]) -> None:
    """Raise ``InvalidArgumentError`` listing the valid names when ``name`` is not one of this file's."""
    if name is not None and name not in _gguf_templates(metadata) and name not in _registered_formatters():
        raise _unknown(name, metadata)


def _unknown(name: str, metadata: Mapping[str, Any]) -> InvalidArgumentError:
    valid = available_chat_formats(metadata)
    return InvalidArgumentError(
        f"chat_format={name!r} is unknown; valid chat formats: {', '.join(valid)}",
        parameter="chat_format",
        value=name,
        allowed=", ".join(valid),
    )


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(item for item in stop if item)
