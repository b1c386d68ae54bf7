"""The core generation contract, exercised on the n-gram backend (a real, deterministic model)."""

from __future__ import annotations

import asyncio
import collections.abc
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from abstractllm import ModelCapability, create_llm
from abstractllm.errors import (
    BackendNotInstalledError,
    InvalidArgumentError,
    UnsupportedFeatureError,
    UnsupportedOperationError,
    UnsupportedProviderError,
)
from abstractllm.response import GenerateResponse, StreamChunk


def _example_conformance_check() -> Any:
    """tests/plugins/abstractllm-ngram/conformance_check.py, the example plugin's own kit class."""
    path = Path(__file__).resolve().parents[3] / "tests" / "plugins" / "abstractllm-ngram" / "conformance_check.py"
    spec = importlib.util.spec_from_file_location("ngram_conformance_check", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestNgramConformance(_example_conformance_check().TestNgramThroughEntryPoint):
    """The example plugin's conformance check, with the plugin registered in-process."""

    prompt = "the capital of france is"

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _plugin(cls, ngram_plugin: None) -> None:
        return None


def test_response_is_a_str_with_metadata(ngram: Any) -> None:
    # greedy bigram decoding: "of" -> "france" (ties break alphabetically), "france" -> "."
    response = ngram.generate("the capital of", temperature=0, max_tokens=5)
    assert isinstance(response, str)
    assert response == " france ."
    assert response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 2)
    assert response.usage.total_tokens == 5
    cut = ngram.generate("the capital of italy", temperature=0, max_tokens=3)
    assert (str(cut), cut.finish_reason) == (" is a city", "length")
    assert response.model == "bigram" and response.provider == "ngram" and response.mode == "bigram"
    assert response.choices == [response]


def test_several_sequences(ngram: Any) -> None:
    response = ngram.generate("the capital of", num_return_sequences=3, seed=3, max_tokens=4)
    assert len(response.choices) == 3
    assert all(isinstance(choice, GenerateResponse) for choice in response.choices)


def test_per_call_parameters_override_instance_ones(ngram_plugin: None) -> None:
    llm = create_llm("ngram", max_tokens=2, temperature=0)
    assert llm.generate("rome is").usage.completion_tokens == 2
    assert llm.generate("rome is", max_tokens=4).usage.completion_tokens == 4
    assert llm.config_manager.get_param("max_tokens") == 2


