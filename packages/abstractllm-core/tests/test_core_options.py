from __future__ import annotations

from typing import Any

import pytest

from abstractllm.config import ConfigManager
from abstractllm.enums import ModelParameter
from abstractllm.errors import InvalidArgumentError
from abstractllm.options import GENERATION_OPTIONS, validate_options
from abstractllm.providers.huggingface import HF_OPTIONS


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("temperature", 0, 0.0),
        ("temperature", 1.5, 1.5),
        ("top_p", 1, 1.0),
        ("top_k", 0, 0),
        ("max_tokens", 1, 1),
        ("repetition_penalty", 1.1, 1.1),
        ("num_return_sequences", 3, 3),
        ("seed", 42, 42),
        ("stop", "###", ("###",)),
        ("stop", ["a", "b"], ("a", "b")),
        ("do_sample", False, False),
    ],
)
def test_valid_values_are_normalised(name: str, value: Any, expected: Any) -> None:
    assert validate_options({name: value}, GENERATION_OPTIONS, where="t") == {name: expected}


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("temperature", -0.1, "≥ 0"),
        ("temperature", "hot", "a number"),
        ("temperature", float("nan"), "a number"),
        ("top_p", 0, "> 0"),
        ("top_p", 1.01, "≤ 1"),
        ("top_k", -1, "≥ 0"),
        ("top_k", 2.5, "an integer"),
        ("max_tokens", 0, "≥ 1"),
        ("max_tokens", True, "an integer"),
        ("repetition_penalty", 0, "> 0"),
        ("num_return_sequences", 0, "≥ 1"),
        ("seed", 1.5, "an integer"),
        ("stop", 5, "string"),
        ("stop", [""], "non-empty"),
        ("do_sample", "yes", "True or False"),
    ],
)
def test_invalid_values_name_parameter_value_and_rule(name: str, value: Any, allowed: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        validate_options({name: value}, GENERATION_OPTIONS, where="generate()")
    error = caught.value
    assert error.parameter == name
    assert allowed in str(error)
    assert name in str(error)
    assert allowed in (error.allowed or "")


def test_unknown_name_gets_did_you_mean() -> None:
    with pytest.raises(InvalidArgumentError, match="Did you mean 'max_tokens'") as caught:
        validate_options({"max_token": 5}, GENERATION_OPTIONS, where="generate()")
    assert caught.value.parameter == "max_token"


def test_config_manager_defaults_overrides_and_enum_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUGGINGFACE_API_KEY", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_from_env")
    config = ConfigManager({**GENERATION_OPTIONS, **HF_OPTIONS}, {ModelParameter.MAX_TOKENS: 20})
    assert config.get_param("temperature") == 0.7
    assert config.get_param(ModelParameter.TEMPERATURE) == config.get_param("temperature")
    assert config.get_param("max_tokens") == 20
    assert config.get_param("model_kwargs") == {}
    assert config.get_param("pipeline_kwargs") == {}
    assert config.get_param("use_inference_api") is False
    assert config.get_param("api_key") == "hf_secret_from_env"
    assert config.from_environment("api_key") and not config.is_explicit("api_key")
    assert config.get_param("unknown_thing", "fallback") == "fallback"
    assert "hf_secret_from_env" not in repr(config)
    assert config.get_config()["api_key"] == "***"
    monkeypatch.setenv("HUGGINGFACE_API_KEY", "hf_first")
    assert ConfigManager(HF_OPTIONS).get_param("api_key") == "hf_first"


def test_update_config_is_validated_and_atomic() -> None:
    config = ConfigManager(GENERATION_OPTIONS, {"temperature": 0.2})
    with pytest.raises(InvalidArgumentError):
        config.update_config({"max_tokens": 10, "temperature": -1})
    assert config.get_param("max_tokens") == 512
    assert config.get_param("temperature") == 0.2
    config.update_config({"temperature": 0.0})
    assert config.get_param("temperature") == 0.0


def test_one_device_syntax_for_every_mode() -> None:
    from abstractllm.options import check_device, check_nested, is_device

    assert is_device("CUDA:1", ("cpu", "cuda")) and is_device(" cpu ", ("cpu",))
    assert not is_device("cuda:x", ("cuda",)) and not is_device("tpu", ("cpu", "cuda"))
    check = check_device("cpu", "cuda")
    assert check(None) is None and check(" Cuda:0 ") == "cuda:0"
    with pytest.raises(InvalidArgumentError) as caught:
        check_nested(check, "tpu", "model_kwargs['device']")
    assert caught.value.parameter == "model_kwargs['device']" and "'cpu', 'cuda'" in str(caught.value)
