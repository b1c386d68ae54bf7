"""The second real model family: Qwen2.5-Coder-0.5B-Instruct (qwen2, Q4_K_M; fixture ``qwen_model``)
in all three modes, each equal to its raw library on the same weights and prompt.

- pipeline: ``transformers`` ``model.generate`` (greedy) on the model the backend loaded;
- gguf: ``llama_cpp.Llama.create_chat_completion`` on a second ``Llama`` of the same file;
- endpoint: the same JSON body posted to the same ``llama_cpp.server`` with httpx.

Qwen's chat template renders tools (Hermes), and with one tool offered the model answers
"What's the weather in Paris?" with a fenced JSON call instead of a ``<tool_call>`` block, in
every mode (the raw libraries show that text). Core's fenced-JSON rule makes it the call.

One model per mode is loaded for this module (the modes run one after the other), and the
replies are short, to keep the group to a few minutes on two shared cores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.session import Session

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

QUESTION = "What's the weather in Paris?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
CHAT_TOKENS = 16
TOOL_TOKENS = 48


class RawTransformers:
    """``model.generate`` on the pipeline backend's own weights and tokenizer."""

    def __init__(self, llm: Any) -> None:
        self.model, self.tokenizer = llm.backend.loaded.model, llm.backend.loaded.tokenizer

    def chat(self, messages: list[dict[str, Any]], max_tokens: int, tools: list[dict[str, Any]] | None = None) -> str:
        import torch

        inputs = self.tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
        with torch.inference_mode():
            output = self.model.generate(**inputs, do_sample=False, max_new_tokens=max_tokens)
        return str(self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))


class RawLlama:
    """``Llama.create_chat_completion`` (the GGUF's own template) on a second copy of the file."""

    def __init__(self, gguf: Any) -> None:
        from llama_cpp import Llama

        self.llama = Llama(model_path=str(gguf), n_ctx=2048, verbose=False)

    def chat(self, messages: list[dict[str, Any]], max_tokens: int, tools: list[dict[str, Any]] | None = None) -> str:
        reply = self.llama.create_chat_completion(messages, tools=tools, temperature=0, max_tokens=max_tokens, repeat_penalty=1.0)
        return str(reply["choices"][0]["message"]["content"])

    def close(self) -> None:
        self.llama.close()


class RawServer:
    """The OpenAI chat route of the same ``llama_cpp.server``, posted with httpx."""

    def __init__(self, url: str) -> None:
        self.url = url

    def chat(self, messages: list[dict[str, Any]], max_tokens: int, tools: list[dict[str, Any]] | None = None) -> str:
        import httpx

        body: dict[str, Any] = {"messages": messages, "temperature": 0.0, "max_tokens": max_tokens, "repeat_penalty": 1.0}
        if tools:
            body.update(tools=tools, tool_choice="auto")
        reply = httpx.post(f"{self.url}/v1/chat/completions", json=body, timeout=300).json()
        return str(reply["choices"][0]["message"]["content"])


