"""Run with pytest after installing this distribution: the core conformance kit, through the entry point."""

from __future__ import annotations

from abstractllm import AbstractLLMInterface, create_llm
from abstractllm.testing import BackendConformance


class TestNgramThroughEntryPoint(BackendConformance):
    prompt = "the capital of"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("ngram")
