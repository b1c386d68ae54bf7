"""A forced call's markup that the tokenizer holds as special tokens (Qwen's ``<tool_call>`` and
``</tool_call>``) is constrained as those tokens: llguidance keeps special tokens apart from text,
so the markup as a text literal would reject the very token the model must write."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm._private.token_constraint import JsonConstraint
from abstractllm.backend import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, forced_call_schema
from abstractllm.tools import ToolDefinition

WEATHER = ToolDefinition(
    "get_weather", "Get the weather.", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
)
CALL = '{"name":"get_weather","arguments":{"city":"Paris"}}'


@pytest.mark.slow
@pytest.mark.parametrize("special", [True, False], ids=["special tokens", "plain text"])
def test_the_forced_markup_is_accepted_as_the_tokenizer_writes_it(tiny_models: Any, special: bool) -> None:
    llguidance_hf = pytest.importorskip("llguidance.hf")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.pipeline_dir)
    if special:
        tokenizer.add_special_tokens({"additional_special_tokens": [TOOL_CALL_OPEN, TOOL_CALL_CLOSE]})
        assert len(tokenizer.encode(TOOL_CALL_OPEN, add_special_tokens=False)) == 1
    vocabulary = llguidance_hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer))
    constraint = JsonConstraint.compile(
        vocabulary,
        forced_call_schema([WEATHER], "get_weather"),
        mode="pipeline",
        parameter="tools",
        prefix=TOOL_CALL_OPEN,
        suffix=TOOL_CALL_CLOSE,
    )
    assert constraint.accepts(f"{TOOL_CALL_OPEN}{CALL}{TOOL_CALL_CLOSE}")
    assert not constraint.accepts(f"{TOOL_CALL_OPEN}{CALL}")  # the closing markup is required
    assert not constraint.accepts(CALL)
