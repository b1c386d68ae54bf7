"""The tool-call families: how each model family writes, reads, forces and renders back tool calls.

A family (:class:`~abstractllm._private.tool_families.family.ToolFamily`) gives the markup its
models write (read by core's one parser, :func:`abstractllm._private.tool_format.read_tool_calls`,
and taken out of the text by core's reply assembler, streamed or not), the shape of one forced
call (a JSON schema between the markup's literal text, compiled by llguidance in both local modes),
and how an earlier call and its result are handed back to the model's chat template.

A family is detected from the chat template's text (a transformers tokenizer's, or a GGUF file's
``tokenizer.chat_template``), never from the model's name: :func:`detect_family`. A template that
renders no tools gets the tools described in the prompt in the Hermes markup (core's fallback);
a user may name a family with the ``tool_format`` option (:data:`TOOL_FORMATS`,
:func:`family_named`), which then rules both the prompt and the reading.
"""

from __future__ import annotations

from abstractllm._private.tool_families.command_r import COMMAND_R
from abstractllm._private.tool_families.deepseek import DEEPSEEK, DEEPSEEK_V3
from abstractllm._private.tool_families.family import ToolFamily
from abstractllm._private.tool_families.functionary import FUNCTIONARY, FUNCTIONARY_V32
from abstractllm._private.tool_families.functiongemma import FUNCTIONGEMMA
from abstractllm._private.tool_families.granite import GRANITE
from abstractllm._private.tool_families.hermes import HERMES
from abstractllm._private.tool_families.llama3 import LLAMA3
from abstractllm._private.tool_families.mistral import MISTRAL, MISTRAL_V11
from abstractllm._private.tool_families.phi4_mini import PHI4_MINI
from abstractllm._private.tool_format_names import TOOL_FORMATS
from abstractllm.errors import InvalidArgumentError

__all__ = ["FAMILIES", "TOOL_FORMATS", "ToolFamily", "choose_family", "detect_family", "family_named"]

#: Every family, in the order templates are matched (the more specific markers first; Hermes last).
FAMILIES: tuple[ToolFamily, ...] = (
    MISTRAL_V11,
    MISTRAL,
    DEEPSEEK_V3,
    DEEPSEEK,
    COMMAND_R,
    PHI4_MINI,
    GRANITE,
    FUNCTIONGEMMA,
    FUNCTIONARY_V32,
    FUNCTIONARY,
    LLAMA3,
    HERMES,
)
_BY_NAME = {family.name: family for family in FAMILIES}


def detect_family(template: str | None) -> ToolFamily | None:
    """The family whose markers ``template`` (a chat template's Jinja source) holds, or None."""
    if not template:
        return None
    return next((family for family in FAMILIES if family.detect(template)), None)


def family_named(name: str) -> ToolFamily:
    """The family called ``name``; ``InvalidArgumentError`` naming the valid values otherwise."""
    family = _BY_NAME.get(name.lower()) if isinstance(name, str) else None
    if family is None:
        raise InvalidArgumentError(
            f"tool_format={name!r} is unknown; use one of {', '.join(TOOL_FORMATS)} (or leave it unset to detect it"
            " from the chat template)",
            parameter="tool_format",
            value=name,
            allowed=", ".join(TOOL_FORMATS),
        )
    return family


def choose_family(template: str | None, *, native: bool, named: str | None = None) -> ToolFamily:
    """The family a model's tool calls follow: ``named`` (the ``tool_format`` option) when given; else the
    one detected in ``template`` when that template renders tools itself (``native``); else Hermes, the
    markup core's prompted fallback asks for."""
    if named:
        return family_named(named)
    detected = detect_family(template) if native else None
    return detected or HERMES
