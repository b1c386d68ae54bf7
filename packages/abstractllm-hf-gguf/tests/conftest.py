"""Fixtures: the project's tiny test model as GGUF files (built once, no downloads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from tinymodel import TinyModels


@pytest.fixture(scope="session")
def gguf_f32(tiny_models: TinyModels) -> Path:
    return tiny_models.gguf_f32


@pytest.fixture(scope="session")
def gguf_q8(tiny_models: TinyModels) -> Path:
    return tiny_models.gguf_q8_0


@pytest.fixture(scope="module")
def llm(gguf_f32: Path) -> Iterator[AbstractLLMInterface]:
    model = create_llm("huggingface", model_path=str(gguf_f32))
    yield model
    model.unload()
