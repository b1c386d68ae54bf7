"""Every tool-call family in both local modes (pipeline, gguf), on a tiny model with the family's special
tokens and published template (``tests/tool_family_cases.py``).

The model is made to write scripted text through each mode's real decoding path (as in
``tests/test_reply_every_mode.py``), so the family's markers come out as the special tokens they are;
forced calls are generated for real under the family's grammar; the tool loop runs through ``Session``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm._private.tool_families import family_named
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import normalize_tools
from tests.test_reply_every_mode import Script, _force_gguf, _force_pipeline
from tests.tool_family_cases import BY_NAME, CASES, OSLO, PARIS, WEATHER, FamilyCase, history

pytestmark = pytest.mark.slow

MODES = ("pipeline", "gguf")
CITY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


class Loaded:
    """One family's model in one mode, with its tokenizer (for scripts) and the way to force its text."""

    def __init__(self, case: FamilyCase, mode: str, llm: Any, tokenizer: Any) -> None:
        self.case, self.mode, self.llm, self.tokenizer = case, mode, llm, tokenizer

    def force(self, script: Script) -> Any:
        if self.mode == "pipeline":
            return _force_pipeline(self.llm.backend.loaded.model, script)
        return _force_gguf(self.llm.backend.model.llama, script)

    def script(self, text: str) -> Script:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return Script(ids, self.tokenizer.eos_token_id)

    def prompt_text(self, request: GenerationRequest) -> str:
        """The prompt this mode renders for ``request``, as text."""
        encoded = self.llm.backend.encode(request)
        if self.mode == "pipeline":
            return str(encoded.text)
        return self.tokenizer.decode(encoded.tokens)


@pytest.fixture(scope="module", params=[(case, mode) for case in CASES for mode in MODES], ids=lambda p: f"{p[0].name}-{p[1]}")
def loaded(request: pytest.FixtureRequest, family_models: dict[str, Any]) -> Iterator[Loaded]:
    from transformers import AutoTokenizer

    from abstractllm import create_llm

    case, mode = request.param
    folder, gguf = family_models[case.name]
    if mode == "gguf":
        pytest.importorskip("llama_cpp")
        where = {"model_path": str(gguf)}
    else:
        where = {"model": str(folder), "device": "cpu"}
    llm = create_llm("huggingface", prefix_cache_bytes=0, **where)
    try:
        yield Loaded(case, mode, llm, AutoTokenizer.from_pretrained(folder))
    finally:
        llm.unload()


def _reply(
    loaded: Loaded, text: str, tools: list[Any] | None = None, **options: Any
) -> tuple[str, str, list[tuple[str, Any, Any]]]:
    """What the mode returns when its model writes ``text``, checked equal generated and streamed."""
    call = {"tools": tools or [WEATHER.to_openai()], "temperature": 0, "max_tokens": 96, **options}
    undo = loaded.force(loaded.script(text))
    try:
        whole = loaded.llm.generate("Weather in Paris?", **call)
        chunks = list(loaded.llm.generate("Weather in Paris?", stream=True, **call))
    finally:
        undo()
    streamed = ("".join(str(chunk) for chunk in chunks), chunks[-1].finish_reason, chunks[-1].tool_calls)
    result = (str(whole), str(whole.finish_reason), [(c.name, c.arguments, c.error) for c in whole.tool_calls])
    assert (streamed[0], str(streamed[1]), [(c.name, c.arguments, c.error) for c in streamed[2]]) == result
    return result


def _ok(calls: list[tuple[str, Any, Any]]) -> list[tuple[str, Any]]:
    assert all(error is None for _, _, error in calls), calls
    return [(name, arguments) for name, arguments, _ in calls]


def test_the_family_is_detected_and_reported(loaded: Loaded) -> None:
    capabilities = loaded.llm.get_capabilities()
    assert capabilities["tool_format"] == loaded.case.name
    assert capabilities["tool_rendering"] == "native"


def test_earlier_calls_render_as_the_template_reads_them(loaded: Loaded) -> None:
    """The mode's prompt for a conversation with a call and its result is the template applied to the
    conversation in the template's own form (transformers' rendering, or llama.cpp's for the GGUF)."""
    request = GenerationRequest(messages=history(), params=GenerationParams(max_tokens=8), tools=(WEATHER,), tool_choice="auto")
    tools = [WEATHER.to_openai()]
    if loaded.mode == "pipeline":
        expected = loaded.tokenizer.apply_chat_template(
            loaded.case.template_history, tools=tools, tokenize=False, add_generation_prompt=True
        )
    else:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(loaded.case.template_text(), eos_token="</s>", bos_token="<s>")
        expected = formatter(messages=loaded.case.template_history, tools=tools).prompt
    assert loaded.prompt_text(request) == expected
    assert "18C" in expected


