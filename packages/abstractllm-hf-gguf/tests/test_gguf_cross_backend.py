"""Greedy text from the F32 GGUF equals transformers' greedy text for the same model and prompts."""

from __future__ import annotations

import pytest

from abstractllm._private.llm import AbstractLLMInterface
from tinymodel import EXPECTED_CHATS, EXPECTED_COMPLETIONS, TinyModels


@pytest.fixture(scope="module")
def transformers_model(tiny_models: TinyModels):
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_models.pipeline_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_models.pipeline_dir)
    model.eval()
    return tokenizer, model


def _greedy(transformers_model, ids: list[int], max_new_tokens: int) -> str:
    import torch

    tokenizer, model = transformers_model
    with torch.no_grad():
        output = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(output[0][len(ids) :], skip_special_tokens=True)


LONG_PROMPTS = ["Functions and tools take", "Numbers: 0 1 2 3", "1 2 3"]


@pytest.mark.parametrize("prompt", [prompt for prompt, _ in EXPECTED_COMPLETIONS] + LONG_PROMPTS)
def test_raw_completions_match_transformers(llm: AbstractLLMInterface, transformers_model, prompt: str) -> None:
    tokenizer, _ = transformers_model
    ids = tokenizer(prompt)["input_ids"]
    ours = llm.generate(prompt, raw=True, temperature=0, max_tokens=24)
    assert ours.usage.prompt_tokens == len(ids)
    assert str(ours) == _greedy(transformers_model, ids, 24)


@pytest.mark.parametrize("messages", [messages for messages, _ in EXPECTED_CHATS])
def test_chats_match_transformers(llm: AbstractLLMInterface, transformers_model, messages: list) -> None:
    tokenizer, _ = transformers_model
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    ours = llm.generate(messages, temperature=0, max_tokens=40)
    assert ours.usage.prompt_tokens == len(ids)
    assert str(ours) == _greedy(transformers_model, list(ids), 40)
