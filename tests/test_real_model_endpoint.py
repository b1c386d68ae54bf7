"""Tools and structured output in the endpoint mode, against llama-cpp-python's OpenAI-compatible
server running the real model (SmolLM2-135M-Instruct's GGUF).

Two servers, because llama-cpp-python's chat handlers differ in what they enforce:

- the GGUF's own chat template (the server's default): ``response_format`` and a tool forced by
  name are enforced by grammar; ``tool_choice="required"`` over several tools is ignored (the
  library then raises at the call; over one tool it is sent as that tool's name, which the
  server enforces); SmolLM2's template drops ``tools``, so ``"auto"`` never calls one; tool
  results are rendered, so the full tool loop works;
- ``--chat_format chatml-function-calling``: ``"auto"`` really chooses (by grammar), but
  ``"required"`` over several tools crashes the handler (HTTP 500) and ``tool`` messages are
  not rendered, so a tool loop's results never reach the model.

llama-cpp-python's server applies its default ``repeat_penalty`` (1.1) on top of a grammar and
then leaves the grammar (raw newlines inside JSON strings); the structured tests send
``repetition_penalty=1.0``, as the gguf mode does by default.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import OutputParsingError, ProviderAPIError, UnsupportedFeatureError
from abstractllm.session import Session
from tests.test_real_model_structured import CASES, PERSON

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

CALLS: list[str] = []
QUESTION = "What is the weather in Paris?"


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    CALLS.append(city)
    return f"sunny, 22 degrees in {city}"


@contextmanager
def _llama_server(gguf: Path, log: Path, *chat_format: str) -> Iterator[str]:
    from tinymodel.serve import free_port, serving

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "2048", "--verbose", "false", *chat_format]
    with serving(command, url + "/v1/models", log=log, timeout=120):
        yield url


def _client(url: str) -> Any:
    return create_llm("huggingface", inference_api_url=url, protocol="openai", temperature=0, max_tokens=64, max_retries=0)


@pytest.fixture(scope="module")
def llm(real_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The endpoint mode on the server that uses the GGUF's own chat template."""
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with _llama_server(real_model.gguf, log) as url:
        model = _client(url)
        yield model
        model.unload()


@pytest.fixture(scope="module")
def function_calling(real_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The endpoint mode on a server started with ``--chat_format chatml-function-calling``."""
    log = tmp_path_factory.mktemp("llama-server-fc") / "server.log"
    with _llama_server(real_model.gguf, log, "--chat_format", "chatml-function-calling") as url:
        model = _client(url)
        yield model
        model.unload()


def _one_weather_call(reply: Any) -> None:
    assert reply.finish_reason == "tool_calls"
    assert str(reply) == ""
    [call] = reply.tool_calls
    assert (call.name, call.error) == ("get_weather", None)
    assert isinstance(call.arguments["city"], str) and call.arguments["city"].strip()


@pytest.mark.parametrize("server", ["llm", "function_calling"])
def test_a_call_forced_by_name_is_one_valid_call(server: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(server)
    _one_weather_call(model.generate(QUESTION, tools=[get_weather], tool_choice="get_weather"))


def test_a_streamed_call_forced_by_name_is_one_valid_call(llm: Any) -> None:
    chunks = list(llm.generate(QUESTION, tools=[get_weather], tool_choice="get_weather", stream=True))
    assert "".join(chunks) == ""
    _one_weather_call(chunks[-1])


def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"noon in {city}"


@pytest.mark.parametrize("server", ["llm", "function_calling"])
def test_required_over_one_tool_is_sent_as_its_name_and_enforced(server: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(server)
    _one_weather_call(model.generate(QUESTION, tools=[get_weather], tool_choice="required"))


def test_required_ignored_by_the_template_handler_raises_at_the_call(llm: Any) -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"ignored tool_choice='required'.*no tool call") as caught:
        llm.generate(QUESTION, tools=[get_weather, get_time], tool_choice="required")
    assert caught.value.feature == "tool_choice"
    assert "tool_choice='auto'" in str(caught.value)  # says what to do instead
    assert llm.generate("Hello!", max_tokens=8).finish_reason in ("stop", "length")  # the model still works


def test_required_ignored_in_a_stream_raises_before_the_stream_ends(llm: Any) -> None:
    stream = llm.generate(QUESTION, tools=[get_weather, get_time], tool_choice="required", stream=True)
    with pytest.raises(UnsupportedFeatureError, match="ignored tool_choice='required'"):
        for _ in stream:
            pass


def test_required_crashing_the_function_calling_handler_is_an_error_not_a_reply(function_calling: Any) -> None:
    with pytest.raises(ProviderAPIError, match="500"):
        function_calling.generate(QUESTION, tools=[get_weather, get_time], tool_choice="required")


def test_auto_choice_calls_the_tool_where_the_server_offers_it(function_calling: Any) -> None:
    _one_weather_call(function_calling.generate(QUESTION, tools=[get_weather], tool_choice="auto"))


def test_auto_choice_on_a_template_that_drops_tools_is_a_plain_reply(llm: Any) -> None:
    reply = llm.generate(QUESTION, tools=[get_weather], tool_choice="auto")
    assert reply.tool_calls == []
    assert reply.finish_reason in ("stop", "length") and str(reply).strip()


def test_the_tool_loop_forces_the_first_round_only_and_the_answer_uses_the_result(llm: Any) -> None:
    CALLS.clear()
    session = Session(provider=llm)
    answer = session.generate_with_tools(QUESTION, tools=[get_weather], tool_choice="get_weather", max_tool_rounds=2)
    assert CALLS == ["Paris"]  # forced once; the later "auto" round answers instead of calling again
    assert [message.role for message in session.messages] == ["user", "assistant", "tool", "assistant"]
    assert answer.finish_reason == "stop" and answer.tool_calls == []
    assert "sunny" in str(answer).lower() or "22" in str(answer)  # the tool's result reached the model


@pytest.mark.parametrize("case", list(CASES))
def test_constrained_reply_is_valid_and_ends(llm: Any, case: str) -> None:
    prompt, schema = CASES[case]
    response_format = (
        {"type": "json_object"} if schema is None else {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    reply = llm.generate(prompt, response_format=response_format, repetition_penalty=1.0, max_tokens=128)
    assert reply.finish_reason == "stop", str(reply)
    assert isinstance(reply.parsed, dict)  # parsed and checked against the schema
    if case == "array":
        assert 1 <= len(reply.parsed["fruits"]) <= 5


def test_a_schema_the_server_escaped_is_never_returned_as_valid(llm: Any) -> None:
    """At the server's default repeat_penalty its grammar leaks (a raw newline inside a string)."""
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    try:
        reply = llm.generate(QUESTION, response_format=response_format)
    except UnsupportedFeatureError as exc:
        assert exc.feature == "response_format"
        return
    if reply.finish_reason == "stop":
        assert isinstance(reply.parsed, dict)
    else:
        with pytest.raises(OutputParsingError):
            reply.parsed
