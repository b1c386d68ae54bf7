"""Core's conformance kit against the pipeline backend on the tiny chat model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import ResourceExhaustedError
from abstractllm.testing import BackendConformance, RuntimeFailure
from tinymodel import ensure_tiny_models

CACHE = Path(__file__).resolve().parents[3] / ".cache" / "tiny-models"


class PipelineRuntime(BackendConformance):
    def break_runtime(self, llm: AbstractLLMInterface, patch: pytest.MonkeyPatch) -> RuntimeFailure:
        """The model's forward pass runs out of memory, as torch reports it."""
        import torch

        def out_of_memory(*args: Any, **kwargs: Any) -> Any:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        patch.setattr(llm.backend.loaded.model, "forward", out_of_memory)
        return RuntimeFailure(raises=torch.OutOfMemoryError, expect=ResourceExhaustedError)


class TestPipelineConformance(PipelineRuntime):
    prompt = "What is the capital of France?"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model=str(ensure_tiny_models(CACHE).pipeline_dir), model_type="pipeline")


class TestPipelineConformanceWithoutTemplate(PipelineRuntime):
    prompt = "The capital of France is"

    def make_llm(self) -> AbstractLLMInterface:
        return create_llm("huggingface", model=str(ensure_tiny_models(CACHE).pipeline_dir_no_template))
