"""GGUF JSON constraints admit only what ``json.loads`` accepts in strings (no raw control characters), under chatml too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.structured import ResponseFormat
from abstractllm_hf_gguf.grammars import response_grammar


@pytest.fixture(scope="module")
def llm(tiny_models: Any) -> Iterator[Any]:
    model = create_llm("huggingface", model_path=str(tiny_models.gguf_f32), chat_format="chatml", temperature=0)
    yield model
    model.unload()


def test_the_json_object_constraint_compiles_and_chatml_json_replies_parse(llm: Any) -> None:
    backend = llm._backend
    assert response_grammar(backend.model, ResponseFormat("json_object")) is not None
    finished = []
    for seed in range(4):
        reply = llm.generate(
            "Tell me about Paris.", response_format={"type": "json_object"}, max_tokens=64, seed=seed, temperature=1.5
        )
        if reply.finish_reason == "stop":
            finished.append(reply.parsed)  # raises OutputParsingError on an "Invalid control character"
    assert finished and all(isinstance(value, dict) for value in finished)
