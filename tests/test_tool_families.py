"""The tool-call families (core's table) on each family's published template and special tokens:
detection, rendering earlier calls back, reading replies whole and streamed, forced-call grammars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from abstractllm._private.reply import ReplyAssembler
from abstractllm._private.tool_families import FAMILIES, choose_family, detect_family, family_named
from abstractllm._private.tool_format import UNPARSED_NAME
from abstractllm._private.tool_format_names import TOOL_FORMATS
from abstractllm.errors import InvalidArgumentError
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import ToolDefinition
from tests.tool_family_cases import BY_NAME, CASES, OSLO, PARIS, TEMPLATES, WEATHER, FamilyCase, history

CLOCK = ToolDefinition("get_time", "Get the time.", {"type": "object", "properties": {}})


def _request(max_tokens: int = 64, tools: Sequence[ToolDefinition] = (WEATHER,)) -> GenerationRequest:
    return GenerationRequest(
        messages=history(), params=GenerationParams(max_tokens=max_tokens), tools=tuple(tools), tool_choice="auto"
    )


def _assemble(case: FamilyCase, text: str, reason: str = "stop", size: int = 0) -> tuple[str, str, list[tuple[str, Any, bool]]]:
    """The reply core's assembler makes of ``text`` fed whole (``size=0``) or in pieces of ``size`` characters."""
    reply = ReplyAssembler(_request(), family_named(case.name).markup)
    pieces = [text] if size == 0 else [text[i : i + size] for i in range(0, len(text), size)]
    shown = "".join(reply.feed(piece) for piece in pieces)
    final = reply.finish(reason)
    shown += final.text
    assert shown == reply.choice().text
    return (
        shown,
        str(final.finish_reason),
        [(call.name, call.arguments, call.error is not None) for call in final.tool_calls or []],
    )


def _every_way(case: FamilyCase, text: str, reason: str = "stop") -> tuple[str, str, list[tuple[str, Any, bool]]]:
    """The reply for ``text``, checked equal whether it comes whole or streamed in pieces of 1, 2, 3 and 7 characters."""
    whole = _assemble(case, text, reason)
    for size in (1, 2, 3, 7):
        assert _assemble(case, text, reason, size) == whole, size
    return whole


# -- the table and its detection ------------------------------------------------------------------


