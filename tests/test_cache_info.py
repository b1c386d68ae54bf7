"""``llm.cache_info()``: the local modes' prefix caches, seen through the model users hold."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import UnsupportedOperationError
from abstractllm.session import Session


@pytest.mark.parametrize("mode", ["pipeline", "gguf"])
def test_a_second_turn_reuses_the_first(mode: str, tiny_models: Any) -> None:
    config = {"model": str(tiny_models.pipeline_dir)} if mode == "pipeline" else {"model_path": str(tiny_models.gguf_f32)}
    llm = create_llm("huggingface", **config)
    try:
        first = Session(system_prompt="You are a helpful assistant.", provider=llm)
        second = Session(system_prompt="You are terse.", provider=llm)
        first.generate("What is the capital of France?", temperature=0, max_tokens=8)
        second.generate("What is the capital of Italy?", temperature=0, max_tokens=8)  # evicts the first from the live cache
        before = llm.cache_info()
        assert before is not None and {"hits", "misses", "bytes"} <= set(before)
        first.generate("What is the capital of Germany?", temperature=0, max_tokens=8)
        after = llm.cache_info()
        assert after is not None and after["hits"] > before["hits"]  # the first conversation's prefix came back
        assert after["bytes"] > 0
    finally:
        llm.unload()
    with pytest.raises(UnsupportedOperationError):
        llm.cache_info()


def test_a_mode_without_a_cache_says_none(router: Any) -> None:
    with create_llm("huggingface", inference_api_url=router.url, protocol="openai") as llm:
        assert llm.cache_info() is None
