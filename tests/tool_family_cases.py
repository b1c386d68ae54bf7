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


def _openai_call(arguments: Any, call_id: str = CALL_ID) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}


@dataclass(frozen=True)
class FamilyCase:
    """One family: its template file, what its model writes, and how its template reads earlier calls."""

    name: str
    template: str
    one_call: str  # one call to get_weather(Paris), nothing else
    text_and_call: tuple[str, str]  # (the model's text with one call, the text shown around it)
    parallel: str | None  # two calls (Paris, Oslo), when the family has parallel calls
    malformed: str  # a call whose JSON is broken, the reply ended by the model
    other_forms: tuple[str, ...] = ()  # other ways the family writes one call to get_weather(Paris)
    template_history: list[dict[str, Any]] = field(default_factory=list)
    special_markers: bool = True  # whether the family's markers are special tokens of its real tokenizer

    def template_text(self) -> str:
        return (TEMPLATES / self.template).read_text(encoding="utf-8")


_USER = {"role": "user", "content": "Weather in Paris?"}
_ANSWER = {"role": "assistant", "content": "It is 18C in Paris."}
_NEXT = {"role": "user", "content": "And tomorrow?"}
_PARIS_ARGS = {"city": "Paris"}
_P = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
_O = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
_LP = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
_LO = '{"name": "get_weather", "parameters": {"city": "Oslo"}}'

