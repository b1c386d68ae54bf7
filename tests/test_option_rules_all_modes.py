"""One set of option rules for every mode: a tiny temperature decodes greedily and a seed
outside 0..2**32-1 is refused before any backend sees it (pipeline, GGUF and API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import InvalidArgumentError

PROMPT = "What is the capital of France?"


@pytest.fixture(params=["pipeline", "gguf", "endpoint"], scope="module")
def llm(request: pytest.FixtureRequest, tiny_models: Any, router: Any) -> Iterator[Any]:
    where = {
        "pipeline": {"model": str(tiny_models.pipeline_dir)},
        "gguf": {"model_path": str(tiny_models.gguf_f32)},
        "endpoint": {"inference_api_url": router.url, "protocol": "openai", "max_retries": 0},
    }[request.param]
    model = create_llm("huggingface", max_tokens=12, **where)
    yield model
    model.unload()


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-6])
def test_a_tiny_temperature_is_greedy_decoding(llm: Any, temperature: float) -> None:
    greedy = str(llm.generate(PROMPT, temperature=0))
    assert str(llm.generate(PROMPT, temperature=temperature, seed=7)) == greedy
    assert str(llm.generate(PROMPT, temperature=temperature, top_k=0, top_p=1.0)) == greedy


@pytest.mark.parametrize("seed", [2**64, 2**32, -1])
def test_a_seed_out_of_range_is_refused_and_the_model_goes_on(llm: Any, seed: int) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        llm.generate(PROMPT, temperature=1.0, seed=seed)
    assert caught.value.parameter == "seed" and "seed % 2**32" in str(caught.value)
    sampled = str(llm.generate(PROMPT, temperature=1.0, seed=2**32 - 1))
    assert sampled == str(llm.generate(PROMPT, temperature=1.0, seed=2**32 - 1))
