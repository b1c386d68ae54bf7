"""The pipeline mode's one rule for ``device_map`` (its own: only this mode runs torch)."""

from __future__ import annotations

import re

import pytest

from abstractllm.errors import InvalidArgumentError
from abstractllm_hf_pipeline.devices import check_device_map
from abstractllm_hf_pipeline.plugin import INFO


def test_the_option_is_declared_by_this_plugin_alone() -> None:
    from abstractllm.providers.huggingface_modes import HF_OPTIONS

    assert "device_map" in INFO.load_options and "device_map" not in HF_OPTIONS
    assert INFO.load_options["device_map"].check is check_device_map


@pytest.mark.parametrize(
    ("value", "parameter", "fix"),
    [
        ("autp", "device_map", "Did you mean 'auto'"),
        ("disk", "device_map", "'cuda:0'"),
        ({}, "device_map", "a dict"),
        ({"model": {"layers": "cpu"}}, "device_map['model']", "a device map is flat"),
        ({"lm_head": "gpu"}, "device_map['lm_head']", "'cuda:N'"),
        (5, "device_map", "'auto'"),
    ],
)
def test_device_map_has_one_rule(value: object, parameter: str, fix: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(fix)) as caught:
        check_device_map(value)
    assert caught.value.parameter == parameter


def test_device_map_values_are_normalised() -> None:
    assert check_device_map(" Auto ") == "auto"
    assert check_device_map("CUDA:1") == "cuda:1"
    assert check_device_map({"": "CPU", "lm_head": 0, "model.layers.9": "disk"}) == {
        "": "cpu",
        "lm_head": 0,
        "model.layers.9": "disk",
    }
    assert check_device_map(None) is None
