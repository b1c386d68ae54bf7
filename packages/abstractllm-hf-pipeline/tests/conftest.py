"""Shared fixtures: the tiny models (built once per machine, cached) and loaded models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from tinymodel import TinyModels


@pytest.fixture(scope="session")
def chat_dir(tiny_models: TinyModels) -> Path:
    return tiny_models.pipeline_dir


@pytest.fixture(scope="session")
def plain_dir(tiny_models: TinyModels) -> Path:
    return tiny_models.pipeline_dir_no_template


@pytest.fixture(scope="session")
def llm(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    model = create_llm("huggingface", model=str(chat_dir), model_type="pipeline")
    yield model
    model.unload()


@pytest.fixture(scope="session")
def plain_llm(plain_dir: Path) -> Iterator[AbstractLLMInterface]:
    model = create_llm("huggingface", model=str(plain_dir))
    yield model
    model.unload()


@pytest.fixture(scope="session")
def tokenizer(chat_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(chat_dir))
