"""Faults of the fault suite: providers, installed backends, missing and corrupt model files."""

from __future__ import annotations

import pytest

from abstractllm import create_llm
from abstractllm import errors as E
from tests.fault_world import (
    TOKEN,
    Case,
    World,
    check,
    fresh,
    make,
    without,
)

CASES: list[Case] = [
    # -- providers, modes, installed backends
    Case(
        "unknown-provider",
        lambda w: create_llm("no-such-provider"),
        E.UnsupportedProviderError,
        "no-such-provider",
        fresh("gguf"),
        where="",
    ),
    Case("provider-not-a-name", lambda w: create_llm(5), E.UnsupportedProviderError, "got 5", fresh("pipeline"), where=""),
    Case(
        "unknown-model-type",
        lambda w: create_llm("huggingface", model="x", model_type="onnx"),
        E.InvalidArgumentError,
        "Modes: api, endpoint, gguf, pipeline",
        fresh("gguf"),
        where="provider",
    ),
    without("pipeline", model=lambda w: str(w.models.pipeline_dir)),
    without("gguf", model_path=lambda w: str(w.models.gguf_f32)),
    without("api", model="org/model", use_inference_api=True, api_key=TOKEN),
    without("endpoint", inference_api_url=lambda w: w.router.url),
    # -- missing and corrupt model files
    make("pipeline", "missing-folder", E.ModelNotFoundError, "/no/such/model", model_path="/no/such/model"),
    make(
        "pipeline",
        "hub-id-not-in-cache",
        E.ModelNotFoundError,
        "abstractllm-test/not-cached",
        model="abstractllm-test/not-cached",
    ),
    make("pipeline", "no-config-json", E.ModelLoadingError, "has no config.json", model_path=lambda w: str(w.files["no_config"])),
    make(
        "pipeline",
        "corrupt-config-json",
        E.ModelLoadingError,
        "config.json is not valid JSON",
        model_path=lambda w: str(w.files["bad_config"]),
    ),
    make(
        "pipeline",
        "corrupt-safetensors",
        E.ModelLoadingError,
        "model.safetensors is corrupt",
        model_path=lambda w: str(w.files["corrupt"]),
    ),
    make(
        "pipeline",
        "pipeline-mode-on-gguf-file",
        E.ModelNotFoundError,
        "is a file, not a model folder",
        model_path=lambda w: str(w.models.gguf_f32),
        model_type="pipeline",
    ),
    make("gguf", "missing-gguf", E.ModelNotFoundError, "/no/such/file.gguf", model_path="/no/such/file.gguf"),
    make("gguf", "not-gguf", E.ModelLoadingError, "notes.gguf", model_path=lambda w: str(w.files["not_gguf"])),
    make("gguf", "truncated-gguf", E.ModelLoadingError, "truncated.gguf", model_path=lambda w: str(w.files["truncated"])),
    make("gguf", "bad-version-gguf", E.ModelLoadingError, "version.gguf", model_path=lambda w: str(w.files["bad_version"])),
    make(
        "gguf",
        "gguf-mode-on-folder",
        E.ModelNotFoundError,
        "it is a folder",
        model_path=lambda w: str(w.models.pipeline_dir),
        model_type="gguf",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    check(case, world, monkeypatch)
