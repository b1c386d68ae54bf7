"""Core's conformance kit against the pipeline backend on the tiny chat model."""

from __future__ import annotations

from pathlib import Path

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.testing import BackendConformance
from tinymodel import ensure_tiny_models

CACHE = Path(__file__).resolve().parents[3] / ".cache" / "tiny-models"


class TestPipelineConformance(BackendConformance):
    prompt = "What is the capital of France?"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model=str(ensure_tiny_models(CACHE).pipeline_dir), model_type="pipeline")


class TestPipelineConformanceWithoutTemplate(BackendConformance):
    prompt = "The capital of France is"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model=str(ensure_tiny_models(CACHE).pipeline_dir_no_template))