def test_one_call_and_its_other_forms_are_read(loaded: Loaded) -> None:
    for text in (loaded.case.one_call, *loaded.case.other_forms):
        shown, reason, calls = _reply(loaded, text)
        assert (shown, reason, _ok(calls)) == ("", "tool_calls", [PARIS]), text


def test_text_around_a_call_is_kept(loaded: Loaded) -> None:
    text, kept = loaded.case.text_and_call
    shown, reason, calls = _reply(loaded, text)
    assert (shown, reason, _ok(calls)) == (kept, "tool_calls", [PARIS])


def test_parallel_calls(loaded: Loaded) -> None:
    assert loaded.case.parallel is not None
    shown, reason, calls = _reply(loaded, loaded.case.parallel)
    assert (shown, reason, _ok(calls)) == ("", "tool_calls", [PARIS, OSLO])


def test_malformed_calls_have_their_documented_outcomes(loaded: Loaded) -> None:
    case = loaded.case
    shown, reason, calls = _reply(loaded, case.malformed)  # broken JSON: a call with its error, never dropped
    assert (shown, reason, [(name, error is not None) for name, _, error in calls]) == ("", "tool_calls", [("get_weather", True)])
    cut_at = len(loaded.tokenizer.encode(case.one_call[: case.one_call.index("Paris")], add_special_tokens=False))
    assert _reply(loaded, case.one_call, max_tokens=cut_at) == ("", "length", [])  # cut by max_tokens: no call
    wrong = case.one_call.replace("get_weather", "get_time")
    (name, _, error), *_ = _reply(loaded, wrong)[2]
    assert name == "get_time" and error is not None and "unknown tool" in error
    invalid = case.one_call.replace('"Paris"', "5").replace("<escape>Paris<escape>", "5")  # FunctionGemma's string
    (name, arguments, error), *_ = _reply(loaded, invalid)[2]
    assert (name, arguments) == ("get_weather", {"city": 5}) and error is not None and "invalid arguments" in error


def test_plain_json_stays_text(loaded: Loaded) -> None:
    assert _reply(loaded, '{"answer": 42}') == ('{"answer": 42}', "stop", [])


@pytest.mark.parametrize("choice", ["get_weather", "required"])
def test_a_forced_call_is_generated_in_the_familys_markup(loaded: Loaded, choice: str) -> None:
    """The model (not scripted) decodes under the family's grammar: the reply reads back as one valid call."""
    response = loaded.llm.generate("Weather?", tools=[CITY_TOOL], tool_choice=choice, temperature=0, max_tokens=64)
    assert response.finish_reason == "tool_calls"
    assert [(call.name, call.error) for call in response.tool_calls] == [("get_weather", None)]
    assert response.tool_calls[0].arguments["city"] in ("Paris", "Oslo")
    streamed = list(
        loaded.llm.generate("Weather?", tools=[CITY_TOOL], tool_choice=choice, temperature=0, max_tokens=64, stream=True)
    )
    assert [(c.name, c.arguments) for c in streamed[-1].tool_calls] == [(c.name, c.arguments) for c in response.tool_calls]


def test_a_forced_calls_markers_are_the_special_tokens(loaded: Loaded) -> None:
    """The forced-call grammar (as the mode compiles it) takes the family's markers as the special tokens the
    model writes, and refuses them spelled out in other tokens."""
    from abstractllm.backend.messages import Message

    tools = tuple(normalize_tools([CITY_TOOL]))
    request = GenerationRequest(
        messages=(Message(role="user", content="hi"),),
        params=GenerationParams(max_tokens=8),
        tools=tools,
        tool_choice="get_weather",
    )
    if not loaded.case.special_markers:
        pytest.skip(f"{loaded.case.name}'s markers are plain text in its tokenizer, not special tokens")
    family = family_named(loaded.case.name)
    forced = family.forced_call(tools, "get_weather")
    if not forced.prefix:
        pytest.skip(f"{family.name}'s forced call has no marker before its JSON")
    if loaded.mode == "pipeline":
        grammar = loaded.llm.backend.loaded.grammars.grammar_for(request, family)
        native = loaded.tokenizer.encode(forced.prefix, add_special_tokens=False)
        spelled = loaded.tokenizer.encode(forced.prefix, add_special_tokens=False, split_special_tokens=True)
    else:
        from abstractllm_hf_gguf.grammars import tool_call_grammar

        model = loaded.llm.backend.model
        grammar = tool_call_grammar(model, forced, loaded.llm.backend._markers)
        native = model.tokenize(forced.prefix, add_bos=False)
        spelled = list(model.llama.tokenize(forced.prefix.encode(), add_bos=False, special=False))
    assert native != spelled
    run = grammar.start()
    assert all(run.advance(token) for token in native)
    run = grammar.start()
    assert not all(run.advance(token) for token in spelled)


