"""Pipeline-only bad input: every bad load option is an ``InvalidArgumentError`` raised before anything loads,
bad model folders are named, and extreme sampling values never reach torch as inf, nan or an overflow."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import InvalidArgumentError, ModelLoadingError, ModelNotFoundError


@pytest.mark.parametrize(
    ("kwargs", "parameter", "fix"),
    [
        ({"device_map": "nonsense"}, "device_map", "'auto'"),
        ({"device_map": "autp"}, "device_map", "Did you mean"),
        ({"device_map": {"": "cuda:7"}}, "device_map['']", "use 'cpu'"),  # no CUDA on this machine
        ({"device_map": {"": 0}}, "device_map['']", "use 'cpu'"),
        ({"device_map": "cuda:1"}, "device_map", "use 'cpu'"),
        ({"device_map": {"model": {"layers": "cpu"}}}, "device_map['model']", "a device map is flat"),
        ({"device_map": {"model": "gpu"}}, "device_map['model']", "'cpu', 'cuda:N'"),
        ({"device_map": {}}, "device_map", "'auto'"),
        ({"model_kwargs": {"device_map": {"model": ["cpu"]}}}, "model_kwargs['device_map']['model']", "flat"),
        ({"model_kwargs": {"n_batch": "abc"}}, "model_kwargs['n_batch']", "Known keys"),
        ({"model_kwargs": {"max_memory": "abc"}}, "model_kwargs['max_memory']", "10GiB"),
        ({"model_kwargs": {"max_memory": {"cpu": "lots"}}}, "model_kwargs['max_memory']['cpu']", "10GiB"),
        ({"model_kwargs": {"attn_implementation": "fast"}}, "model_kwargs['attn_implementation']", "sdpa"),
        ({"model_kwargs": {"offload_folder": 5}}, "model_kwargs['offload_folder']", "non-empty string"),
        ({"model_kwargs": {"variant": ""}}, "model_kwargs['variant']", "non-empty string"),
    ],
)
def test_bad_load_options_fail_before_loading(tmp_path: Path, kwargs: dict, parameter: str, fix: str) -> None:
    # The folder does not exist: an option error raised first proves nothing was read or loaded.
    with pytest.raises(InvalidArgumentError) as caught:
        create_llm("huggingface", model=str(tmp_path / "not-there"), model_type="pipeline", **kwargs)
    assert caught.value.parameter == parameter
    assert parameter.split("[")[0] in str(caught.value)
    assert fix in str(caught.value)


def test_valid_device_maps_still_load(chat_dir: Path) -> None:
    for device_map in ("cpu", {"": "cpu"}, {"model": "cpu", "lm_head": "cpu"}):
        llm = create_llm("huggingface", model=str(chat_dir), device_map=device_map)
        try:
            assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
        finally:
            llm.unload()


def test_symlink_loop_is_model_not_found(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    for model in (str(loop), str(loop / "inner")):
        with pytest.raises(ModelNotFoundError, match="loop"):
            create_llm("huggingface", model=model, model_type="pipeline")
    other = tmp_path / "other"
    os.symlink(tmp_path / "back", other)
    os.symlink(other, tmp_path / "back")
    with pytest.raises(ModelNotFoundError):
        create_llm("huggingface", model=str(other), model_type="pipeline")


@pytest.mark.parametrize("content", ["[1, 2]", '"a string"', "null", "3"])
def test_config_json_that_is_not_an_object_is_named(chat_dir: Path, tmp_path: Path, content: str) -> None:
    folder = tmp_path / "model"
    shutil.copytree(chat_dir, folder)
    (folder / "config.json").write_text(content)
    with pytest.raises(ModelLoadingError, match=r"config\.json.*not an object"):
        create_llm("huggingface", model=str(folder), model_type="pipeline")


def test_deeply_nested_config_json_is_named(chat_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(chat_dir, folder)
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelLoadingError, match=r"config\.json"):
        create_llm("huggingface", model=str(folder), model_type="pipeline")


def test_tiny_temperatures_decode_greedily(llm: AbstractLLMInterface) -> None:
    greedy = str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8))
    for temperature in (1e-300, 5e-324, 1e-40, 1e-6):
        reply = llm.generate("The capital of France is", raw=True, temperature=temperature, max_tokens=8)
        assert str(reply) == greedy
    many = llm.generate("The sky is", raw=True, temperature=1e-300, max_tokens=8, num_return_sequences=3)
    assert [choice.text for choice in many.choices] == [" blue."] * 3


def test_huge_seeds_never_overflow_torch(llm: AbstractLLMInterface) -> None:
    def sample(seed: int) -> str:
        return str(llm.generate("Numbers:", raw=True, temperature=1.5, max_tokens=12, seed=seed))

    # core's one rule for every mode bounds seeds; whatever passes it reaches torch without overflowing
    assert sample(2**32 - 1) == sample(2**32 - 1)
    for seed in (2**64, 10**30, -1):
        with pytest.raises(InvalidArgumentError, match="seed"):
            sample(seed)
    assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."


def test_the_model_still_works_after_bad_loads(llm: AbstractLLMInterface, chat_dir: Path, tmp_path: Path) -> None:
    for kwargs in ({"device_map": "nonsense"}, {"device_map": {"": "cuda:7"}}, {"model_kwargs": {"n_batch": "abc"}}):
        with pytest.raises(InvalidArgumentError):
            create_llm("huggingface", model=str(chat_dir), **kwargs)
    bad = tmp_path / "bad"
    shutil.copytree(chat_dir, bad)
    (bad / "config.json").write_text(json.dumps([1]))
    with pytest.raises(ModelLoadingError):
        create_llm("huggingface", model=str(bad))
    assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
