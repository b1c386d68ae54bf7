"""GGUF JSON grammars admit only what ``json.loads`` accepts in strings (no raw control characters)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.structured import ResponseFormat
from abstractllm_hf_gguf.grammars import JSON_CHAR_RULE, _schema_gbnf, response_grammar


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 2}}},
        {"type": "array", "items": {"type": "string"}},
    ],
)
def test_every_string_character_rule_excludes_control_characters(schema: dict[str, Any]) -> None:
    gbnf = _schema_gbnf(schema, "response_format")
    rules = [line for line in gbnf.splitlines() if line.startswith("char ::=")]
    assert rules == [JSON_CHAR_RULE]
    assert "\\x00-\\x1F" in JSON_CHAR_RULE


@pytest.fixture(scope="module")
def llm(tiny_models: Any) -> Iterator[Any]:
    model = create_llm("huggingface", model_path=str(tiny_models.gguf_f32), chat_format="chatml", temperature=0)
    yield model
    model.unload()


def test_llama_cpp_compiles_the_narrowed_rule_and_chatml_json_replies_parse(llm: Any) -> None:
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