def test_stream_is_a_generator_of_str_with_usage_last(ngram: Any) -> None:
    stream = ngram.generate("the capital of", stream=True, temperature=0)
    assert isinstance(stream, collections.abc.Generator)
    chunks = list(stream)
    assert all(isinstance(chunk, StreamChunk) and isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == " france ."
    assert chunks[-1].usage is not None and chunks[-1].finish_reason == "stop"


async def test_async_does_not_block_the_loop(ngram: Any) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(*(ngram.generate_async("the capital of", temperature=0) for _ in range(20)))
    task.cancel()
    assert {str(r) for r in results} == {" france ."}
    assert ticks > 0


def test_messages_and_system_prompt(ngram: Any) -> None:
    messages = [
        {"role": "user", "content": "tell me"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "rome is"},
    ]
    assert str(ngram.generate(messages, temperature=0, max_tokens=3)) == " a city in"
    with_system = ngram.generate("paris is", system_prompt="be brief", temperature=0, max_tokens=1)
    assert with_system.usage.prompt_tokens == 4  # the system prompt's two words are sent too


@pytest.mark.parametrize(
    ("prompt", "parameter"),
    [
        ("", "prompt"),
        (None, "prompt"),
        (42, "prompt"),
        ([], "messages"),
        ([{"role": "wizard", "content": "x"}], "messages"),
        ([{"role": "user", "content": 5}], "messages"),
        (["just a string"], "messages"),
    ],
)
def test_malformed_prompts_are_rejected(ngram: Any, prompt: Any, parameter: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        ngram.generate(prompt)
    assert caught.value.parameter == parameter
    assert str(ngram.generate("paris is", temperature=0, max_tokens=2))  # still works


def test_raw_rejects_messages_and_streaming_rejects_several_sequences(ngram: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="raw=True") as caught:
        ngram.generate("paris is", system_prompt="x", raw=True)
    assert caught.value.parameter == "raw"
    with pytest.raises(InvalidArgumentError) as caught:
        ngram.generate("paris is", stream=True, num_return_sequences=2)
    assert caught.value.parameter == "num_return_sequences"


def test_unclaimed_features_are_refused(ngram: Any) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        ngram.generate("paris", response_format={"type": "json_object"})
    assert caught.value.feature == "response_format"

    def lookup(city: str) -> str:
        return city

    with pytest.raises(UnsupportedFeatureError) as caught:
        ngram.generate("paris", tools=[lookup])
    with pytest.raises(UnsupportedFeatureError) as counted:  # counting what generate would send refuses it alike
        ngram.count_tokens("paris", tools=[lookup])
    assert (str(counted.value), counted.value.feature) == (str(caught.value), "tools")
    assert (counted.value.provider, counted.value.mode) == ("ngram", ngram.mode)
    assert ngram.count_tokens("paris", tools=[lookup], tool_choice="none") == ngram.count_tokens("paris") == 1  # none offered


def test_capabilities_answer_members_and_strings(ngram: Any) -> None:
    capabilities = ngram.get_capabilities()
    assert capabilities.get(ModelCapability.STREAMING) is True
    assert capabilities.get("streaming") is True
    assert capabilities[ModelCapability.MAX_TOKENS] == 256


def test_unload_and_context_managers(ngram_plugin: None) -> None:
    with create_llm("ngram") as llm:
        assert str(llm.generate("paris is", temperature=0, max_tokens=1))
    with pytest.raises(UnsupportedOperationError, match="unloaded"):
        llm.generate("paris is")

    async def use() -> Any:
        async with create_llm("ngram") as model:
            return await model.generate_async("paris is", temperature=0, max_tokens=1)

    assert str(asyncio.run(use())) == " a"


def test_unknown_provider_lists_installed_ones(ngram_plugin: None) -> None:
    with pytest.raises(UnsupportedProviderError) as caught:
        create_llm("no-such-provider")
    assert isinstance(caught.value, ValueError)
    assert "no-such-provider" in str(caught.value)
    assert "ngram" in caught.value.available and "huggingface" in caught.value.available


def test_unknown_option_of_a_mode_is_rejected_before_loading() -> None:
    from abstractllm._private.plugins import get_plugins
    from abstractllm.backend import Backend, BackendInfo
    from abstractllm.config import ConfigManager
    from abstractllm.hookspecs import hookimpl
    from abstractllm.options import Option, check_optional_str

    def load(info: BackendInfo, config: ConfigManager) -> Backend:
        raise AssertionError("loaded despite an unknown option")

    class WithAnOption:
        @hookimpl
        def abstractllm_backends(self) -> list[BackendInfo]:
            option = Option("corpus_name", None, check_optional_str, "Name shown as the model.")
            return [BackendInfo("optioned", "m", "a mode with an option", "pip install x", {"corpus_name": option}, load=load)]

    plugins = get_plugins()
    plugins.register(WithAnOption(), "optioned-plugin")
    try:
        with pytest.raises(InvalidArgumentError, match="Did you mean 'corpus_name'") as caught:
            create_llm("optioned", corpus_nam="x")
        assert caught.value.parameter == "corpus_nam"
    finally:
        plugins.unregister("optioned-plugin")


def test_a_mode_whose_distribution_is_missing_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from abstractllm._private.install_hint import install_line
    from abstractllm._private.plugins import get_plugins

    plugins = get_plugins()
    saved = dict(plugins.backends)
    plugins.backends = {key: value for key, value in saved.items() if key[0] != "huggingface"}
    try:
        for config, distribution in [
            ({"model": "org/model"}, "abstractllm-hf-pipeline"),
            ({"model_path": "/x/model.gguf"}, "abstractllm-hf-gguf"),
            ({"model": "TheBloke/Llama-2-7B-GGUF"}, "abstractllm-hf-gguf"),
            ({"model": "org/model", "use_inference_api": True}, "abstractllm-hf-api"),
            ({"inference_api_url": "http://127.0.0.1:1"}, "abstractllm-hf-api"),
        ]:
            with pytest.raises(BackendNotInstalledError) as caught:
                create_llm("huggingface", **config)
            assert caught.value.install == install_line(distribution)  # the line for how core was installed
            assert distribution in caught.value.install and caught.value.install in str(caught.value)
    finally:
        plugins.backends = saved


def test_unknown_model_type_lists_modes() -> None:
    with pytest.raises(InvalidArgumentError, match="Modes: api, endpoint, gguf, pipeline") as caught:
        create_llm("huggingface", model="x", model_type="onnx")
    assert caught.value.parameter == "model_type"
