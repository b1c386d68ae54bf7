"""Each plugin declares its mode's ``model_type`` spellings; core routes every one of them."""

from __future__ import annotations

import pytest

from abstractllm._private.factory import _resolve
from abstractllm._private.plugins import get_plugins
from abstractllm.providers.huggingface_modes import MODE_DISTRIBUTIONS

#: The spellings the original guide and this project accept, per mode.
SPELLINGS = {
    "pipeline": ("pipeline", "transformers", "local", "Transformers"),
    "gguf": ("gguf", "llama.cpp", "llamacpp", "llama_cpp", " LlamaCpp "),
    "api": ("api", "inference_api", "inference-api"),
    "endpoint": ("endpoint", "tgi", "vllm", "openai", "TGI"),
}


@pytest.mark.parametrize(("mode", "spelling"), [(mode, spelling) for mode, names in SPELLINGS.items() for spelling in names])
def test_every_spelling_reaches_its_mode(mode: str, spelling: str) -> None:
    resolved = _resolve("huggingface", {"model": "org/name", "model_type": spelling}, get_plugins())
    assert resolved.info.mode == mode


def test_core_names_the_distribution_of_every_mode_its_rules_pick() -> None:
    installed = {mode: backend.distribution for (provider, mode), backend in get_plugins().backends.items()}
    assert {mode: installed[mode] for mode in MODE_DISTRIBUTIONS} == MODE_DISTRIBUTIONS
