"""Tools on a real instruct model (SmolLM2-135M-Instruct) in the gguf and pipeline modes.

Its chat template drops ``tools``, so both modes show them in the prompt (core's fallback
format) and force calls by grammar: the same answers from both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.session import Session

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

CALLS: list[str] = []


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    CALLS.append(city)
    return f"sunny, 22 degrees in {city}"


@pytest.fixture(params=["gguf", "pipeline"], scope="module")
def llm(request: pytest.FixtureRequest, real_model: Any) -> Iterator[Any]:
    where = {"model_path": str(real_model.gguf)} if request.param == "gguf" else {"model": str(real_model.pipeline_dir)}
    model = create_llm("huggingface", temperature=0, max_tokens=48, **where)
    yield model
    model.unload()


def test_a_template_that_drops_tools_still_offers_them(llm: Any) -> None:
    capabilities = llm.get_capabilities()
    assert capabilities["supports_tool_use"] is True
    assert capabilities["tool_rendering"] == "prompted"  # the same answer in both modes


@pytest.mark.parametrize("choice", ["required", "get_weather"])
def test_a_forced_call_is_one_valid_call(llm: Any, choice: str) -> None:
    reply = llm.generate("What is the weather in Paris?", tools=[get_weather], tool_choice=choice)
    assert reply.finish_reason == "tool_calls"
    assert str(reply) == ""  # the call is not reply text, in either mode
    [call] = reply.tool_calls
    assert (call.name, call.error) == ("get_weather", None)
    assert isinstance(call.arguments["city"], str) and call.arguments["city"]


def test_a_forced_call_cut_by_max_tokens_is_length_not_a_broken_call(llm: Any) -> None:
    reply = llm.generate("What is the weather in Paris?", tools=[get_weather], tool_choice="required", max_tokens=4)
    assert reply.finish_reason == "length"
    assert reply.tool_calls == []


def test_auto_choice_reports_only_readable_calls(llm: Any) -> None:
    reply = llm.generate("What is the weather in Paris?", tools=[get_weather], tool_choice="auto", max_tokens=32)
    assert reply.finish_reason == ("tool_calls" if reply.tool_calls else reply.finish_reason)
    assert reply.finish_reason in ("stop", "length", "tool_calls")
    assert all(call.error is None and call.name == "get_weather" for call in reply.tool_calls)


def test_the_tool_loop_runs_the_forced_call_and_stays_bounded(llm: Any) -> None:
    CALLS.clear()
    session = Session(provider=llm)
    answer = session.generate_with_tools(
        "What is the weather in Paris?", tools=[get_weather], tool_choice="required", max_tool_rounds=2
    )
    assert 1 <= len(CALLS) <= 2
    assert CALLS[0]
    roles = [message.role for message in session.messages]
    assert roles[:3] == ["user", "assistant", "tool"] and roles[-1] == "assistant"
    assert answer.finish_reason in ("stop", "length", "tool_calls")
