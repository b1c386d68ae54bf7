"""Speculative decoding is refused in gguf mode, with the reason, at create_llm and per call; the model goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import InvalidArgumentError


def test_refused_at_create_llm_with_the_reason(gguf_f32: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"llama\.cpp evaluates a draft") as caught:
        create_llm("huggingface", model_path=str(gguf_f32), speculative="prompt_lookup")
    assert caught.value.parameter == "speculative" and "pipeline" in str(caught.value)
    assert "near" in str(caught.value) and "costs nearly k single steps" in str(caught.value)  # both measured reasons


def test_refused_per_call_and_the_model_goes_on(llm: AbstractLLMInterface) -> None:
    plain = llm.generate("Hello", temperature=0, max_tokens=8)
    for value in ("prompt_lookup", True, {"draft_tokens": 4}):
        with pytest.raises(InvalidArgumentError, match="not available in gguf mode") as caught:
            llm.generate("Hello", temperature=0, max_tokens=8, speculative=value)
        assert caught.value.parameter == "speculative"
    assert llm.generate("Hello", temperature=0, max_tokens=8, speculative=None).text == plain.text
    assert llm.generate("Hello", temperature=0, max_tokens=8, speculative=False).text == plain.text


def test_a_bad_value_names_the_key(llm: AbstractLLMInterface) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        llm.generate("Hello", temperature=0, max_tokens=8, speculative={"draft_tokens": 100})
    assert caught.value.parameter == "speculative['draft_tokens']"
