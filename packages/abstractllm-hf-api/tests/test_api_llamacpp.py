"""Against the real llama.cpp OpenAI-compatible server (llama-cpp-python[server]) serving the tiny GGUF.

Greedy replies must equal ``llama_cpp.Llama`` run directly on the same file with the same
messages through the same (GGUF) chat template.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy", reason="the tiny models (tinymodel) need numpy, torch and llama-cpp-python")

from abstractllm import create_llm
from tinymodel import EXPECTED_CHATS, EXPECTED_COMPLETIONS

MAX_TOKENS = 24


@pytest.fixture(scope="module")
def direct(gguf_path: Path) -> Iterator[Any]:
    from llama_cpp import Llama

    model = Llama(model_path=str(gguf_path), n_ctx=512, verbose=False)
    yield model
    model.close()


@pytest.fixture(scope="module")
def llm(llama_server: str) -> Iterator[Any]:
    model = create_llm("huggingface", inference_api_url=llama_server, max_retries=0)
    yield model
    model.unload()


def _direct_chat(direct: Any, messages: list[dict[str, str]]) -> str:
    reply = direct.create_chat_completion(messages=messages, temperature=0, max_tokens=MAX_TOKENS, repeat_penalty=1.0)
    return str(reply["choices"][0]["message"]["content"])


def test_the_url_is_probed_once_and_speaks_openai(llm: Any, llama_server: str) -> None:
    assert llm.mode == "endpoint"
    assert llm.backend.protocol.name == "openai"
    assert llm.get_capabilities()["chat_template"] is True


@pytest.mark.parametrize(("messages", "expected"), EXPECTED_CHATS[:5])
def test_greedy_chat_equals_llama_cpp_directly(llm: Any, direct: Any, messages: list[dict[str, str]], expected: str) -> None:
    reference = _direct_chat(direct, messages)
    response = llm.generate(messages, temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0)
    assert str(response) == reference
    assert reference == expected  # the tiny model really answers this
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_plain_prompt_is_one_user_turn(llm: Any, direct: Any) -> None:
    messages, _ = EXPECTED_CHATS[0]
    response = llm.generate(messages[0]["content"], temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0)
    assert str(response) == _direct_chat(direct, messages)


def test_system_prompt_reaches_the_template(llm: Any, direct: Any) -> None:
    messages, expected = EXPECTED_CHATS[4]
    assert messages[0]["role"] == "system"
    response = llm.generate(
        messages[1]["content"], system_prompt=messages[0]["content"], temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0
    )
    assert str(response) == _direct_chat(direct, messages) == expected


def test_stream_joins_to_the_greedy_reply(llm: Any) -> None:
    messages, _ = EXPECTED_CHATS[1]
    expected = llm.generate(messages, temperature=0, max_tokens=MAX_TOKENS)
    chunks = list(llm.generate(messages, temperature=0, max_tokens=MAX_TOKENS, stream=True))
    assert len(chunks) > 2
    assert "".join(chunks) == str(expected)
    assert chunks[-1].finish_reason == expected.finish_reason
    # llama-cpp-python's server ignores stream_options.include_usage: it sends no usage to report.
    assert chunks[-1].usage is None


async def test_async_generate_and_stream(llm: Any, direct: Any) -> None:
    messages, _ = EXPECTED_CHATS[3]
    reference = _direct_chat(direct, messages)
    response = await llm.generate_async(messages, temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0)
    assert str(response) == reference
    stream = await llm.generate_async(messages, temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0, stream=True)
    assert "".join([chunk async for chunk in stream]) == reference


@pytest.mark.parametrize(("prompt", "expected"), EXPECTED_COMPLETIONS[:3])
def test_raw_completion_equals_llama_cpp_directly(llm: Any, direct: Any, prompt: str, expected: str) -> None:
    reference = direct.create_completion(prompt, temperature=0, max_tokens=8, repeat_penalty=1.0)["choices"][0]["text"]
    response = llm.generate(prompt, raw=True, temperature=0, max_tokens=8, repetition_penalty=1.0)
    assert str(response) == reference
    assert reference.startswith(expected.rstrip("."))
    assert llm.backend.transport is not None


def test_multi_turn_chat(llm: Any, direct: Any) -> None:
    messages = [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "What color is the sky?"},
    ]
    assert str(llm.generate(messages, temperature=0, max_tokens=MAX_TOKENS, repetition_penalty=1.0)) == _direct_chat(
        direct, messages
    )


def test_num_return_sequences_fills_what_the_server_ignores(llm: Any, llama_server: str) -> None:
    response = llm.generate("Hello!", num_return_sequences=3, temperature=1.0, seed=3, max_tokens=6)
    assert len(response.choices) == 3
    assert all(isinstance(choice, str) for choice in response.choices)
    single = llm.generate("Hello!", temperature=1.0, seed=3, max_tokens=6)
    assert response.usage.prompt_tokens == 3 * single.usage.prompt_tokens


def test_a_prompt_past_the_context_window_is_context_window_exceeded(llm: Any) -> None:
    from abstractllm.errors import ContextWindowExceededError

    with pytest.raises(ContextWindowExceededError, match="context window") as caught:
        llm.generate("Paris and France. " * 300, max_tokens=4)  # well over the server's n_ctx of 512
    error = caught.value
    assert error.context_window == 512
    assert error.content_length is not None and error.content_length > 512
    assert error.parameter == "prompt" and "shorten the prompt" in str(error)
    assert str(llm.generate("What is the capital of France?", temperature=0, max_tokens=4))  # the model still works


def test_a_session_longer_than_the_context_window_keeps_going(llm: Any) -> None:
    from abstractllm.session import Session

    session = Session(system_prompt="Be brief.", provider=llm)
    question = "Paris and France. " * 40 + "What is the capital of France?"
    prompts = []
    for _ in range(5):  # about 180 tokens a turn: the third already overflows n_ctx=512
        reply = session.generate(question, temperature=0, max_tokens=8)
        assert reply.finish_reason in ("stop", "length")
        prompts.append(reply.usage.prompt_tokens)
    assert all(used + 8 <= 512 for used in prompts)  # each request fitted: old turns were left out
    assert len(session.messages) == 1 + 2 * 5  # the history keeps them


def test_the_turn_after_a_tool_loop_stopped_at_its_round_limit_is_answered(llm: Any, fake: Any) -> None:
    """The in-repo server makes a call past ``max_tool_rounds``; the session records it with a "not run"
    result, and the next turn (every call answered, in order) is sent to llama.cpp's server."""
    from abstractllm.session import Session

    def get_weather(city: str) -> dict[str, Any]:
        """Get the weather in a city."""
        return {"temperature": 22, "sky": "sunny"}

    scripted = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    call = {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    fake.script(call, {**call, "call_anyway": True})
    session = Session(provider=scripted)
    session.generate_with_tools("What is the weather in Paris?", tools=[get_weather], max_tool_rounds=1)
    scripted.unload()
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert session.messages[-1].tool_call_id == session.messages[-2].tool_calls[0].id
    reply = session.generate("What is the capital of France?", provider=llm, temperature=0, max_tokens=MAX_TOKENS)
    assert str(reply).strip() and reply.finish_reason in ("stop", "length")
