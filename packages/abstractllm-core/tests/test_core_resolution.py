from __future__ import annotations

from typing import Any

import pytest

from abstractllm.providers.huggingface import resolve_mode


@pytest.mark.parametrize(
    ("config", "mode"),
    [
        ({"model": "google/gemma-2b"}, "pipeline"),
        ({"model": "google/gemma-2b", "model_type": "gguf"}, "gguf"),
        ({"model": "x.gguf", "model_type": "transformers"}, "transformers"),  # model_type wins over the file name
        ({"model": "google/gemma-2b", "use_inference_api": True}, "api"),
        ({"model": "m", "inference_api_url": "http://127.0.0.1:8080"}, "endpoint"),
        ({"endpoint_url": "http://127.0.0.1:8080"}, "endpoint"),
        ({"model_path": "/models/llama.Q4_K_M.GGUF"}, "gguf"),
        ({"model": "TheBloke/Llama-2-7B-GGUF"}, "gguf"),
        ({"model": "someone/gguf-notes-model"}, "gguf"),
        ({"model_path": "/models/llama"}, "pipeline"),
        ({"model": "org/name", "model_type": " llama.cpp "}, "llama.cpp"),  # the gguf plugin's alias: core passes it on
        ({"model": "x.gguf", "model_type": "TGI"}, "TGI"),
    ],
)
def test_resolution_rules(config: dict[str, Any], mode: str) -> None:
    assert resolve_mode(config) == mode