class Turns(Script):
    """One script per generation: a new prompt width starts the next one."""

    def __init__(self, scripts: list[list[int]], eos: int) -> None:
        super().__init__(scripts[0], eos)
        self.scripts = scripts
        self.turn = -1
        self.width = -1

    def target(self, length: int, width: int) -> int:
        if width != self.width:
            self.width, self.turn = width, self.turn + 1
            self.ids = self.scripts[min(self.turn, len(self.scripts) - 1)]
        return super().target(length, width)


def test_a_tool_loop_runs_the_call_and_renders_its_result_back(loaded: Loaded) -> None:
    from abstractllm.session import Session

    ran: list[str] = []

    def get_weather(city: str) -> str:
        """Get the weather in a city."""
        ran.append(city)
        return "18C and sunny"

    encode = loaded.tokenizer.encode
    turns = Turns(
        [encode(loaded.case.one_call, add_special_tokens=False), encode("It is 18C.", add_special_tokens=False)],
        loaded.tokenizer.eos_token_id,
    )
    undo = loaded.force(turns)
    try:
        session = Session(provider=loaded.llm)
        answer = session.generate_with_tools("Weather in Paris?", tools=[get_weather], temperature=0, max_tokens=96)
    finally:
        undo()
    assert str(answer) == "It is 18C." and ran == ["Paris"]
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]
    request = GenerationRequest(
        messages=tuple(session.messages[:3]), params=GenerationParams(max_tokens=8), tools=(WEATHER,), tool_choice="auto"
    )
    prompt = loaded.prompt_text(request)  # the second turn's prompt: the call and its result rendered back
    assert "18C and sunny" in prompt and prompt.count("Paris") >= 2


@pytest.mark.parametrize("mode", MODES)
def test_a_named_family_rules_over_the_template(mode: str, tiny_models: Any) -> None:
    """``tool_format`` names the family of a model whose template shows another (the tiny model's is Hermes):
    replies and forced calls follow the named one."""
    from transformers import AutoTokenizer

    from abstractllm import create_llm

    if mode == "gguf":
        pytest.importorskip("llama_cpp")
    where = (
        {"model": str(tiny_models.pipeline_dir), "device": "cpu"}
        if mode == "pipeline"
        else {"model_path": str(tiny_models.gguf_f32)}
    )
    llm = create_llm("huggingface", prefix_cache_bytes=0, tool_format="granite", **where)
    try:
        loaded = Loaded(BY_NAME["granite"], mode, llm, AutoTokenizer.from_pretrained(tiny_models.pipeline_dir))
        assert llm.get_capabilities()["tool_format"] == "granite"
        shown, reason, calls = _reply(loaded, BY_NAME["granite"].one_call)
        assert (shown, reason, _ok(calls)) == ("", "tool_calls", [PARIS])
        hermes = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        assert _reply(loaded, hermes)[2] == []  # the template's own family is not read any more
        forced = llm.generate("Weather?", tools=[CITY_TOOL], tool_choice="get_weather", temperature=0, max_tokens=64)
        assert [(call.name, call.error) for call in forced.tool_calls] == [("get_weather", None)]
    finally:
        llm.unload()


TRIP_TOOL = {
    "type": "function",
    "function": {
        "name": "plan_trip",
        "description": "Plan a trip.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Paris", "Oslo"]},
                "days": {"type": "integer"},
                "budget": {"type": "number"},
                "flexible": {"type": "boolean"},
                "travel": {"type": "object", "properties": {"mode": {"enum": ["train", "plane"]}}, "required": ["mode"]},
            },
            "required": ["city", "days", "budget", "flexible", "travel"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize("mode", MODES)
def test_a_forced_functiongemma_call_carries_every_kind_of_value(mode: str, family_models: dict[str, Any]) -> None:
    """FunctionGemma's arguments are not JSON: a call forced in its syntax (strings, integers, numbers,
    booleans, a nested object) is decoded for real and reads back as arguments valid for the schema."""
    from abstractllm import create_llm

    folder, gguf = family_models["functiongemma"]
    if mode == "gguf":
        pytest.importorskip("llama_cpp")
    where = {"model_path": str(gguf)} if mode == "gguf" else {"model": str(folder), "device": "cpu"}
    llm = create_llm("huggingface", prefix_cache_bytes=0, **where)
    try:
        response = llm.generate("Plan it.", tools=[TRIP_TOOL], tool_choice="plan_trip", temperature=0, max_tokens=96)
        assert response.finish_reason == "tool_calls"
        (call,) = response.tool_calls
        assert call.name == "plan_trip" and call.error is None, call
        arguments = call.arguments
        assert arguments["city"] in ("Paris", "Oslo") and arguments["travel"]["mode"] in ("train", "plane")
        assert isinstance(arguments["days"], int) and isinstance(arguments["flexible"], bool)
        assert isinstance(arguments["budget"], (int, float)) and not isinstance(arguments["budget"], bool)
    finally:
        llm.unload()