CASES = [
    FamilyCase(
        "llama3",
        "llama3.1_json.jinja",
        one_call='{"name": "get_weather", "parameters": {"city": "Paris"}}',
        text_and_call=(f"Let me check.<|python_tag|>{_LP}", "Let me check."),
        parallel=f"{_LP}; {_LO}",
        malformed='{"name": "get_weather", "parameters": {"city": Paris}}',
        other_forms=('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',),
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(_PARIS_ARGS)]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    ),
    FamilyCase(
        "mistral",
        "mistral_parallel.jinja",
        one_call='[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        text_and_call=('Sure.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', "Sure."),
        parallel=f"[TOOL_CALLS] [{_P}, {_O}]",
        malformed='[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": Paris}}]',
        other_forms=('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',),
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(_PARIS_ARGS, "3456789ab")]},
            {"role": "tool", "content": "18C", "tool_call_id": "3456789ab", "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    ),
    FamilyCase(
        "phi4_mini",
        "phi4_mini.jinja",
        one_call='<|tool_call|>{"name": "get_weather", "arguments": {"city": "Paris"}}<|/tool_call|>',
        text_and_call=(
            'One moment.<|tool_call|>{"name": "get_weather", "arguments": {"city": "Paris"}}<|/tool_call|> Done.',
            "One moment. Done.",
        ),
        parallel='<|tool_call|>{"name": "get_weather", "arguments": {"city": "Paris"}}<|/tool_call|>'
        '<|tool_call|>{"name": "get_weather", "arguments": {"city": "Oslo"}}<|/tool_call|>',
        malformed='<|tool_call|>{"name": "get_weather", "arguments": {"city": Paris}}<|/tool_call|>',
        other_forms=('<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|/tool_call|>',),
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(_PARIS_ARGS)]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    ),
    FamilyCase(
        "granite",
        "granite3.0.jinja",
        one_call='<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        text_and_call=('Checking.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]', "Checking."),
        parallel=f"<|tool_call|>[{_P}, {_O}]",
        malformed='<|tool_call|>[{"name": "get_weather", "arguments": {"city": Paris}}]',
        template_history=[
            _USER,
            {"role": "assistant_tool_call", "content": json.dumps([{"name": "get_weather", "arguments": _PARIS_ARGS}])},
            {"role": "tool_response", "content": "18C"},
            _ANSWER,
            _NEXT,
        ],
    ),
]
_DS_BEGIN, _DS_END = CALLS_BEGIN, CALLS_END
_DS_PARIS = f'{CALL_BEGIN}get_weather{SEP}{{"city": "Paris"}}{CALL_END}'
_DS_OSLO = f'{CALL_BEGIN}get_weather{SEP}{{"city": "Oslo"}}{CALL_END}'
CASES.append(
    FamilyCase(
        "deepseek",
        "deepseek_v31.jinja",
        one_call=f"{_DS_BEGIN}{_DS_PARIS}{_DS_END}",
        text_and_call=(f"I will look.{_DS_BEGIN}{_DS_PARIS}{_DS_END}", "I will look."),
        parallel=f"{_DS_BEGIN}{_DS_PARIS}{_DS_OSLO}{_DS_END}",
        malformed=f'{_DS_BEGIN}{CALL_BEGIN}get_weather{SEP}{{"city": Paris}}{CALL_END}{_DS_END}',
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(json.dumps(_PARIS_ARGS))]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    )
)
_V3_PARIS = f'{CALL_BEGIN}function{SEP}get_weather\n```json\n{{"city": "Paris"}}\n```{CALL_END}'
_V3_OSLO = f'{CALL_BEGIN}function{SEP}get_weather\n```json\n{{"city": "Oslo"}}\n```{CALL_END}'
CASES.append(
    FamilyCase(
        "deepseek_v3",
        "deepseek_v3.jinja",
        one_call=f"{_DS_BEGIN}{_V3_PARIS}{_DS_END}",
        text_and_call=(f"I will look.{_DS_BEGIN}{_V3_PARIS}{_DS_END}", "I will look."),
        parallel=f"{_DS_BEGIN}{_V3_PARIS}\n{_V3_OSLO}{_DS_END}",
        malformed=f'{_DS_BEGIN}{CALL_BEGIN}function{SEP}get_weather\n```json\n{{"city": Paris}}\n```{CALL_END}{_DS_END}',
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(_PARIS_ARGS)]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    )
)
_CR_PARIS = '{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}'
_CR_BROKEN = '{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": Paris}}'
_CR_OSLO = '{"tool_call_id": "1", "tool_name": "get_weather", "parameters": {"city": "Oslo"}}'
CASES.append(
    FamilyCase(
        "command_r",
        "command_r7b.jinja",
        one_call=f"<|START_ACTION|>[{_CR_PARIS}]<|END_ACTION|>",
        text_and_call=(f"Checking.<|START_ACTION|>[{_CR_PARIS}]<|END_ACTION|>", "Checking."),
        parallel=f"<|START_ACTION|>[\n    {_CR_PARIS},\n    {_CR_OSLO}\n]<|END_ACTION|>",
        malformed=f"<|START_ACTION|>[{_CR_BROKEN}]<|END_ACTION|>",
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(_PARIS_ARGS)]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
    )
)
_FN_PARIS = '<function=get_weather>{"city": "Paris"}</function>'
CASES.append(
    FamilyCase(
        "functionary",
        "functionary_v3.1.jinja",
        one_call=_FN_PARIS,
        text_and_call=(f"Let me check.{_FN_PARIS}", "Let me check."),
        parallel=f'{_FN_PARIS}<function=get_weather>{{"city": "Oslo"}}</function>',
        malformed='<function=get_weather>{"city": Paris}</function>',
        other_forms=('<function=get_weather> {"city": "Paris"} </function>', '<function=get_weather>{"city": "Paris"}'),
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(json.dumps(_PARIS_ARGS))]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
        special_markers=False,
    )
)
_V32_PARIS = 'get_weather\n{"city": "Paris"}'
CASES.append(
    FamilyCase(
        "functionary_v32",
        "functionary_v3.2.jinja",
        one_call=_V32_PARIS,  # the prompt ends with ">>>"
        text_and_call=(f"all\nLet me check.>>>{_V32_PARIS}", "Let me check."),
        parallel=f'{_V32_PARIS}>>>get_weather\n{{"city": "Oslo"}}',
        malformed='get_weather\n{"city": Paris}',
        other_forms=(f"all\n>>>{_V32_PARIS}", 'get_weather\n {"city": "Paris"}\n'),
        template_history=[
            _USER,
            {"role": "assistant", "content": "", "tool_calls": [_openai_call(json.dumps(_PARIS_ARGS))]},
            {"role": "tool", "content": "18C", "tool_call_id": CALL_ID, "name": "get_weather"},
            _ANSWER,
            _NEXT,
        ],
        special_markers=False,
    )
)
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
