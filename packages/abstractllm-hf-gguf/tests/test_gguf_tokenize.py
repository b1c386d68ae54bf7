"""The gguf mode's own tokenizer call gives exactly ``Llama.tokenize``'s ids."""

from __future__ import annotations

import pytest

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm_hf_gguf import model as model_module

TEXTS = [
    "",
    " ",
    "Numbers:",
    "What is the capital of France?\n",
    "héllo wörld, 日本語, 🎉 and a tab\there",
    "The sky is blue. " * 300,
]


def _texts(llm: AbstractLLMInterface) -> list[str]:
    loaded = llm.backend.model  # type: ignore[attr-defined]
    return [*TEXTS, f"{loaded.bos_text}system{loaded.eos_text} then text"]  # special tokens are parsed


@pytest.mark.parametrize("add_bos", [True, False])
def test_ids_equal_llama_tokenize(llm: AbstractLLMInterface, add_bos: bool) -> None:
    loaded = llm.backend.model  # type: ignore[attr-defined]
    for text in _texts(llm):
        expected = list(loaded.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))
        assert loaded.tokenize(text, add_bos=add_bos) == expected, text[:40]


def test_a_buffer_too_small_is_sized_again(llm: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = llm.backend.model  # type: ignore[attr-defined]
    text = "The sky is blue. " * 20
    expected = list(loaded.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))
    assert len(expected) > 2
    monkeypatch.setattr(model_module, "_TOKENIZE_SLACK", 1 - len(text))  # room for one token only
    assert loaded.tokenize(text, add_bos=True) == expected
