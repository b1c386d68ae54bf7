"""Every mode reports the same capability keys, typed, with the original API's synonyms readable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import ModelCapability, create_llm
from abstractllm.backend import Capabilities
from abstractllm.backend.capabilities import ALIASES, KEYS
from tests.conftest import fake_server_module


@pytest.fixture(scope="module")
def models(tiny_models: Any) -> Iterator[dict[str, Any]]:
    pytest.importorskip("llama_cpp")
    server = fake_server_module().FakeServer().start()  # type: ignore[attr-defined]
    loaded = {
        "pipeline": create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu"),
        "gguf": create_llm("huggingface", model_path=str(tiny_models.gguf_f32)),
        "endpoint": create_llm("huggingface", inference_api_url=server.url, protocol="openai", max_retries=0),
    }
    try:
        yield loaded
    finally:
        for llm in loaded.values():
            llm.unload()
        server.stop()


@pytest.mark.parametrize("mode", ["pipeline", "gguf", "endpoint"])
def test_each_mode_fills_the_one_key_set(models: dict[str, Any], mode: str) -> None:
    llm = models[mode]
    assert isinstance(llm.backend.capabilities(), Capabilities)
    answer = llm.get_capabilities()
    assert set(answer) == set(KEYS) | set(ALIASES), mode
    assert answer["supports_function_calling"] is answer["supports_tool_use"]
    assert answer[ModelCapability.JSON_MODE] is answer["supports_structured_output"]
    assert llm.capabilities.context_window == answer["max_tokens"]
    assert answer["streaming"] is True and answer["supports_async"] is True
