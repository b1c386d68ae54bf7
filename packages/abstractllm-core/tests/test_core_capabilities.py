"""``Capabilities``: one typed record with one key set, read as the original API's mapping."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from abstractllm import ModelCapability, create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm.backend import Backend, BackendInfo, Capabilities, GenerationRequest, StreamDelta, Usage
from abstractllm.backend.capabilities import ALIASES, KEYS
from abstractllm.errors import UnsupportedFeatureError
from abstractllm.hookspecs import hookimpl


def test_every_capability_key_is_a_field_or_an_alias() -> None:
    assert set(KEYS) | set(ALIASES) == {member.value for member in ModelCapability}
    assert len(KEYS) == len(set(KEYS)) == len([f for f in dataclasses.fields(Capabilities) if f.name != "extra"])


def test_the_record_reads_as_the_original_mapping_with_aliases() -> None:
    capabilities = Capabilities(context_window=2048, tool_use=True, structured_output=False, quantization="Q8_0")
    assert capabilities["max_tokens"] == capabilities[ModelCapability.MAX_TOKENS] == 2048
    assert capabilities.get(ModelCapability.FUNCTION_CALLING) is capabilities["supports_tool_use"] is True
    assert capabilities["supports_json_mode"] is capabilities["supports_structured_output"] is False
    assert set(capabilities) == set(KEYS) | set(ALIASES)
    assert capabilities.to_dict()["quantization"] == "Q8_0"
    assert "supports_rag" in capabilities and "no_such_key" not in capabilities
    with pytest.raises(KeyError):
        capabilities["no_such_key"]


def test_a_mapping_is_read_into_the_record_aliases_and_extra_keys_included() -> None:
    read = Capabilities.from_mapping(
        {ModelCapability.MAX_TOKENS: 512, "supports_function_calling": True, "supports_json_mode": True, "custom": 3}
    )
    assert (read.context_window, read.tool_use, read.structured_output) == (512, True, True)
    assert read.extra == {"custom": 3} and read["custom"] == 3
    assert Capabilities.from_mapping(read) is read
    assert read.updated({"supports_tool_use": False}).tool_use is False and read.tool_use is True


class _Answers(Backend):
    """Claims tools through the original API's synonym key only, as a plain dict (the older form)."""

    model_name = "caps"

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        yield StreamDelta("ok", finish_reason="stop", usage=Usage(1, 1))

    def capabilities(self) -> Mapping[str, Any]:
        return {"max_tokens": 64, "supports_function_calling": True}


CAPS = BackendInfo("huggingface", "caps", "claims through a dict", "pip install nothing", load=lambda info, config: _Answers())
_Answers.info = CAPS


class _Declares:
    @hookimpl
    def abstractllm_backends(self) -> list[BackendInfo]:
        return [CAPS]


class _NoTools:
    @hookimpl
    def abstractllm_capabilities(self, backend: Backend) -> Mapping[str, Any] | None:
        return {ModelCapability.TOOL_USE: False, "supports_json_mode": True}


@pytest.fixture
def caps_plugin() -> Iterator[Any]:
    plugins = get_plugins()
    assert plugins.register(_Declares(), "caps-mode")
    yield plugins
    plugins.unregister("caps-mode")


def test_get_capabilities_reads_a_dict_backend_through_the_aliases(caps_plugin: Any) -> None:
    llm = create_llm("huggingface", model="m", model_type="caps")
    assert llm.capabilities.tool_use is True and llm.capabilities.context_window == 64
    answer = llm.get_capabilities()
    assert answer["supports_tool_use"] is answer["supports_function_calling"] is True
    assert set(answer) == set(KEYS) | set(ALIASES)


def test_a_plugin_answer_is_written_over_the_backend_one(caps_plugin: Any) -> None:
    assert caps_plugin.register(_NoTools(), "no-tools")
    try:
        llm = create_llm("huggingface", model="m", model_type="caps")
        answer = llm.get_capabilities()
        assert answer["supports_tool_use"] is answer["supports_function_calling"] is False
        assert answer["supports_json_mode"] is answer["supports_structured_output"] is True
        with pytest.raises(UnsupportedFeatureError):
            llm.generate("hi", tools=[{"name": "f", "parameters": {"type": "object"}}])
    finally:
        caps_plugin.unregister("no-tools")
