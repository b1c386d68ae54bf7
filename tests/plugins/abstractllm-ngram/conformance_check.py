"""Run with pytest after installing this distribution: the core conformance kit, through the entry point."""

from __future__ import annotations

import pytest

import abstractllm_ngram
from abstractllm import AbstractLLMInterface, create_llm
from abstractllm.errors import ResourceExhaustedError
from abstractllm.testing import BackendConformance, RuntimeFailure


class TestNgramThroughEntryPoint(BackendConformance):
    prompt = "the capital of"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("ngram")

    def break_runtime(self, llm: AbstractLLMInterface, patch: pytest.MonkeyPatch) -> RuntimeFailure:
        def out_of_memory(*args: object) -> str:
            raise MemoryError("no memory left for the next word")

        patch.setattr(abstractllm_ngram, "next_word", out_of_memory)
        return RuntimeFailure(raises=MemoryError, expect=ResourceExhaustedError)
