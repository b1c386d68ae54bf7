"""The core conformance kit, on the F32 and Q8_0 GGUF files of the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import GenerationError
from abstractllm.testing import BackendConformance, RuntimeFailure
from tinymodel import ensure_tiny_models

CACHE = Path(__file__).resolve().parents[3] / ".cache" / "tiny-models"


class GGUFRuntime(BackendConformance):
    def break_runtime(self, llm: AbstractLLMInterface, patch: pytest.MonkeyPatch) -> RuntimeFailure:
        """llama.cpp's decode call fails, so llama-cpp-python raises its ``RuntimeError``."""
        import llama_cpp.llama_cpp

        patch.setattr(llama_cpp.llama_cpp, "llama_decode", lambda ctx, batch: -1)
        return RuntimeFailure(raises=RuntimeError, expect=GenerationError)


class TestGGUFConformance(GGUFRuntime):
    prompt = "What is the capital of France?"
    max_tokens = 8

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model_path=str(ensure_tiny_models(CACHE).gguf_f32))


class TestGGUFQ8Conformance(GGUFRuntime):
    prompt = "Hello!"
    max_tokens = 8

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model_path=str(ensure_tiny_models(CACHE).gguf_q8_0), model_type="gguf")
