"""Speculative (prompt-lookup) decoding in pipeline mode: greedy replies equal plain decoding's, token for token
(text, tool calls, finish reason, usage), with stops, grammars, streaming, sessions and the prefix cache; drafts
are counted in ``cache_info()``; sampling and bad values are refused; a speculative request does not stall others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import InvalidArgumentError
from abstractllm.session import Session

SPEC = {"speculative": "prompt_lookup"}
TEXT = "one two three four five six seven eight nine ten. " * 3
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


def get_weather(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    return {"temperature": 22, "sky": "sunny"}


@pytest.fixture(scope="module")
def spec_llm(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """The tiny chat model with its prefix cache (the default) and speculation as the model's default."""
    model = create_llm("huggingface", model=str(chat_dir), temperature=0, speculative="prompt_lookup")
    yield model
    model.unload()


@pytest.fixture(scope="module")
def fresh(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """The same weights, plain decoding, no prefix cache (a separate load)."""
    model = create_llm("huggingface", model=str(chat_dir), device="cpu", temperature=0, prefix_cache_bytes=0)
    yield model
    model.unload()


def _summary(reply: Any) -> tuple[Any, ...]:
    calls = [(call.name, call.arguments) for call in reply.tool_calls]
    return (reply.text, calls, reply.finish_reason, reply.usage.prompt_tokens, reply.usage.completion_tokens)


CASES: dict[str, dict[str, Any]] = {
    "raw copy": {"prompt": TEXT, "raw": True, "max_tokens": 60},
    "chat copy": {"prompt": "Repeat: " + TEXT, "max_tokens": 60},
    "stop": {"prompt": TEXT, "raw": True, "max_tokens": 60, "stop": ["seven"]},
    "length": {"prompt": TEXT, "raw": True, "max_tokens": 7},
    "json schema": {
        "prompt": "Paris for 3 days. " * 4,
        "max_tokens": 40,
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": SCHEMA}},
    },
    "forced tool call": {
        "prompt": "What is the weather in Paris?",
        "max_tokens": 48,
        "tools": [get_weather],
        "tool_choice": "get_weather",
    },
    "tools offered": {"prompt": "What is the weather in Paris?", "max_tokens": 48, "tools": [get_weather]},
    "two sequences": {"prompt": TEXT, "raw": True, "max_tokens": 30, "num_return_sequences": 2},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_greedy_replies_equal_plain_decoding(spec_llm: AbstractLLMInterface, fresh: AbstractLLMInterface, case: str) -> None:
    arguments = dict(CASES[case])
    prompt = arguments.pop("prompt")
    plain = fresh.generate(prompt, **arguments)
    for _ in range(2):  # the second time through the prefix cache
        assert _summary(spec_llm.generate(prompt, **arguments)) == _summary(plain)
    if arguments.get("num_return_sequences"):
        assert [choice.text for choice in spec_llm.generate(prompt, **arguments).choices] == [c.text for c in plain.choices]


def test_drafts_are_accepted_and_counted(spec_llm: AbstractLLMInterface, fresh: AbstractLLMInterface) -> None:
    before = spec_llm.cache_info()
    assert before is not None
    reply = spec_llm.generate("Repeat: " + TEXT, max_tokens=60)
    after = spec_llm.cache_info()
    assert after is not None and str(reply) == str(fresh.generate("Repeat: " + TEXT, max_tokens=60))
    assert after["speculative_requests"] == before["speculative_requests"] + 1
    assert after["drafted_tokens"] > before["drafted_tokens"]
    assert 0 < after["accepted_tokens"] - before["accepted_tokens"] <= after["drafted_tokens"] - before["drafted_tokens"]
    assert after["verifications"] > before["verifications"]
    spec_llm.generate("Repeat: " + TEXT, max_tokens=20, speculative=None)  # per call: off
    assert spec_llm.cache_info()["speculative_requests"] == after["speculative_requests"]  # type: ignore[index]


def test_a_grammar_screens_drafts_and_drafts_its_forced_tokens(
    spec_llm: AbstractLLMInterface, fresh: AbstractLLMInterface
) -> None:
    """Under a JSON schema the keys are drafted (the grammar forces them; they are not in the prompt), drafts the
    grammar forbids are cut, and the reply stays plain decoding's."""
    schema = {
        "type": "object",
        "properties": {"destination_city_name": {"type": "string"}, "number_of_days": {"type": "integer"}},
        "required": ["destination_city_name", "number_of_days"],
    }
    arguments: dict[str, Any] = {
        "max_tokens": 60,
        "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}},
    }
    before = spec_llm.cache_info()
    assert before is not None
    reply = spec_llm.generate("Trip", **arguments)
    after = spec_llm.cache_info()
    assert after is not None and _summary(reply) == _summary(fresh.generate("Trip", **arguments))
    assert "destination_city_name" in reply.text
    assert after["accepted_tokens"] - before["accepted_tokens"] >= 2  # at least the keys' forced tokens


def test_streamed_reply_equals_plain_decoding(spec_llm: AbstractLLMInterface, fresh: AbstractLLMInterface) -> None:
    for arguments in ({"stop": ["nine"]}, {"max_tokens": 50}):
        plain = fresh.generate(TEXT, raw=True, max_tokens=arguments.get("max_tokens", 60), stop=arguments.get("stop"))
        chunks = list(
            spec_llm.generate(TEXT, raw=True, stream=True, max_tokens=arguments.get("max_tokens", 60), stop=arguments.get("stop"))
        )
        assert "".join(chunk.text for chunk in chunks) == plain.text
        assert chunks[-1].finish_reason == plain.finish_reason
        assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_session_turns_equal_plain_decoding(spec_llm: AbstractLLMInterface, fresh: AbstractLLMInterface) -> None:
    turns = ["Repeat: " + TEXT, "Again, please.", "What is the weather in Paris?"]
    replies = []
    for model in (fresh, spec_llm):
        session = Session(system_prompt="You are terse. " * 10, provider=model)
        replies.append([_summary(session.generate(turn, max_tokens=40)) for turn in turns])
    assert replies[0] == replies[1]
    assert spec_llm.cache_info()["hits"] > 0  # type: ignore[index]


def test_per_call_option_on_a_plain_model(fresh: AbstractLLMInterface) -> None:
    plain = fresh.generate(TEXT, raw=True, max_tokens=40)
    assert _summary(fresh.generate(TEXT, raw=True, max_tokens=40, **SPEC)) == _summary(plain)
    info = fresh.cache_info()
    assert info is not None and info["speculative_requests"] >= 1


@pytest.mark.parametrize(
    ("value", "parameter"),
    [
        ("fast", "speculative"),
        (3, "speculative"),
        ({"draft_tokens": 0}, "speculative['draft_tokens']"),
        ({"draft_tokens": True}, "speculative['draft_tokens']"),
        ({"ngram_size": 9}, "speculative['ngram_size']"),
        ({"method": "eagle"}, "speculative['method']"),
        ({"draft_model": "HuggingFaceTB/SmolLM2-135M"}, "speculative['draft_model']"),
        ({"draft_tokens": 4, "lookahead": 2}, "speculative['lookahead']"),
    ],
)
def test_bad_values_are_refused_and_the_model_goes_on(fresh: AbstractLLMInterface, value: Any, parameter: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        fresh.generate("Hi", max_tokens=4, speculative=value)
    assert caught.value.parameter == parameter
    with pytest.raises(InvalidArgumentError) as at_load:
        create_llm("huggingface", model=str(Path(fresh.backend.model_name)), speculative=value)
    assert at_load.value.parameter == parameter
    assert (
        fresh.generate("Hi", max_tokens=4, speculative={"draft_tokens": 4, "ngram_size": 2}).text
        == fresh.generate("Hi", max_tokens=4).text
    )


def test_sampling_is_refused_clearly(spec_llm: AbstractLLMInterface) -> None:
    with pytest.raises(InvalidArgumentError, match="greedy decoding only") as caught:
        spec_llm.generate("Hi", temperature=0.8, max_tokens=4)
    assert caught.value.parameter == "speculative" and "temperature=0" in str(caught.value)
    assert spec_llm.generate("Hi", temperature=0.8, max_tokens=4, speculative=None).text is not None
    assert spec_llm.generate("Hi", max_tokens=4).finish_reason in ("stop", "length")


def test_a_speculative_request_does_not_stall_other_callers(chat_dir: Path) -> None:
    model = create_llm("huggingface", model=str(chat_dir), temperature=0, prefix_cache_bytes=0)
    try:
        batcher = model.backend.loaded.batcher
        finished: dict[str, float] = {}

        def long_speculative() -> None:
            model.generate("Numbers:", raw=True, max_tokens=400, **SPEC)
            finished["speculative"] = time.monotonic()

        worker = threading.Thread(target=long_speculative, daemon=True)
        start = batcher.steps_run
        worker.start()
        deadline = time.monotonic() + 60
        while batcher.steps_run < start + 6 and time.monotonic() < deadline:
            time.sleep(0.001)
        short = model.generate("Hi", max_tokens=3)
        finished["short"] = time.monotonic()
        worker.join(120)
        assert short.usage.completion_tokens == 3 and "speculative" in finished
        assert finished["short"] < finished["speculative"] and batcher.yields >= 1
    finally:
        model.unload()


@pytest.mark.slow
@pytest.mark.real_model
def test_smollm2_replies_equal_plain_decoding(real_model: Any) -> None:
    plain = create_llm("huggingface", model=str(real_model.pipeline_dir), temperature=0, prefix_cache_bytes=0)
    spec = create_llm("huggingface", model=str(real_model.pipeline_dir), device="cpu", temperature=0, **SPEC)
    text = (
        "The old lighthouse stood on the northern cliff for more than a century. Its keeper, a quiet man named Elias,"
        " climbed the spiral stairs every evening to light the lamp. Ships relied on its beam to avoid the rocks."
    )
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"Rewrite this text exactly, but call the keeper Tobias instead of Elias:\n\n{text}", {"max_tokens": 80}),
        ("Write a short story about a dragon who learns to bake bread.", {"max_tokens": 80}),
        (f"{text}\n\nWhere does the lighthouse stand?", {"max_tokens": 40, "stop": ["cliff"]}),
        (
            f"{text}\n\nGive the keeper's name.",
            {
                "max_tokens": 40,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "k",
                        "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                    },
                },
            },
        ),
        ("What is the weather in Paris?", {"max_tokens": 40, "tools": [get_weather], "tool_choice": "get_weather"}),
    ]
    try:
        for prompt, arguments in cases:
            assert _summary(spec.generate(prompt, **arguments)) == _summary(plain.generate(prompt, **arguments)), prompt
        info = spec.cache_info()
        assert info is not None and info["accepted_tokens"] > 20
    finally:
        plain.unload()
        spec.unload()
