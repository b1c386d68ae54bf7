"""What each tool-call family's model writes, and the conversation its template must render, for the family tests.

Every family's replies call ``get_weather`` (``city``: Paris, or Oslo for a second call). ``history``
is the conversation with an earlier call and its result in core's form (what ``Session`` keeps), and
``template_history`` the same conversation written the way the family's published template reads it
(by hand, from the template's text), so rendering core's form must equal rendering this one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abstractllm._private.tool_families.deepseek import CALL_BEGIN, CALL_END, CALLS_BEGIN, CALLS_END, SEP
from abstractllm.backend.messages import Message
from abstractllm.tools import ToolCall, ToolDefinition

TEMPLATES = Path(__file__).resolve().parent / "data" / "tool_templates"
WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CALL_ID = "call_0123456789ab"
PARIS = ("get_weather", {"city": "Paris"})
OSLO = ("get_weather", {"city": "Oslo"})


def history() -> tuple[Message, ...]:
    """A user turn, the assistant's call, its result, the answer, and a new user turn (core's messages)."""
    call = ToolCall(name="get_weather", arguments={"city": "Paris"}, id=CALL_ID)
    return (
        Message(role="user", content="Weather in Paris?"),
        Message(role="assistant", content="", tool_calls=[call]),
        Message(role="tool", content="18C", tool_call_id=CALL_ID, name="get_weather"),
        Message(role="assistant", content="It is 18C in Paris."),
        Message(role="user", content="And tomorrow?"),
    )


_USER = {"role": "user", "content": "Weather in Paris?"}
_ANSWER = {"role": "assistant", "content": "It is 18C in Paris."}
_NEXT = {"role": "user", "content": "And tomorrow?"}
_PARIS_ARGS = {"city": "Paris"}


def openai_history(arguments: Any = _PARIS_ARGS, call_id: str = CALL_ID) -> list[dict[str, Any]]:
    """:func:`history` in OpenAI's form, as most templates read it: the call's ``arguments`` as the template takes
    them (an object, or its JSON text), its id ``call_id``."""
    call = {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return [
        _USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "18C", "tool_call_id": call_id, "name": "get_weather"},
        _ANSWER,
        _NEXT,
    ]


@dataclass(frozen=True)
class FamilyCase:
    """One family: its template file, what its model writes, and how its template reads earlier calls."""

    name: str
    template: str
    one_call: str  # one call to get_weather(Paris), nothing else
    text_and_call: tuple[str, str]  # (the model's text with one call, the text shown around it)
    parallel: str | None  # two calls (Paris, Oslo), when the family has parallel calls
    malformed: str = ""  # a call whose JSON is broken, the reply ended by the model (default: one_call, Paris unquoted)
    other_forms: tuple[str, ...] = ()  # other ways the family writes one call to get_weather(Paris)
    template_history: list[dict[str, Any]] = field(default_factory=openai_history)
    special_markers: bool = True  # whether the family's markers are special tokens of its real tokenizer

    def __post_init__(self) -> None:
        if not self.malformed:
            object.__setattr__(self, "malformed", self.one_call.replace('"Paris"', "Paris"))

    def template_text(self) -> str:
        return (TEMPLATES / self.template).read_text(encoding="utf-8")


def _oslo(paris: str) -> str:
    """The call ``paris`` (to get_weather(Paris)) made to Oslo instead."""
    return paris.replace("Paris", "Oslo")


_P = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
_LP = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
_V11_PARIS = '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'
_PHI_PARIS = f"<|tool_call|>{_P}<|/tool_call|>"
_DS_PARIS = f'{CALL_BEGIN}get_weather{SEP}{{"city": "Paris"}}{CALL_END}'
_V3_PARIS = f'{CALL_BEGIN}function{SEP}get_weather\n```json\n{{"city": "Paris"}}\n```{CALL_END}'
_CR_PARIS = '{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}'
_CR_OSLO = '{"tool_call_id": "1", "tool_name": "get_weather", "parameters": {"city": "Oslo"}}'
_FN_PARIS = '<function=get_weather>{"city": "Paris"}</function>'
_V32_PARIS = 'get_weather\n{"city": "Paris"}'
_JSON_ARGS = json.dumps(_PARIS_ARGS)  # for templates that write the arguments as the text they are given


def _deepseek_case(name: str, template: str, paris: str, joiner: str = "", **more: Any) -> FamilyCase:
    """A DeepSeek family's case: its call ``paris`` (and the same to Oslo) between its calls' begin and end markers."""

    def block(*calls: str) -> str:
        return CALLS_BEGIN + joiner.join(calls) + CALLS_END

    return FamilyCase(
        name, template, block(paris), (f"I will look.{block(paris)}", "I will look."), block(paris, _oslo(paris)), **more
    )


_GRANITE_HISTORY = [
    _USER,
    {"role": "assistant_tool_call", "content": json.dumps([{"name": "get_weather", "arguments": _PARIS_ARGS}])},
    {"role": "tool_response", "content": "18C"},
    _ANSWER,
    _NEXT,
]

CASES = [
    FamilyCase(
        "llama3",
        "llama3.1_json.jinja",
        _LP,
        (f"Let me check.<|python_tag|>{_LP}", "Let me check."),
        f"{_LP}; {_oslo(_LP)}",
        other_forms=(f"<|python_tag|>{_LP}",),
    ),
    FamilyCase(
        "mistral",
        "mistral_parallel.jinja",
        f"[TOOL_CALLS][{_P}]",
        (f"Sure.[TOOL_CALLS][{_P}]", "Sure."),
        f"[TOOL_CALLS] [{_P}, {_oslo(_P)}]",
        other_forms=(_V11_PARIS,),
        template_history=openai_history(call_id="3456789ab"),
    ),
    FamilyCase(
        "mistral_v11",
        "mistral_v13.jinja",
        _V11_PARIS,
        (f"Sure.{_V11_PARIS}", "Sure."),
        _V11_PARIS + _oslo(_V11_PARIS),
        other_forms=(f"[TOOL_CALLS][{_P}]",),
        template_history=openai_history(call_id="3456789ab"),
    ),
    FamilyCase(
        "phi4_mini",
        "phi4_mini.jinja",
        _PHI_PARIS,
        (f"One moment.{_PHI_PARIS} Done.", "One moment. Done."),
        _PHI_PARIS + _oslo(_PHI_PARIS),
        other_forms=(f"<|tool_call|>[{_P}]<|/tool_call|>",),
    ),
    FamilyCase(
        "granite",
        "granite3.0.jinja",
        f"<|tool_call|>[{_P}]",
        (f"Checking.<|tool_call|>[{_P}]", "Checking."),
        f"<|tool_call|>[{_P}, {_oslo(_P)}]",
        template_history=_GRANITE_HISTORY,
    ),
    _deepseek_case("deepseek", "deepseek_v31.jinja", _DS_PARIS, template_history=openai_history(_JSON_ARGS)),
    _deepseek_case("deepseek_v3", "deepseek_v3.jinja", _V3_PARIS, "\n"),
    FamilyCase(
        "command_r",
        "command_r7b.jinja",
        f"<|START_ACTION|>[{_CR_PARIS}]<|END_ACTION|>",
        (f"Checking.<|START_ACTION|>[{_CR_PARIS}]<|END_ACTION|>", "Checking."),
        f"<|START_ACTION|>[\n    {_CR_PARIS},\n    {_CR_OSLO}\n]<|END_ACTION|>",
    ),
    FamilyCase(
        "functionary",
        "functionary_v3.1.jinja",
        _FN_PARIS,
        (f"Let me check.{_FN_PARIS}", "Let me check."),
        _FN_PARIS + _oslo(_FN_PARIS),
        other_forms=('<function=get_weather> {"city": "Paris"} </function>', '<function=get_weather>{"city": "Paris"}'),
        template_history=openai_history(_JSON_ARGS),
        special_markers=False,
    ),
    FamilyCase(
        "functionary_v32",
        "functionary_v3.2.jinja",
        _V32_PARIS,  # the prompt ends with ">>>"
        (f"all\nLet me check.>>>{_V32_PARIS}", "Let me check."),
        f"{_V32_PARIS}>>>{_oslo(_V32_PARIS)}",
        other_forms=(f"all\n>>>{_V32_PARIS}", 'get_weather\n {"city": "Paris"}\n'),
        template_history=openai_history(_JSON_ARGS),
        special_markers=False,
    ),
]
BY_NAME = {case.name: case for case in CASES}


def _functiongemma_case() -> FamilyCase:
    """FunctionGemma: its calls' arguments are not JSON (bare keys, strings wrapped in ``<escape>``)."""
    from abstractllm._private.tool_families.functiongemma import DEVELOPER_PROMPT

    def call(city: str) -> str:
        return f"<start_function_call>call:get_weather{{city:<escape>{city}<escape>}}<end_function_call>"

    paris_call = {"id": CALL_ID, "type": "function", "function": {"name": "get_weather", "arguments": _PARIS_ARGS}}
    imagined = "<start_function_response>response:get_weather{value:<escape>18C<escape>}<end_function_response>"
    return FamilyCase(
        "functiongemma",
        "functiongemma.jinja",
        one_call=call("Paris"),
        text_and_call=(f"Let me check.{call('Paris')}", "Let me check."),
        parallel=call("Paris") + call("Oslo"),
        malformed="<start_function_call>call:get_weather{city:Paris}<end_function_call>",
        other_forms=(
            call("Paris") + imagined,  # the model goes on to imagine the result: <start_function_response> ends the reply
            "<start_function_call>call:get_weather{ city : <escape>Paris<escape> }<end_function_call>",
        ),
        template_history=[
            {"role": "system", "content": DEVELOPER_PROMPT},  # its template shows tools in the system turn only
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [paris_call]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    )


CASES.append(_functiongemma_case())
BY_NAME["functiongemma"] = CASES[-1]
