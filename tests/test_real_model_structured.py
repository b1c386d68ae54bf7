"""Structured output on a real instruct model (SmolLM2-135M-Instruct): valid and ending on its own.

Each schema feature (strings, integers, enums, arrays, nested objects) and ``json_object``
is asked for in the gguf and pipeline modes; the reply must stop by itself well before
``max_tokens`` and parse against its schema. So must one real-world schema of each
JSONSchemaBench set (tests/data/jsonschemabench), in both modes alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import OutputParsingError, UnsupportedFeatureError

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
BENCH = Path(__file__).resolve().parent / "data" / "jsonschemabench"
#: One schema of each set of the committed sample, and what SmolLM2 does with it (greedy, 300 tokens):
#: the smallest it finishes validly; for JsonSchemaStore a refusal (SmolLM2 finishes none of its sampled
#: schemas that decoding can enforce) and for WashingtonPost a cut (it repeats a string until max_tokens
#: on all 8 the compiler enforces). A cut reply says so and is never a success.
BENCH_CASES = {
    "Github_easy": ("o63991", "valid"),
    "Github_hard": ("o83834", "valid"),
    "Github_medium": ("o39147", "valid"),
    "Github_trivial": ("o45630", "valid"),
    "Github_ultra": ("o56134", "valid"),
    "Glaiveai2K": ("calculate_area_53304aa2", "valid"),
    "Kubernetes": ("kb_1136_Normalized", "valid"),
    "Snowplow": ("sp_237_Normalized", "valid"),
    "WashingtonPost": ("wp_122_Normalized", "cut"),
    "JsonSchemaStore": ("github-funding", "refused: uniqueItems"),
}


def _bench_schema(group: str) -> dict[str, Any]:
    for line in (BENCH / f"{group}.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["name"] == BENCH_CASES[group][0]:
            return dict(entry["schema"])
    raise LookupError(f"{BENCH_CASES[group][0]} is not in the {group} sample")


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


@pytest.mark.parametrize("group", sorted(BENCH_CASES))
def test_a_schema_from_each_jsonschemabench_set(llm: Any, group: str) -> None:
    import jsonschema

    schema, expected = _bench_schema(group), BENCH_CASES[group][1]
    response_format = {"type": "json_schema", "json_schema": {"name": "bench", "schema": schema}}
    if expected.startswith("refused: "):
        keyword = expected.removeprefix("refused: ")
        with pytest.raises(UnsupportedFeatureError, match=repr(keyword)):
            llm.generate("Reply with one example value as JSON.", response_format=response_format, max_tokens=300)
        return
    reply = llm.generate("Reply with one example value as JSON.", response_format=response_format, max_tokens=300)
    if expected == "cut":
        assert reply.finish_reason == "length" and reply.usage.completion_tokens == 300
        with pytest.raises(OutputParsingError, match="max_tokens"):
            reply.parsed
        return
    assert reply.finish_reason == "stop", str(reply)
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(reply.parsed)
