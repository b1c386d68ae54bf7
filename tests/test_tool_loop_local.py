"""The full tool loop on the local backends: the tiny model was trained to call get_weather."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm._private.tool_hooks import ToolCallContext
from abstractllm.errors import InvalidArgumentError
from abstractllm.hookspecs import hookimpl
from abstractllm.session import Session

CALLS: list[str] = []


def get_weather(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    CALLS.append(city)
    return {"temperature": 22, "sky": "sunny"}


async def get_weather_async(city: str) -> dict[str, Any]:
    """Get the weather in a city."""
    CALLS.append(city)
    return {"temperature": 22, "sky": "sunny"}


@pytest.fixture(params=["pipeline", "gguf"], scope="module")
def llm(request: pytest.FixtureRequest, tiny_models: Any) -> Iterator[Any]:
    where = {"model": str(tiny_models.pipeline_dir)} if request.param == "pipeline" else {"model_path": str(tiny_models.gguf_f32)}
    model = create_llm("huggingface", temperature=0, max_tokens=48, **where)
    yield model
    model.unload()


def test_model_calls_tool_function_runs_and_the_answer_uses_its_result(llm: Any, tmp_path: Path) -> None:
    CALLS.clear()
    session = Session(provider=llm)
    answer = session.generate_with_tools("What is the weather in Paris?", tools=[get_weather])
    assert str(answer) == "It is sunny and 22 degrees in Paris."
    assert CALLS == ["Paris"]
    roles = [m.role for m in session.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    call = session.messages[1].tool_calls[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert session.messages[2].tool_call_id == call.id
    assert session.messages[2].content == '{"temperature": 22, "sky": "sunny"}'
    path = tmp_path / "tools.json"
    session.save(path)
    loaded = Session.load(path, provider=llm)
    assert [m.to_dict() for m in loaded.messages] == [m.to_dict() for m in session.messages]
    assert loaded.messages[1].tool_calls[0].arguments == {"city": "Paris"}


async def test_async_loop_awaits_async_tools(llm: Any) -> None:
    CALLS.clear()
    session = Session(provider=llm)
    answer = await session.generate_with_tools_async(
        "What is the weather in Paris?", tool_functions={"get_weather": get_weather_async}
    )
    assert str(answer) == "It is sunny and 22 degrees in Paris."
    assert CALLS == ["Paris"]


def test_a_plugin_can_refuse_a_tool_call(llm: Any) -> None:
    class Refuse:
        @hookimpl
        def abstractllm_before_tool_call(self, context: ToolCallContext) -> str | None:
            return f"refused: {context.call.name} is not allowed today"

    plugins = get_plugins()
    plugins.register(Refuse(), "refuse-tools")
    try:
        CALLS.clear()
        session = Session(provider=llm)
        session.generate_with_tools("What is the weather in Paris?", tools=[get_weather])
    finally:
        plugins.unregister("refuse-tools")
    assert CALLS == []
    assert session.messages[2].content == "refused: get_weather is not allowed today"
    assert session.messages[2].metadata["error"] is True


def test_forced_tool_call_is_valid_for_the_schema(llm: Any) -> None:
    response = llm.generate("What is the weather in Paris?", tools=[get_weather], tool_choice="get_weather")
    assert response.tool_calls and response.tool_calls[0].name == "get_weather"
    jsonschema.validate(
        response.tool_calls[0].arguments, {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    )
    results = response.execute_tool_calls({"get_weather": get_weather})
    assert results[0]["output"] == {"temperature": 22, "sky": "sunny"}


def test_streaming_a_tool_loop_is_refused_clearly(llm: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="generate_with_tools") as caught:
        Session(provider=llm).generate("What is the weather in Paris?", stream=True, tool_functions={"get_weather": get_weather})
    assert caught.value.parameter == "stream"