def test_the_option_values_are_the_tables_families() -> None:
    assert TOOL_FORMATS == tuple(family.name for family in FAMILIES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_family_is_detected_from_its_published_template(case: FamilyCase) -> None:
    family = detect_family(case.template_text())
    assert family is not None and family.name == case.name
    assert choose_family(case.template_text(), native=True).name == case.name
    # a template that does not render tools gets them prompted in the Hermes markup, and is read so
    assert choose_family(case.template_text(), native=False).name == "hermes"


def test_a_template_without_markers_is_no_family_and_the_name_decides_nothing() -> None:
    from tinymodel import CHATML_TEMPLATE

    assert detect_family(None) is None and detect_family("{{ messages }}") is None
    assert choose_family(CHATML_TEMPLATE, native=True).name == "hermes"
    assert choose_family(None, native=False, named="granite").name == "granite"  # the user's choice wins


def test_an_unknown_tool_format_names_the_valid_ones(tiny_models: Any) -> None:
    from abstractllm import create_llm

    with pytest.raises(InvalidArgumentError) as raised:
        create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu", tool_format="qwen-ish")
    assert raised.value.parameter == "tool_format"
    assert all(name in str(raised.value) for name in TOOL_FORMATS)
    with pytest.raises(InvalidArgumentError, match="hermes"):
        family_named("qwen-ish")


# -- rendering earlier calls back -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_earlier_calls_render_as_the_template_reads_them(case: FamilyCase, family_models: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from abstractllm_hf_pipeline.prompts import encode_prompt
    from abstractllm_hf_pipeline.tool_calls import tool_setup

    tokenizer = AutoTokenizer.from_pretrained(family_models[case.name][0])
    setup = tool_setup(tokenizer)
    assert setup.family.name == case.name
    ours = encode_prompt(tokenizer, _request(), context_window=None, truncation=False).text
    expected = tokenizer.apply_chat_template(
        case.template_history, tools=[WEATHER.to_openai()], tokenize=False, add_generation_prompt=True
    )
    assert ours == expected
    assert "get_weather" in ours and "18C" in ours  # the call and its result are in the prompt
    for marker in (setup.markup.open, setup.markup.close):
        if marker and case.special_markers:  # the markers are single special tokens, kept when a reply is decoded
            assert len(tokenizer.encode(marker, add_special_tokens=False)) == 1


def test_mistral_v11_template_gets_each_call_and_result_with_one_9_character_id(family_models: dict[str, Any]) -> None:
    """Mistral's v11 template writes an earlier call as ``name[CALL_ID]id[ARGS]{...}`` and its result as
    ``[TOOL_RESULTS]id[TOOL_CONTENT]...``, and raises unless both ids have 9 characters: core hands them back
    cut to the same 9 letters and digits (v13's template, the ``mistral_v11`` case, writes no ids)."""
    from transformers import AutoTokenizer

    from abstractllm_hf_pipeline.prompts import encode_prompt
    from abstractllm_hf_pipeline.tool_calls import tool_setup

    tokenizer = AutoTokenizer.from_pretrained(family_models["mistral_v11"][0])
    tokenizer.chat_template = (TEMPLATES / "mistral_v11.jinja").read_text(encoding="utf-8")
    assert tool_setup(tokenizer).family.name == "mistral_v11"
    ours = encode_prompt(tokenizer, _request(), context_window=None, truncation=False).text
    expected = tokenizer.apply_chat_template(
        BY_NAME["mistral_v11"].template_history, tools=[WEATHER.to_openai()], tokenize=False, add_generation_prompt=True
    )
    assert ours == expected
    assert '[TOOL_CALLS]get_weather[CALL_ID]3456789ab[ARGS]{"city": "Paris"}' in ours
    assert "[TOOL_RESULTS]3456789ab[TOOL_CONTENT]18C[/TOOL_RESULTS]" in ours


# -- reading replies, whole and streamed ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_one_call_is_read_whole_and_streamed(case: FamilyCase) -> None:
    for text in (case.one_call, *case.other_forms):
        assert _every_way(case, text) == ("", "tool_calls", [(*PARIS, False)]), text


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_text_around_a_call_is_kept_by_the_one_rule(case: FamilyCase) -> None:
    text, shown = case.text_and_call
    assert _every_way(case, text) == (shown, "tool_calls", [(*PARIS, False)])


@pytest.mark.parametrize("case", [case for case in CASES if case.parallel], ids=lambda case: case.name)
def test_parallel_calls_are_all_read(case: FamilyCase) -> None:
    assert case.parallel is not None
    assert _every_way(case, case.parallel) == ("", "tool_calls", [(*PARIS, False), (*OSLO, False)])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_broken_call_is_an_error_call_and_a_cut_one_is_length(case: FamilyCase) -> None:
    shown, reason, calls = _every_way(case, case.malformed)
    assert (shown, reason) == ("", "tool_calls")
    assert [(name, error) for name, _, error in calls] == [("get_weather", True)]
    cut = case.one_call[: case.one_call.index("Paris")]
    assert _every_way(case, cut, reason="length") == ("", "length", [])
    # the same cut text, when the model itself ended there, is a call with its error (never dropped)
    assert _every_way(case, cut)[2] in ([("get_weather", {}, True)], [(UNPARSED_NAME, {}, True)])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_plain_text_and_plain_json_stay_text(case: FamilyCase) -> None:
    assert _every_way(case, "The sky is blue.") == ("The sky is blue.", "stop", [])
    assert _every_way(case, '{"answer": 42}') == ('{"answer": 42}', "stop", [])
    assert _every_way(case, "  {") == ("  {", "stop", [])


def test_a_python_tag_block_that_is_not_json_is_an_error_call() -> None:
    shown, reason, calls = _every_way(BY_NAME["llama3"], '<|python_tag|>brave_search.call(query="Paris")')
    assert (shown, reason) == ("", "tool_calls") and [(name, error) for name, _, error in calls] == [(UNPARSED_NAME, True)]


def test_mistral_v11_calls_are_read_one_marker_each() -> None:
    text = '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}'
    assert _every_way(BY_NAME["mistral"], text) == ("", "tool_calls", [(*PARIS, False), (*OSLO, False)])


def test_functionary_calls_need_its_header_tokens_and_a_name() -> None:
    # Qwen3-Coder's template writes <function=...> inside <tool_call>: Hermes, not Functionary
    assert detect_family("<|im_start|>{{ '<tool_call>\\n<function=' + name + '>' }}</function></tool_call>").name == "hermes"
    case = BY_NAME["functionary"]
    assert _every_way(case, "a <functions> b") == ("a <functions> b", "stop", [])
    shown, reason, calls = _every_way(case, '<function=get weather>{"city": "Paris"}</function>')  # no tool name
    assert (shown, reason) == ("", "tool_calls") and [(name, error) for name, _, error in calls] == [(UNPARSED_NAME, True)]


def test_functionary_v32_segments_are_text_to_all_and_calls_to_a_tool() -> None:
    case = BY_NAME["functionary_v32"]
    assert _every_way(case, "all\nHello there.") == ("Hello there.", "stop", [])
    text = 'all\nChecking.>>>get_weather\n{"city": "Paris"}>>>all\n Done.'
    assert _every_way(case, text) == ("Checking. Done.", "tool_calls", [(*PARIS, False)])
    # a ">>>" inside the arguments' JSON is part of the JSON
    quoted = 'get_weather\n{"city": "a>>>b"}'
    assert _every_way(case, quoted) == ("", "tool_calls", [("get_weather", {"city": "a>>>b"}, False)])
    shown, reason, calls = _every_way(case, 'get_weather\n{"city": Paris}>>>all\nok')  # broken JSON, then text
    assert (shown, reason, [(name, error) for name, _, error in calls]) == ("ok", "tool_calls", [("get_weather", True)])


# -- forced calls ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOOL_FORMATS)
def test_a_forced_call_admits_exactly_the_familys_markup_and_it_reads_back(name: str, family_models: dict[str, Any]) -> None:
    """The forced-call grammar (compiled as both local modes compile it) accepts the family's own
    call and nothing else; what it accepts reads back as that call."""
    import llguidance.hf
    from transformers import AutoTokenizer

    from abstractllm._private.token_constraint import JsonConstraint
    from abstractllm._private.tool_format import read_tool_calls

    family = family_named(name)
    folder = family_models.get(name, family_models["llama3"])[0]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vocabulary = llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer))
    forced = family.forced_call([WEATHER, CLOCK], "get_weather")
    grammar = JsonConstraint.compile(
        vocabulary,
        forced.schema,
        mode="test",
        parameter="tools",
        prefix=forced.prefix,
        suffix=forced.suffix,
        syntax=forced.syntax,
    )
    body = {family.name_key: "get_weather", family.arguments_key: {"city": "Paris"}}
    import json

    value = json.dumps([body] if family.list_body else body, separators=(",", ":"))
    if family.named_call is not None:  # the name is in the markup, the JSON is the arguments
        value = '{"city":"Paris"}'
    if forced.syntax == "functiongemma":  # bare keys, strings wrapped in <escape>
        assert not grammar.accepts(forced.prefix + value + forced.suffix)
        value = "{city:<escape>Paris<escape>}"
    text = forced.prefix + value + forced.suffix
    assert grammar.accepts(text), text
    assert not grammar.accepts('<tool_call>{"name":"get_time","arguments":{}}</tool_call>') or name == "hermes"
    assert [(call.name, call.arguments) for call in read_tool_calls(text, family.markup).calls] == [PARIS]
