"""Faults of the fault suite: generation parameters and load options, on every mode."""

from __future__ import annotations

import pytest

from abstractllm import errors as E
from tests.fault_world import (
    MODES,
    TOKEN,
    Case,
    World,
    check,
    gen,
    make,
    on,
    param,
)

CASES: list[Case] = [
    # -- generation parameters: wrong types and ranges, on each backend
    param("temperature", -1),
    param("temperature", "hot"),
    param("temperature", float("nan")),
    param("top_p", 0),
    param("top_p", 1.5),
    param("top_k", -1),
    param("top_k", 2.5),
    param("max_tokens", 0),
    param("max_tokens", "10"),
    param("max_tokens", True),
    param("repetition_penalty", 0),
    param("num_return_sequences", 0),
    param("num_return_sequences", 1_000_000),
    param("seed", 1.5),
    param("stop", 5),
    param("stop", [""]),
    param("do_sample", "yes"),
    param("temperature", -1, "gguf"),
    param("max_tokens", 0, "gguf"),
    param("top_k", -3, "gguf"),
    param("stop", ["a", 3], "gguf"),
    param("repetition_penalty", -1, "gguf"),
    param("grammar", "nonsense", "gguf"),
    param("top_p", 2, "endpoint"),
    param("seed", "x", "endpoint"),
    param("temperature", "hot", "api"),
    param("num_return_sequences", 0, "api"),
    param("num_return_sequences", 129, "endpoint"),
    param("max_tokens", -5, "tgi"),
    # -- one set of rules for every mode
    *[param("seed", 2**64, mode) for mode in MODES],
    *[param("seed", -1, mode) for mode in MODES],
    *[param("temperature", float("inf"), mode) for mode in MODES],
    *[param("top_p", float("nan"), mode) for mode in ("gguf", "endpoint", "api")],
    *[param("max_tokens", 2.5, mode) for mode in ("gguf", "endpoint", "tgi")],
    *[param("stop", [None], mode) for mode in ("pipeline", "endpoint", "api")],
    # -- unknown parameters and options (did-you-mean)
    Case(
        "unknown-parameter",
        gen("pipeline", "Hi", temprature=0.5),
        E.InvalidArgumentError,
        "Did you mean 'temperature'",
        on("pipeline"),
    ),
    Case("unknown-parameter-api", gen("api", "Hi", top_pp=0.5), E.InvalidArgumentError, "Did you mean 'top_p'", on("api")),
    Case("load-option-at-generate", gen("gguf", "Hi", n_ctx=5), E.InvalidArgumentError, "n_ctx", on("gguf")),
    Case("stream-not-bool", gen("pipeline", "Hi", stream="yes"), E.InvalidArgumentError, "stream", on("pipeline")),
    make(
        "pipeline",
        "unknown-option",
        E.InvalidArgumentError,
        "Did you mean 'pipeline_kwargs'",
        model=lambda w: str(w.models.pipeline_dir),
        pipeline_kwarg={},
    ),
    make(
        "pipeline",
        "other-modes-option",
        E.InvalidArgumentError,
        "n_ctx' is an option of the gguf mode",
        model=lambda w: str(w.models.pipeline_dir),
        n_ctx=64,
    ),
    make(
        "api",
        "pipeline-option-on-api",
        E.InvalidArgumentError,
        "quantization' is an option of the pipeline mode",
        model="org/model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url=lambda w: w.router.url,
        quantization="4bit",
    ),
    make(
        "pipeline",
        "unknown-model-kwargs-key",
        E.InvalidArgumentError,
        "Did you mean 'torch_dtype'",
        model=lambda w: str(w.models.pipeline_dir),
        model_kwargs={"torch_dtyp": "float16"},
    ),
    make(
        "pipeline",
        "unknown-pipeline-kwargs-key",
        E.InvalidArgumentError,
        "Did you mean 'return_full_text'",
        model=lambda w: str(w.models.pipeline_dir),
        pipeline_kwargs={"return_full": True},
    ),
    # -- load options: wrong types and values
    make(
        "pipeline",
        "bad-dtype",
        E.InvalidArgumentError,
        "model_kwargs['torch_dtype']",
        model=lambda w: str(w.models.pipeline_dir),
        model_kwargs={"torch_dtype": "float17"},
    ),
    make(
        "pipeline",
        "bad-quantization",
        E.InvalidArgumentError,
        "quantization",
        model=lambda w: str(w.models.pipeline_dir),
        quantization="3bit",
    ),
    make("pipeline", "bad-device", E.InvalidArgumentError, "device", model=lambda w: str(w.models.pipeline_dir), device="tpu"),
    make(
        "pipeline",
        "bad-device-map",
        E.InvalidArgumentError,
        "device_map",
        model=lambda w: str(w.models.pipeline_dir),
        device_map=5,
    ),
    make("pipeline", "model-not-a-string", E.InvalidArgumentError, "model=5", model=5),
    make(
        "gguf",
        "bad-chat-format",
        E.InvalidArgumentError,
        "chat_format",
        model_path=lambda w: str(w.models.gguf_f32),
        chat_format="chatmlx",
    ),
    make("gguf", "zero-context", E.InvalidArgumentError, "n_ctx", model_path=lambda w: str(w.models.gguf_f32), n_ctx=0),
    make(
        "endpoint", "bad-protocol", E.InvalidArgumentError, "protocol", inference_api_url=lambda w: w.router.url, protocol="grpc"
    ),
    make(
        "endpoint",
        "retries-as-text",
        E.InvalidArgumentError,
        "max_retries",
        inference_api_url=lambda w: w.router.url,
        max_retries="3",
    ),
    make(
        "api",
        "negative-timeout",
        E.InvalidArgumentError,
        "timeout",
        model="org/model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url=lambda w: w.router.url,
        timeout=-1,
    ),
    make(
        "api",
        "api-without-model",
        E.InvalidArgumentError,
        "model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url=lambda w: w.router.url,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    check(case, world, monkeypatch)
