"""Bad prompts, messages, tools and parameters are ``InvalidArgumentError`` naming the parameter
and the fix; the same model generates correctly afterwards (real n-gram backend)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm._private.tool_hooks import run_tool_calls
from abstractllm.errors import InvalidArgumentError
from abstractllm.options import GREEDY_BELOW_TEMPERATURE, MAX_SEED
from abstractllm.tools import ToolCall, normalize_tools

GREEDY = " france ."


def still_works(llm: Any) -> None:
    assert str(llm.generate("the capital of", temperature=0)) == GREEDY


def refused(llm: Any, parameter: str, says: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        llm.generate(*args, **kwargs)
    assert caught.value.parameter == parameter, caught.value
    assert says.lower() in str(caught.value).lower(), caught.value
    still_works(llm)


@pytest.mark.parametrize("prompt", [b"hi", bytearray(b"hi"), memoryview(b"hi")], ids=["bytes", "bytearray", "memoryview"])
def test_bytes_are_not_a_list_of_messages(ngram: Any, prompt: Any) -> None:
    refused(ngram, "prompt", "decode", prompt)


def test_a_lone_surrogate_names_where_it_is(ngram: Any) -> None:
    refused(ngram, "prompt", "surrogate", "the capital \ud800 of")
    refused(ngram, "system_prompt", "surrogate", "the capital of", system_prompt="be \udfff brief")
    refused(ngram, "messages", "surrogate", [{"role": "user", "content": "x\ud83d"}])
    refused(ngram, "messages", "surrogate", "the capital of", messages=[{"role": "assistant", "content": "\ud800"}])
    assert str(ngram.generate("the capital of 😀", temperature=0)).strip()  # a real pair is fine


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"role": "user", "content": "x", "metadata": "abc"}, "metadata must be a dict"),
        ({"role": "user", "content": "x", "metadata": [1, 2]}, "metadata must be a dict"),
        ({"role": "assistant", "content": "x", "tool_calls": "abc"}, "tool_calls must be a list"),
        ({"role": "assistant", "content": "x", "tool_calls": 5}, "tool_calls must be a list"),
        ({"role": "assistant", "content": "x", "tool_calls": {"name": "f"}}, "tool_calls must be a list"),
        ({"role": "assistant", "content": "x", "tool_calls": [5]}, "tool_calls[0] is a int"),
        ({"role": "assistant", "content": "x", "tool_calls": [{"function": 3}]}, "no function name"),
        ({"role": "assistant", "content": "x", "tool_calls": [{}]}, "no function name"),
        ({"role": "user", "content": "x", "name": 3.5}, "name must be a string"),
        ({"role": "tool", "content": "x", "tool_call_id": ["a"]}, "tool_call_id must be a string"),
        ({"role": "user", "content": "x", "timestamp": 1e20}, "timestamp"),
    ],
)
def test_a_malformed_message_field_is_an_invalid_argument(ngram: Any, message: dict[str, Any], says: str) -> None:
    refused(ngram, "messages", says, [message])


@pytest.mark.parametrize("messages", ["hi", b"hi", {"role": "user", "content": "hi"}, 5], ids=["str", "bytes", "dict", "int"])
def test_messages_must_be_a_list(ngram: Any, messages: Any) -> None:
    refused(ngram, "messages", "messages must be a list", "the capital of", messages=messages)


def forecast(days: int, city: str, unit: str = "C") -> str:
    """The forecast for a city.

    Args:
        days: How many days ahead.
        city: The city.
    """
    return f"{days} days in {city}: sunny ({unit})"


class Clock:
    def __call__(self, zone: str) -> str:
        """The time in a zone."""
        return f"noon in {zone}"


def test_partials_and_callable_objects_are_tools() -> None:
    tool = functools.partial(forecast, 3)
    definition, clock = normalize_tools([tool, Clock()])
    assert definition.name == "forecast" and definition.description == "The forecast for a city."
    assert definition.input_schema["required"] == ["city"]
    assert set(definition.input_schema["properties"]) == {"city", "unit"}
    assert definition.input_schema["properties"]["city"] == {"type": "string", "description": "The city."}
    assert clock.name == "Clock" and clock.input_schema["required"] == ["zone"]
    results = run_tool_calls(
        [ToolCall("forecast", {"city": "Paris"}), ToolCall("Clock", {"zone": "UTC"})],
        {"forecast": tool, "Clock": Clock()},
        get_plugins(),
    )
    assert [r.content for r in results] == ["3 days in Paris: sunny (C)", "noon in UTC"]


@pytest.mark.parametrize(
    ("tool", "says"),
    [
        (int, "tools[0] is the class int"),
        (functools.partial(dict, a=1), "tools[0] is the class dict"),
        (Clock, "tools[0] is the class Clock"),
    ],
    ids=["int", "partial-of-a-class", "a-class"],
)
def test_a_class_is_not_a_tool(ngram: Any, tool: Any, says: str) -> None:
    refused(ngram, "tools", says, "the capital of", tools=[tool])


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, GREEDY_BELOW_TEMPERATURE / 2])
def test_a_tiny_temperature_decodes_greedily(ngram_plugin: None, temperature: float) -> None:
    with create_llm("ngram", temperature=temperature) as llm:
        assert llm.get_config()["temperature"] == 0.0
        assert [str(llm.generate("the capital of", seed=seed)) for seed in range(3)] == [GREEDY] * 3
        assert str(llm.generate("the capital of", temperature=temperature, seed=5)) == GREEDY


@pytest.mark.parametrize("seed", [2**64, 2**32, -1, -(2**63)])
def test_a_seed_outside_32_bits_is_refused_with_the_fix(ngram: Any, seed: int) -> None:
    refused(ngram, "seed", "seed % 2**32", "the capital of", seed=seed)
    with pytest.raises(InvalidArgumentError, match="seed"):
        create_llm("ngram", seed=seed)


def test_the_largest_seed_works_and_reproduces(ngram: Any) -> None:
    first = ngram.generate("the capital of", temperature=1.0, seed=MAX_SEED, max_tokens=6)
    assert str(ngram.generate("the capital of", temperature=1.0, seed=MAX_SEED, max_tokens=6)) == str(first)


@pytest.mark.parametrize(("name", "value"), [("max_tokens", 2**31), ("top_k", 2**63), ("max_tokens", 10**30)])
def test_counts_beyond_a_c_int_are_refused(ngram: Any, name: str, value: int) -> None:
    refused(ngram, name, "2147483647", "the capital of", **{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", -0.5),
        ("top_p", 0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("max_tokens", 0),
        ("repetition_penalty", 0),
        ("num_return_sequences", 0),
        ("seed", "x"),
        ("stop", 3),
    ],
)
def test_bad_parameter_values_are_refused_before_any_backend_code(ngram: Any, name: str, value: Any) -> None:
    """Core validates every call for every backend (these checks left the conformance kit, where
    they never reached a backend's code)."""
    refused(ngram, name, name, "the capital of", **{name: value})


def test_an_unknown_parameter_gets_a_did_you_mean(ngram: Any) -> None:
    refused(ngram, "temprature", "Did you mean 'temperature'", "the capital of", temprature=0.5)


def test_parameters_met_before_are_still_checked_by_type_and_configuration(ngram: Any) -> None:
    """Core reuses the params object of calls giving the same plain values; a value equal to one seen
    before but of another type (False == 0) is still checked, and a configuration change still counts."""
    first = ngram.generate("the capital of", temperature=0, max_tokens=3)
    with pytest.raises(InvalidArgumentError) as caught:
        ngram.generate("the capital of", temperature=False, max_tokens=3)
    assert caught.value.parameter == "temperature"
    assert ngram.generate("the capital of", temperature=0, max_tokens=3) == first  # still works afterwards
    ngram.set_config(stop=["france"])
    stopped = ngram.generate("the capital of", temperature=0, max_tokens=3)
    assert "france" in first and "france" not in stopped and stopped.finish_reason == "stop"
    listed = ngram.generate("the capital of", temperature=0, max_tokens=3, stop=["."])  # a list: checked every time
    with pytest.raises(InvalidArgumentError):
        ngram.generate("the capital of", temperature=0, max_tokens=3, stop=[1])
    assert listed == ngram.generate("the capital of", temperature=0, max_tokens=3, stop=["."])
