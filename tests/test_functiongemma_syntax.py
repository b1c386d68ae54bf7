"""FunctionGemma's argument syntax (``abstractllm._private.functiongemma_syntax``): values read back into the JSON the
tool's schema describes, and forced-call grammars whose every text reads back into arguments valid for the schema."""

from __future__ import annotations

import random
from typing import Any

import pytest

from abstractllm._private.functiongemma_syntax import read_value
from abstractllm._private.tool_families import family_named
from abstractllm._private.tool_format import read_tool_calls
from abstractllm.errors import UnsupportedFeatureError
from abstractllm.tools import ToolDefinition, check_tool_calls

MARKUP = family_named("functiongemma").markup
RICH = ToolDefinition(
    "plan_trip",
    "Plan a trip.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Where to."},
            "days": {"type": "integer"},
            "budget": {"type": "number"},
            "flexible": {"type": "boolean"},
            "mode": {"enum": ["train", "plane"]},
            "stops": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            },
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "extra": {"type": "object"},
        },
        "required": ["city", "days"],
        "additionalProperties": False,
    },
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("<escape>Paris, {France}: [x]<escape>", "Paris, {France}: [x]"),
        ("<escape><escape>", ""),
        ("-12", -12),
        ("3.5", 3.5),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("None", None),  # what a Jinja template prints for a null
        ("[1,<escape>a<escape>,[]]", [1, "a", []]),
        ("{a:{b:[true]},c:<escape>x<escape>}", {"a": {"b": [True]}, "c": "x"}),
        ("{ a : 1 , <escape>b c<escape>: 2 }", {"a": 1, "b c": 2}),  # spaces, and a key written as a string
    ],
)
def test_values_read_as_json(text: str, value: Any) -> None:
    assert read_value(text, 0) == (value, len(text))


@pytest.mark.parametrize("text", ["Paris", "{a:1;b:2}", "<escape>Par", "{a:[1,", "{a", "{a:1.}", "tru"])
def test_what_is_no_value_raises(text: str) -> None:
    with pytest.raises(ValueError):
        read_value(text, 0)


def test_a_block_that_is_not_a_call_is_an_error_call_and_text_after_it_is_kept_out() -> None:
    scan = read_tool_calls("<start_function_call>get_weather{}<end_function_call>", MARKUP)
    assert [(call.name, call.error is not None) for call in scan.calls] == [("<unparsed>", True)]
    scan = read_tool_calls("<start_function_call>call:f{a:1} junk<end_function_call>", MARKUP)
    assert [(call.name, call.error is not None) for call in scan.calls] == [("f", True)]
    scan = read_tool_calls("<start_function_call>call:get_wea", MARKUP)  # cut inside the name: no name yet
    assert (scan.truncated, scan.cut_name) == (True, "")


def _grammar(family_models: dict[str, Any], tool: ToolDefinition) -> tuple[Any, Any]:
    import llguidance.hf
    from transformers import AutoTokenizer

    from abstractllm._private.token_constraint import JsonConstraint

    tokenizer = AutoTokenizer.from_pretrained(family_models["functiongemma"][0])
    vocabulary = llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer), eos_token=[tokenizer.eos_token_id])
    forced = family_named("functiongemma").forced_call([tool], tool.name)
    grammar = JsonConstraint.compile(
        vocabulary,
        forced.schema,
        mode="test",
        parameter="tools",
        prefix=forced.prefix,
        suffix=forced.suffix,
        syntax=forced.syntax,
    )
    return grammar, tokenizer


def test_the_forced_grammar_admits_the_schemas_values_and_refuses_others(family_models: dict[str, Any]) -> None:
    grammar, _ = _grammar(family_models, RICH)
    start, end = "<start_function_call>call:plan_trip", "<end_function_call>"
    good = [
        "{city:<escape>Oslo<escape>,days:3}",
        "{city:<escape>Oslo<escape>,days:3,budget:12.5,flexible:false,mode:<escape>train<escape>}",
        "{city:<escape>a, b<escape>,days:0,stops:[{name:<escape>x<escape>},{name:<escape>y<escape>}],note:null}",
        "{city:<escape><escape>,days:-2,note:<escape>n<escape>,extra:{k:[1,true,<escape>s<escape>],m:{}}}",
    ]
    for text in good:
        assert grammar.accepts(start + text + end), text
        (call,) = read_tool_calls(start + text + end, MARKUP).calls
        assert call.error is None and check_tool_calls([call], [RICH])[0].error is None, text
    bad = [
        "{days:3}",  # city is required
        "{days:3,city:<escape>Oslo<escape>}",  # the schema's order
        "{city:<escape>Oslo<escape>,days:3.5}",  # an integer
        "{city:<escape>Oslo<escape>,days:3,mode:<escape>bus<escape>}",  # not in the enum
        "{city:<escape>Oslo<escape>,days:3,other:1}",  # no additional properties
        '{"city":"Oslo","days":3}',  # JSON is not FunctionGemma's syntax
        "{city:Oslo,days:3}",  # a string must be wrapped in <escape>
    ]
    for text in bad:
        assert not grammar.accepts(start + text + end), text


