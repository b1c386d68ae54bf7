"""Structured output on a real instruct model (SmolLM2-135M-Instruct): valid and ending on its own.

Each schema feature (strings, integers, enums, arrays, nested objects) and ``json_object``
is asked for in the gguf and pipeline modes; the reply must stop by itself well before
``max_tokens`` and parse against its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
CASES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "strings and integers": ("Describe a person called Ann as JSON.", PERSON),
    "enum": (
        "What color is the sky?",
        {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]}}, "required": ["color"]},
    ),
    "array": (
        "Name three fruits.",
        {
            "type": "object",
            "properties": {"fruits": {"type": "array", "items": {"type": "string"}, "maxItems": 5}},
            "required": ["fruits"],
        },
    ),
    "nested object": (
        "Describe the city of Paris as JSON.",
        {
            "type": "object",
            "properties": {
                "city": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
                    "required": ["name", "population"],
                }
            },
            "required": ["city"],
        },
    ),
    "json_object": ("What is the capital of France? Answer in JSON.", None),
}


@pytest.fixture(params=["gguf", "pipeline"], scope="module")
def llm(request: pytest.FixtureRequest, real_model: Any) -> Iterator[Any]:
    where = {"model_path": str(real_model.gguf)} if request.param == "gguf" else {"model": str(real_model.pipeline_dir)}
    model = create_llm("huggingface", temperature=0, max_tokens=96, **where)
    yield model
    model.unload()


@pytest.mark.parametrize("case", list(CASES))
def test_constrained_reply_is_valid_and_ends(llm: Any, case: str) -> None:
    prompt, schema = CASES[case]
    response_format = (
        {"type": "json_object"} if schema is None else {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    reply = llm.generate(prompt, response_format=response_format)
    assert reply.finish_reason == "stop", str(reply)
    parsed = reply.parsed
    assert isinstance(parsed, dict)
