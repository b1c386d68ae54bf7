"""One catalogue of bad inputs and faults across the core and the three backends.

Each row: what is done wrong, the `abstractllm.errors` class it must raise, text the
message must contain (the parameter, file or status at fault), and which model must still
work afterwards (the same object, or — for load failures — a fresh one).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm import errors as E
from abstractllm.session import Session


@dataclass
class World:
    pipeline: Any
    gguf: Any
    endpoint: Any
    router: Any
    files: dict[str, Path]
    models: Any


@pytest.fixture(scope="module")
def world(tiny_models: Any, router: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bad-files")
    no_config = root / "no-config"
    no_config.mkdir()
    for item in tiny_models.pipeline_dir.iterdir():
        if item.name != "config.json":
            (no_config / item.name).write_bytes(item.read_bytes())
    corrupt = root / "corrupt-weights"
    corrupt.mkdir()
    for item in tiny_models.pipeline_dir.iterdir():
        (corrupt / item.name).write_bytes(item.read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    not_gguf = root / "notes.gguf"
    not_gguf.write_text("this is not a GGUF file")
    truncated = root / "truncated.gguf"
    truncated.write_bytes(tiny_models.gguf_f32.read_bytes()[:4096])
    bad_version = root / "version.gguf"
    bad_version.write_bytes(b"GGUF" + struct.pack("<I", 99) + tiny_models.gguf_f32.read_bytes()[8:4096])
    bad_session = root / "bad-session.json"
    bad_session.write_text('{"messages": [{"role": "alien", "content": "x"}]}')
    files = {
        "no_config": no_config,
        "corrupt": corrupt,
        "not_gguf": not_gguf,
        "truncated": truncated,
        "bad_version": bad_version,
        "bad_session": bad_session,
    }
    pipeline = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    gguf = create_llm("huggingface", model_path=str(tiny_models.gguf_f32))
    endpoint = create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0)
    yield World(pipeline, gguf, endpoint, router, files, tiny_models)
    for model in (pipeline, gguf, endpoint):
        model.unload()


def works(llm: Any) -> None:
    reply = llm.generate("What is the capital of France?", temperature=0, max_tokens=16)
    assert str(reply)


def fresh_pipeline(world: World) -> None:
    with create_llm("huggingface", model=str(world.models.pipeline_dir)) as llm:
        works(llm)


def fresh_gguf(world: World) -> None:
    with create_llm("huggingface", model_path=str(world.models.gguf_f32)) as llm:
        works(llm)


@dataclass(frozen=True)
class Case:
    id: str
    act: Callable[[World], Any]
    error: type[E.AbstractLLMError]
    says: str
    then: Callable[[World], None]


def on(name: str) -> Callable[[World], None]:
    return lambda world: works(getattr(world, name))


def gen(name: str, *args: Any, **kwargs: Any) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        result = getattr(world, name).generate(*args, **kwargs)
        return list(result) if kwargs.get("stream") else result

    return act


def param(parameter: str, value: Any, model: str = "pipeline") -> Case:
    return Case(
        f"{model}-{parameter}={value!r}", gen(model, "Hi", **{parameter: value}), E.InvalidArgumentError, parameter, on(model)
    )


def served(fault: dict[str, Any], error: type[E.AbstractLLMError], says: str, *, stream: bool = False) -> Case:
    def act(world: World) -> Any:
        world.router.reset()
        world.router.script(fault)
        result = world.endpoint.generate("Hi", stream=stream)
        return list(result) if stream else result

    name = "-".join(f"{k}={v}" for k, v in fault.items())
    return Case(f"endpoint-{name}{'-stream' if stream else ''}", act, error, says, on("endpoint"))


LONG = "word " * 2000

CASES: list[Case] = [
    # generation parameters: types and ranges, on each backend
    param("temperature", -1),
    param("temperature", "hot"),
    param("top_p", 0),
    param("top_p", 1.5),
    param("top_k", -1),
    param("top_k", 2.5),
    param("max_tokens", 0),
    param("max_tokens", "10"),
    param("repetition_penalty", 0),
    param("num_return_sequences", 0),
    param("seed", 1.5),
    param("stop", 5),
    param("stop", [""]),
    param("do_sample", "yes"),
    param("temperature", -1, "gguf"),
    param("max_tokens", 0, "gguf"),
    param("top_p", 2, "endpoint"),
    param("seed", "x", "endpoint"),
    Case(
        "unknown-parameter",
        gen("pipeline", "Hi", temprature=0.5),
        E.InvalidArgumentError,
        "Did you mean 'temperature'",
        on("pipeline"),
    ),
    Case("unknown-parameter-gguf", gen("gguf", "Hi", n_ctx=5), E.InvalidArgumentError, "n_ctx", on("gguf")),
    Case("stream-not-bool", gen("pipeline", "Hi", stream="yes"), E.InvalidArgumentError, "stream", on("pipeline")),
    # prompts and messages
    Case("empty-prompt", gen("pipeline", ""), E.InvalidArgumentError, "prompt", on("pipeline")),
    Case("missing-prompt", gen("gguf", None), E.InvalidArgumentError, "prompt", on("gguf")),
    Case("number-prompt", gen("endpoint", 42), E.InvalidArgumentError, "prompt", on("endpoint")),
    Case("bad-role", gen("pipeline", [{"role": "wizard", "content": "x"}]), E.InvalidArgumentError, "wizard", on("pipeline")),
    Case("bad-content", gen("gguf", [{"role": "user", "content": 5}]), E.InvalidArgumentError, "content", on("gguf")),
    Case("no-messages", gen("endpoint", []), E.InvalidArgumentError, "messages", on("endpoint")),
    Case("raw-with-system", gen("pipeline", "Hi", system_prompt="s", raw=True), E.InvalidArgumentError, "raw", on("pipeline")),
    Case(
        "stream-with-n",
        gen("gguf", "Hi", stream=True, num_return_sequences=2),
        E.InvalidArgumentError,
        "num_return_sequences",
        on("gguf"),
    ),
    Case(
        "oversized-pipeline", gen("pipeline", LONG, max_tokens=4), E.ContextWindowExceededError, "context window", on("pipeline")
    ),
    Case("oversized-gguf", gen("gguf", LONG, max_tokens=4), E.ContextWindowExceededError, "context window", on("gguf")),
    Case("bad-tools", gen("pipeline", "Hi", tools=[42]), E.InvalidArgumentError, "tools", on("pipeline")),
    Case(
        "bad-tool-choice",
        gen("gguf", "Hi", tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="g"),
        E.InvalidArgumentError,
        "tool_choice",
        on("gguf"),
    ),
    Case(
        "bad-response-format",
        gen("pipeline", "Hi", response_format={"type": "xml"}),
        E.InvalidArgumentError,
        "response_format",
        on("pipeline"),
    ),
    # create_llm: providers, modes, options
    Case(
        "unknown-provider", lambda w: create_llm("no-such-provider"), E.UnsupportedProviderError, "no-such-provider", fresh_gguf
    ),
    Case(
        "unknown-model-type",
        lambda w: create_llm("huggingface", model="x", model_type="onnx"),
        E.InvalidArgumentError,
        "model_type",
        fresh_gguf,
    ),
    Case(
        "unknown-option",
        lambda w: create_llm("huggingface", model=str(w.models.pipeline_dir), pipeline_kwarg={}),
        E.InvalidArgumentError,
        "Did you mean 'pipeline_kwargs'",
        fresh_pipeline,
    ),
    Case(
        "other-modes-option",
        lambda w: create_llm("huggingface", model=str(w.models.pipeline_dir), n_ctx=64),
        E.InvalidArgumentError,
        "gguf",
        fresh_pipeline,
    ),
    Case(
        "bad-quantization",
        lambda w: create_llm("huggingface", model=str(w.models.pipeline_dir), quantization="3bit"),
        E.InvalidArgumentError,
        "quantization",
        fresh_pipeline,
    ),
    Case(
        "bad-device",
        lambda w: create_llm("huggingface", model=str(w.models.pipeline_dir), device="tpu"),
        E.InvalidArgumentError,
        "device",
        fresh_pipeline,
    ),
    Case(
        "bad-chat-format",
        lambda w: create_llm("huggingface", model_path=str(w.models.gguf_f32), chat_format="chatmlx"),
        E.InvalidArgumentError,
        "chat_format",
        fresh_gguf,
    ),
    # missing and corrupt model files
    Case(
        "missing-folder",
        lambda w: create_llm("huggingface", model_path="/no/such/model"),
        E.ModelNotFoundError,
        "/no/such/model",
        fresh_pipeline,
    ),
    Case(
        "no-config-json",
        lambda w: create_llm("huggingface", model_path=str(w.files["no_config"])),
        E.ModelLoadingError,
        "config.json",
        fresh_pipeline,
    ),
    Case(
        "corrupt-safetensors",
        lambda w: create_llm("huggingface", model_path=str(w.files["corrupt"])),
        E.ModelLoadingError,
        "corrupt-weights",
        fresh_pipeline,
    ),
    Case(
        "missing-gguf",
        lambda w: create_llm("huggingface", model_path="/no/such/file.gguf"),
        E.ModelNotFoundError,
        "file.gguf",
        fresh_gguf,
    ),
    Case(
        "not-gguf",
        lambda w: create_llm("huggingface", model_path=str(w.files["not_gguf"])),
        E.ModelLoadingError,
        "notes.gguf",
        fresh_gguf,
    ),
    Case(
        "truncated-gguf",
        lambda w: create_llm("huggingface", model_path=str(w.files["truncated"])),
        E.ModelLoadingError,
        "truncated.gguf",
        fresh_gguf,
    ),
    Case(
        "bad-version-gguf",
        lambda w: create_llm("huggingface", model_path=str(w.files["bad_version"])),
        E.ModelLoadingError,
        "version.gguf",
        fresh_gguf,
    ),
    # URLs and tokens
    Case(
        "bad-url",
        lambda w: create_llm("huggingface", inference_api_url="not a url"),
        E.InvalidArgumentError,
        "inference_api_url",
        on("endpoint"),
    ),
    Case(
        "ftp-url",
        lambda w: create_llm("huggingface", endpoint_url="ftp://example.com/x"),
        E.InvalidArgumentError,
        "http",
        on("endpoint"),
    ),
    Case(
        "no-token",
        lambda w: create_llm("huggingface", model="org/model", use_inference_api=True, api_key=None),
        E.AuthenticationError,
        "api_key",
        on("endpoint"),
    ),
    Case(
        "token-over-plain-http",
        lambda w: create_llm("huggingface", inference_api_url="http://example.com:9", api_key="hf_x"),
        E.InvalidArgumentError,
        "allow_insecure_token",
        on("endpoint"),
    ),
    # server faults
    served({"status": 401}, E.AuthenticationError, "401"),
    served({"status": 404}, E.ModelNotFoundError, "404"),
    served({"status": 422, "message": "max_tokens is too large"}, E.InvalidArgumentError, "max_tokens is too large"),
    served({"status": 429, "retry_after": 0}, E.RateLimitError, "429"),
    served({"status": 500, "message": "kaboom"}, E.ProviderAPIError, "kaboom"),
    served({"bad_json": True}, E.ProviderAPIError, "JSON"),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", stream=True),
]


def test_the_catalogue_is_large() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUGGINGFACE_API_KEY", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(case.error) as caught:
        case.act(world)
    assert case.says.lower() in str(caught.value).lower(), str(caught.value)
    if not isinstance(caught.value, E.UnsupportedProviderError):  # no provider serves it, so none is named
        assert (caught.value.provider, caught.value.mode) != (None, None)
    world.router.reset()
    case.then(world)


def test_a_session_file_that_fails_to_load_leaves_the_session_as_it_was(world: World) -> None:
    session = Session(system_prompt="keep me", provider=world.pipeline)
    session.generate("What is the capital of France?", temperature=0)
    before = [m.to_dict() for m in session.messages]
    with pytest.raises(E.InvalidArgumentError) as caught:
        session.load(world.files["bad_session"])
    assert "bad-session.json" in str(caught.value)
    assert [m.to_dict() for m in session.messages] == before
    assert json.loads(world.files["bad_session"].read_text())  # the file itself is untouched
    session.generate("What is the capital of Germany?", temperature=0)
    assert session.messages[-1].content == "The capital of Germany is Berlin."