def test_every_text_the_forced_grammar_admits_reads_back_valid(family_models: dict[str, Any]) -> None:
    """Random walks through the grammar (choosing among the tokens it allows, leaning towards closing what is open)
    end in a call whose arguments the schema accepts."""
    grammar, tokenizer = _grammar(family_models, RICH)
    closing = {tokenizer.convert_tokens_to_ids(token) for token in ("<escape>", "<end_function_call>")}
    closing |= {token for token in range(len(tokenizer)) if tokenizer.decode([token]) in ("}", "]", ",")}
    eos = tokenizer.eos_token_id
    for seed in range(12):
        chooser = random.Random(seed)
        run, tokens = grammar.start(), []
        while len(tokens) < 400:
            allowed = [int(token) for token in run.allowed().nonzero()[0]]
            if allowed == [eos] or run.finished:
                break
            preferred = [token for token in allowed if token in closing and token != eos]
            token = chooser.choice(preferred if preferred and chooser.random() < 0.3 else allowed)
            if token == eos:
                break
            assert run.advance(token)
            tokens.append(token)
        text = tokenizer.decode(tokens, skip_special_tokens=False)
        (call,) = read_tool_calls(text, MARKUP).calls
        assert call.name == "plan_trip" and call.error is None, text
        assert check_tool_calls([call], [RICH])[0].error is None, (text, call.arguments)


def test_a_keyword_the_syntax_cannot_enforce_is_refused(family_models: dict[str, Any]) -> None:
    tool = ToolDefinition("f", "f", {"type": "object", "properties": {"a": {"type": "string", "pattern": "^a+$"}}})
    with pytest.raises(UnsupportedFeatureError, match="pattern"):
        _grammar(family_models, tool)


def test_a_forced_string_cannot_hold_escape_spelled_in_other_tokens(family_models: dict[str, Any]) -> None:
    """The text ``<escape>`` would end the string when the reply is read: the grammar refuses it inside one."""
    grammar, tokenizer = _grammar(family_models, RICH)
    escape = tokenizer.convert_tokens_to_ids("<escape>")
    encode = tokenizer.encode
    head = encode("<start_function_call>call:plan_trip{city:", add_special_tokens=False)
    spelled = encode("<escape>", add_special_tokens=False, split_special_tokens=True)
    assert escape not in spelled and len(spelled) > 1
    run = grammar.start()
    assert all(run.advance(token) for token in [*head, escape, *encode("a", add_special_tokens=False)])
    assert not all(run.advance(token) for token in spelled)
    run = grammar.start()  # the same text as the one token ends the string, as it should
    assert all(run.advance(token) for token in [*head, escape, *encode("a", add_special_tokens=False), escape])


@pytest.mark.parametrize(
    "value", [{"city": "a, {b}: [c]", "days": 3, "rate": 2.5, "ok": False, "none": None, "list": [1, "x", {"k": []}]}, {}]
)
def test_written_arguments_read_back_as_they_were(value: dict[str, Any]) -> None:
    from abstractllm._private.functiongemma_syntax import write_value

    assert read_value(write_value(value), 0) == (value, len(write_value(value)))


def test_tools_described_in_the_prompt_show_and_hand_back_calls_in_functiongemmas_syntax() -> None:
    """A model named ``functiongemma`` whose template renders no tools is asked for, and shown, its own syntax."""
    from abstractllm._private.tool_format import messages_with_tool_prompt

    weather = ToolDefinition("get_weather", "Weather.", {"type": "object", "properties": {"city": {"type": "string"}}})
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": [call]}]
    system, _, assistant = messages_with_tool_prompt(messages, [weather], MARKUP)
    assert "<start_function_call>call:<tool name>{<argument>:<escape><value><escape>}<end_function_call>" in system["content"]
    assert assistant["content"] == "<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>"
    assert [(c.name, c.arguments) for c in read_tool_calls(assistant["content"], MARKUP).calls] == [
        ("get_weather", {"city": "Paris"})
    ]
