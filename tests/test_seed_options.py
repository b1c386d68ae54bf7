"""The options the guide's examples show have their observable effect (on the tiny model).

Companion of ``test_seed_parity.py``, which runs the guide's examples as written; these tests
need no guide and run in any clone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import footprint

PARIS = "The capital of France is Paris."

# -- the options the examples show have their effect --------------------------------------


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_quantization_lowers_the_memory_footprint(tiny_models: Any, bits: str, full_footprint: int) -> None:
    from abstractllm import create_llm

    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), quantization=bits, device_map="auto") as small:
        model = small.backend.loaded.model
        assert getattr(model, f"is_loaded_in_{bits}") is True
        assert footprint(small) < full_footprint
        assert str(small.generate("What is the capital of France?", temperature=0, max_tokens=8)).strip()


def test_four_bits_are_smaller_than_eight(tiny_models: Any) -> None:
    """The guide: quantization="8bit"  # or "4bit" for even lower memory usage."""
    from abstractllm import create_llm

    sizes = {}
    for bits in ("4bit", "8bit"):
        with create_llm("huggingface", model=str(tiny_models.pipeline_dir), quantization=bits) as llm:
            sizes[bits] = footprint(llm)
    assert sizes["4bit"] < sizes["8bit"]


def test_return_full_text_controls_the_prompt_echo(tiny_models: Any) -> None:
    from abstractllm import create_llm

    prompt = "The capital of France is"
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), pipeline_kwargs={"return_full_text": False}) as quiet:
        assert str(quiet.generate(prompt, raw=True, temperature=0)) == " Paris."
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), pipeline_kwargs={"return_full_text": True}) as echo:
        assert str(echo.generate(prompt, raw=True, temperature=0)) == prompt + " Paris."


def test_truncate_lets_an_oversized_prompt_through(tiny_models: Any) -> None:
    from abstractllm import create_llm
    from abstractllm.errors import ContextWindowExceededError

    long_prompt = "word " * 2000 + "The capital of France is"  # the context window is 512 tokens
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir)) as strict:
        with pytest.raises(ContextWindowExceededError):
            strict.generate(long_prompt, raw=True, temperature=0, max_tokens=4)
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), pipeline_kwargs={"truncate": True}) as lenient:
        reply = lenient.generate(long_prompt, raw=True, temperature=0, max_tokens=4)
        assert str(reply).strip() and reply.usage.prompt_tokens + 4 <= 512


def test_device_map_auto_goes_through_accelerate(tiny_models: Any, tmp_path: Path) -> None:
    from abstractllm import create_llm

    for config in ({"device_map": "auto"}, {"model_kwargs": {"device_map": "auto"}}):
        with create_llm("huggingface", model=str(tiny_models.pipeline_dir), **config) as llm:
            assert str(llm.generate("What is the capital of France?", temperature=0)) == PARIS
    # On one device transformers keeps the model whole (no hf_device_map). With a memory budget
    # smaller than the weights, accelerate's "auto" planner splits them between the CPU and disk:
    for budget, places in ((300_000, {"disk"}), (500_000, {"cpu", "disk"})):
        kwargs = {"device_map": "auto", "max_memory": {"cpu": budget}, "offload_folder": str(tmp_path / str(budget))}
        with create_llm("huggingface", model=str(tiny_models.pipeline_dir), model_kwargs=kwargs) as offloaded:
            assert set(offloaded.backend.loaded.model.hf_device_map.values()) == places
            assert str(offloaded.generate("What is the capital of France?", temperature=0)) == PARIS


@pytest.mark.parametrize(
    ("name", "dtype"), [("bfloat16", "torch.bfloat16"), ("float16", "torch.float16"), (None, "torch.float32")]
)
def test_torch_dtype_strings_change_the_weights(tiny_models: Any, name: str | None, dtype: str) -> None:
    from abstractllm import create_llm

    kwargs = {"torch_dtype": name} if name else {}
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), model_kwargs=kwargs) as llm:
        assert {str(p.dtype) for p in llm.backend.loaded.model.parameters()} == {dtype}


@pytest.fixture(scope="module")
def local_llm(tiny_models: Any) -> Any:
    from abstractllm import create_llm

    llm = create_llm("huggingface", model=str(tiny_models.pipeline_dir))
    yield llm
    llm.unload()


def test_greedy_is_repeatable_and_seeded_sampling_reproduces(local_llm: Any) -> None:
    def run(**params: Any) -> str:
        return str(local_llm.generate("Numbers:", raw=True, max_tokens=24, **params))

    greedy = {run(temperature=0) for _ in range(2)}
    sampled = {run(temperature=1.5, top_k=0, seed=seed) for seed in range(4)}
    assert len(greedy) == 1
    assert len(sampled) > 1 and not sampled <= greedy
    assert run(temperature=1.5, top_k=0, seed=2) == run(temperature=1.5, top_k=0, seed=2)


@pytest.mark.parametrize("params", [{"do_sample": False}, {"top_k": 1}, {"top_p": 0.01}], ids=str)
def test_sampling_narrowed_to_one_token_is_greedy(local_llm: Any, params: dict[str, Any]) -> None:
    greedy = str(local_llm.generate("Numbers:", raw=True, max_tokens=24, temperature=0))
    samples = {str(local_llm.generate("Numbers:", raw=True, max_tokens=24, temperature=1.5, seed=s, **params)) for s in range(3)}
    assert samples == {greedy}


def test_repetition_penalty_changes_the_greedy_reply(local_llm: Any) -> None:
    plain = str(local_llm.generate("Numbers:", raw=True, max_tokens=30, temperature=0, repetition_penalty=1.0))
    penalised = str(local_llm.generate("Numbers:", raw=True, max_tokens=30, temperature=0, repetition_penalty=3.0))
    assert penalised != plain


def test_max_tokens_and_num_return_sequences(local_llm: Any, tiny_models: Any) -> None:
    from abstractllm import create_llm

    short = local_llm.generate("What is the capital of France?", temperature=0, max_tokens=3)
    assert short.usage.completion_tokens == 3 and short.finish_reason == "length" and PARIS.startswith(str(short))
    several = local_llm.generate("What is the capital of France?", temperature=1.0, seed=1, num_return_sequences=3)
    assert len(several.choices) == 3 and all(str(choice).strip() for choice in several.choices)
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), max_tokens=3) as capped:  # a default for every call
        assert capped.generate("What is the capital of France?", temperature=0).usage.completion_tokens == 3