@pytest.fixture(params=["pipeline", "gguf", "endpoint"], scope="module")
def qwen(request: pytest.FixtureRequest, qwen_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``(llm, raw)`` for one mode: the library's model and the raw library's, greedy alike."""
    options: dict[str, Any] = {"temperature": 0, "repetition_penalty": 1.0}
    if request.param == "pipeline":
        llm = create_llm("huggingface", model=str(qwen_model.pipeline_dir), device="cpu", **options)
        yield llm, RawTransformers(llm)
        llm.unload()
    elif request.param == "gguf":
        llm, raw = create_llm("huggingface", model_path=str(qwen_model.gguf), **options), RawLlama(qwen_model.gguf)
        yield llm, raw
        raw.close()
        llm.unload()
    else:
        from tinymodel.serve import llama_server

        log = tmp_path_factory.mktemp("qwen-server") / "server.log"
        with llama_server(qwen_model.gguf, n_ctx=2048, log=log) as url:
            llm = create_llm("huggingface", inference_api_url=url, protocol="openai", max_retries=0, **options)
            yield llm, RawServer(url)
            llm.unload()


def test_chat_and_stream_equal_the_raw_library(qwen: Any) -> None:
    llm, raw = qwen
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    reply = llm.generate(messages=messages, max_tokens=CHAT_TOKENS)
    assert str(reply) == raw.chat(messages, CHAT_TOKENS)
    assert "Paris" in reply
    chunks = list(llm.generate(messages=messages, max_tokens=CHAT_TOKENS, stream=True))
    assert "".join(chunks) == str(reply)
    assert chunks[-1].finish_reason == reply.finish_reason


def test_a_session_sends_the_history_the_raw_library_gets(qwen: Any) -> None:
    llm, raw = qwen
    session = Session(provider=llm)
    first = session.generate("My name is Ann. Say hello to me.", max_tokens=CHAT_TOKENS)
    second = session.generate("What is my name?", max_tokens=CHAT_TOKENS)
    history = [
        {"role": "user", "content": "My name is Ann. Say hello to me."},
        {"role": "assistant", "content": str(first)},
        {"role": "user", "content": "What is my name?"},
    ]
    assert str(second) == raw.chat(history, CHAT_TOKENS)
    assert "Ann" in second


def test_the_fenced_json_call_qwen_writes_is_a_tool_call(qwen: Any) -> None:
    """The raw library shows the reply as text (a ```json block); the library returns the call."""
    llm, raw = qwen
    messages = [{"role": "user", "content": QUESTION}]
    text = raw.chat(messages, TOOL_TOKENS, tools=[WEATHER_TOOL])
    assert text.startswith("```json") and "<tool_call>" not in text  # what the model writes, as text
    written = json.loads(text.strip().removeprefix("```json").removesuffix("```"))
    for reply in (
        llm.generate(messages=messages, tools=[WEATHER_TOOL], max_tokens=TOOL_TOKENS),
        list(llm.generate(messages=messages, tools=[WEATHER_TOOL], max_tokens=TOOL_TOKENS, stream=True)),
    ):
        final = reply[-1] if isinstance(reply, list) else reply
        shown = "".join(reply) if isinstance(reply, list) else str(reply)
        assert (shown, final.finish_reason) == ("", "tool_calls")  # never shown as text, streamed or not
        [call] = final.tool_calls
        assert (call.name, call.arguments, call.error) == (written["name"], written["arguments"], None)
        assert call.arguments == {"city": "Paris"}


def test_a_forced_call_is_one_valid_call(qwen: Any) -> None:
    llm, _ = qwen
    reply = llm.generate(QUESTION, tools=[WEATHER_TOOL], tool_choice="get_weather", max_tokens=TOOL_TOKENS)
    assert (str(reply), reply.finish_reason) == ("", "tool_calls")
    [call] = reply.tool_calls
    assert (call.name, call.error) == ("get_weather", None)
    assert "paris" in call.arguments["city"].lower()


def test_a_json_schema_reply_is_valid_and_ends(qwen: Any) -> None:
    llm, _ = qwen
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    reply = llm.generate("Describe a person called Ann, aged 31, as JSON.", response_format=response_format, max_tokens=40)
    assert reply.finish_reason == "stop", str(reply)
    assert reply.parsed == {"name": "Ann", "age": 31}


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return json.dumps({"city": city, "sky": "sunny", "temperature_c": 23})


def test_a_whole_tool_loop_answers_from_the_tool_result(qwen: Any) -> None:
    """The call goes back to the template as Qwen's template expects it (``arguments | tojson`` of an
    object, not of JSON text), so the model reads its own call and the result and answers."""
    llm, _ = qwen
    session = Session(provider=llm)
    answer = session.generate_with_tools(QUESTION, tools=[get_weather], max_tokens=TOOL_TOKENS)
    assert [message.role for message in session.messages] == ["user", "assistant", "tool", "assistant"]
    assert (session.messages[1].tool_calls[0].name, session.messages[1].tool_calls[0].arguments) == (
        "get_weather",
        {"city": "Paris"},
    )
    assert answer.finish_reason == "stop", str(answer)
    assert "23" in str(answer) and "sunny" in str(answer).lower(), str(answer)
