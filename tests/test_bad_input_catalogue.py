"""One catalogue of bad inputs and faults across the core and the three backends.

Each row says what is done wrong, the exact ``abstractllm.errors`` class it must raise,
text the message must contain (the parameter, file, URL or status at fault), and what must
still work afterwards: the same model object (a real generation), or — for failures
while creating a model — a fresh model of that mode. Every row also checks that a session
held beside the models is left exactly as it was, and rows about tokens check that the
token never appears in the error.

The models are loaded once for the module (``world``); the servers are the API
package's in-repo test server on loopback (the ``router`` fixture in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm import errors as E
from abstractllm.plugins import get_plugins
from abstractllm.session import Session

TOKEN = "hf_catalogue_token"
SECRET = "hf_secretvalue"  # a token's distinctive part: never in an error message


@dataclass
class World:
    pipeline: Any
    gguf: Any
    endpoint: Any
    tgi: Any
    api: Any
    session: Session
    router: Any
    files: dict[str, Path]
    models: Any
    closed_port: int


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once to pick it, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SESSION_FILES: dict[str, str | bytes] = {
    "not-json.json": "{not json",
    "empty.json": "",
    "binary.json": b"\xff\xfe\x00garbage",
    "a-list.json": "[1, 2]",
    "no-messages.json": '{"id": "x"}',
    "alien-role.json": '{"messages": [{"role": "alien", "content": "x"}]}',
    "number-content.json": '{"messages": [{"role": "user", "content": 5}]}',
    "string-message.json": '{"messages": ["hello"]}',
    "bad-date.json": '{"messages": [], "created_at": "yesterday"}',
    "metadata-string.json": '{"messages": [], "metadata": "abc"}',
    "system-prompt-number.json": '{"messages": [], "system_prompt": 42}',
}


def _model_files(models: Any, root: Path) -> dict[str, Path]:
    def copy_folder(name: str) -> Path:
        folder = root / name
        folder.mkdir()
        for item in models.pipeline_dir.iterdir():
            (folder / item.name).write_bytes(item.read_bytes())
        return folder

    no_config = copy_folder("no-config")
    (no_config / "config.json").unlink()
    bad_config = copy_folder("bad-config")
    (bad_config / "config.json").write_text('{"model_type": "llama",')
    corrupt = copy_folder("corrupt-weights")
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    gguf = models.gguf_f32.read_bytes()
    files = {"no_config": no_config, "bad_config": bad_config, "corrupt": corrupt}
    files["not_gguf"] = root / "notes.gguf"
    files["not_gguf"].write_text("this is not a GGUF file")
    files["truncated"] = root / "truncated.gguf"
    files["truncated"].write_bytes(gguf[:4096])
    files["bad_version"] = root / "version.gguf"
    files["bad_version"].write_bytes(b"GGUF" + struct.pack("<I", 99) + gguf[8:4096])
    sessions = root / "sessions"
    sessions.mkdir()
    for name, content in SESSION_FILES.items():
        path = sessions / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        files[name] = path
    files["sessions"] = sessions
    return files


@pytest.fixture(scope="module")
def world(tiny_models: Any, router: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    files = _model_files(tiny_models, tmp_path_factory.mktemp("bad-files"))
    pipeline = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    gguf = create_llm("huggingface", model_path=str(tiny_models.gguf_f32))
    endpoint = create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0)
    tgi = create_llm("huggingface", inference_api_url=router.url, protocol="tgi", max_retries=0)
    api = create_llm(
        "huggingface", model="org/model", use_inference_api=True, api_key=TOKEN, api_base_url=router.url, max_retries=0
    )
    session = Session(system_prompt="keep me", provider=pipeline)
    session.generate("What is the capital of France?", temperature=0)
    yield World(pipeline, gguf, endpoint, tgi, api, session, router, files, tiny_models, _closed_port())
    for model in (pipeline, gguf, endpoint, tgi, api):
        model.unload()


# -- what must keep working -----------------------------------------------------------------


def works(llm: Any) -> None:
    reply = llm.generate("What is the capital of France?", temperature=0, max_tokens=16)
    assert str(reply).strip()


def on(name: str) -> Callable[[World], None]:
    """The same model object generates afterwards."""
    return lambda world: works(getattr(world, name))


def fresh(mode: str) -> Callable[[World], None]:
    """A new model of ``mode`` loads and generates afterwards."""

    def check(world: World) -> None:
        config: dict[str, Any] = {
            "pipeline": {"model": str(world.models.pipeline_dir)},
            "gguf": {"model_path": str(world.models.gguf_f32)},
            "endpoint": {"inference_api_url": world.router.url, "protocol": "openai"},
            "api": {"model": "org/model", "use_inference_api": True, "api_key": TOKEN, "api_base_url": world.router.url},
        }[mode]
        with create_llm("huggingface", **config) as llm:
            assert llm.mode == mode
            works(llm)

    return check


def session_goes_on(world: World) -> None:
    """The session (left as it was, checked for every row) still holds a conversation."""
    history = list(world.session.messages)
    reply = world.session.generate("What is the capital of Germany?", temperature=0)
    assert str(reply) == "The capital of Germany is Berlin."
    assert world.session.messages[: len(history)] == history and len(world.session.messages) == len(history) + 2
    world.session.messages = history  # the next row starts from the same two-turn history


# -- rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    act: Callable[[World], Any]
    error: type[E.AbstractLLMError]
    says: str
    then: Callable[[World], None]
    hides: tuple[str, ...] = field(default=())
    where: str = "mode"  # the error names provider and mode; "provider" only, or "" where no provider is involved


def gen(name: str, *args: Any, **kwargs: Any) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        result = getattr(world, name).generate(*args, **kwargs)
        return list(result) if kwargs.get("stream") else result

    return act


def param(parameter: str, value: Any, model: str = "pipeline") -> Case:
    return Case(
        f"{model}-{parameter}={value!r}", gen(model, "Hi", **{parameter: value}), E.InvalidArgumentError, parameter, on(model)
    )


def make(mode: str, case_id: str, error: type[E.AbstractLLMError], says: str, **config: Any) -> Case:
    """``create_llm('huggingface', **config)`` fails; ``config`` values may be callables of the world."""

    def act(world: World) -> Any:
        return create_llm("huggingface", **{k: v(world) if callable(v) else v for k, v in config.items()})

    return Case(case_id, act, error, says, fresh(mode))


def served(
    fault: dict[str, Any], error: type[E.AbstractLLMError], says: str, *, model: str = "endpoint", stream: bool = False
) -> Case:
    """The server answers the next request with ``fault``."""

    def act(world: World) -> Any:
        world.router.script(fault)
        result = getattr(world, model).generate("Hi", stream=stream)
        return list(result) if stream else result

    name = "-".join(f"{k}={v}" for k, v in fault.items())
    return Case(f"{model}-{name}{'-stream' if stream else ''}", act, error, says, on(model))


def without(mode: str, **config: Any) -> Case:
    """The distribution serving ``mode`` is not installed: the plugins view lacks that backend."""

    def act(world: World) -> Any:
        plugins = get_plugins()
        saved = plugins.backends
        plugins.backends = {key: value for key, value in saved.items() if key != ("huggingface", mode)}
        try:
            return create_llm("huggingface", **{k: v(world) if callable(v) else v for k, v in config.items()})
        finally:
            plugins.backends = saved

    distribution = {"pipeline": "hf-pipeline", "gguf": "hf-gguf", "api": "hf-api", "endpoint": "hf-api"}[mode]
    return Case(f"not-installed-{mode}", act, E.BackendNotInstalledError, f"pip install abstractllm-{distribution}", fresh(mode))


def load_session(name: str) -> Case:
    def act(world: World) -> Any:
        return world.session.load(world.files[name])

    return Case(f"session-{name}", act, E.InvalidArgumentError, name, session_goes_on, where="")


def api_with_token(token: str, *, expected: str | None = None) -> Callable[[World], Any]:
    def act(world: World) -> Any:
        world.router.expected_token = expected
        llm = create_llm(
            "huggingface", model="org/model", use_inference_api=True, api_key=token, api_base_url=world.router.url, max_retries=0
        )
        return llm.generate("Hi")

    return act


def env_token_to_loopback(world: World) -> Any:
    saved = os.environ.get("HUGGINGFACE_API_KEY")
    os.environ["HUGGINGFACE_API_KEY"] = SECRET
    try:
        return create_llm("huggingface", model="org/model", use_inference_api=True, api_base_url=world.router.url)
    finally:
        if saved is None:
            del os.environ["HUGGINGFACE_API_KEY"]
        else:
            os.environ["HUGGINGFACE_API_KEY"] = saved


def too_slow(world: World) -> Any:
    world.router.script({"slow": 1.5})
    with create_llm("huggingface", inference_api_url=world.router.url, protocol="openai", max_retries=0, timeout=0.5) as llm:
        return llm.generate("Hi")


def unreachable(world: World) -> Any:
    url = f"http://127.0.0.1:{world.closed_port}"
    return create_llm("huggingface", inference_api_url=url, protocol="openai", max_retries=0).generate("Hi")


LONG = "word " * 2000  # the tiny model's context window is 512 tokens
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}

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
    # -- prompts and messages
    Case("empty-prompt", gen("pipeline", ""), E.InvalidArgumentError, "prompt", on("pipeline")),
    Case("blank-prompt", gen("api", "   \n"), E.InvalidArgumentError, "prompt is empty", on("api")),
    Case("missing-prompt", gen("gguf", None), E.InvalidArgumentError, "prompt", on("gguf")),
    Case("number-prompt", gen("endpoint", 42), E.InvalidArgumentError, "prompt", on("endpoint")),
    Case("dict-prompt", gen("pipeline", {"role": "user", "content": "x"}), E.InvalidArgumentError, "got dict", on("pipeline")),
    Case("bad-role", gen("pipeline", [{"role": "wizard", "content": "x"}]), E.InvalidArgumentError, "wizard", on("pipeline")),
    Case("bad-content", gen("gguf", [{"role": "user", "content": 5}]), E.InvalidArgumentError, "content", on("gguf")),
    Case("message-not-a-dict", gen("tgi", ["hello"]), E.InvalidArgumentError, "message 0 is a str", on("tgi")),
    Case("message-without-content", gen("gguf", [{"role": "user"}]), E.InvalidArgumentError, "has no content", on("gguf")),
    Case("no-messages", gen("endpoint", []), E.InvalidArgumentError, "messages", on("endpoint")),
    Case("system-prompt-number", gen("api", "Hi", system_prompt=5), E.InvalidArgumentError, "system_prompt", on("api")),
    Case("raw-with-system", gen("pipeline", "Hi", system_prompt="s", raw=True), E.InvalidArgumentError, "raw", on("pipeline")),
    Case(
        "raw-with-messages", gen("gguf", [{"role": "user", "content": "x"}], raw=True), E.InvalidArgumentError, "raw", on("gguf")
    ),
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
    Case("oversized-stream", gen("pipeline", LONG, stream=True), E.ContextWindowExceededError, "context window", on("pipeline")),
    Case("bad-tools", gen("pipeline", "Hi", tools=[42]), E.InvalidArgumentError, "tools", on("pipeline")),
    Case("bad-tool-choice", gen("gguf", "Hi", tools=[TOOL], tool_choice="g"), E.InvalidArgumentError, "tool_choice", on("gguf")),
    Case(
        "bad-response-format",
        gen("pipeline", "Hi", response_format={"type": "xml"}),
        E.InvalidArgumentError,
        "response_format",
        on("pipeline"),
    ),
    Case(
        "unusable-json-schema",
        gen("pipeline", "Hi", response_format={"type": "json_schema", "json_schema": {"schema": {"type": "frobnicate"}}}),
        E.InvalidArgumentError,
        "frobnicate",
        on("pipeline"),
    ),
    # -- session files (each leaves the session as it was)
    *[load_session(name) for name in SESSION_FILES],
    Case(
        "session-missing-file",
        lambda w: w.session.load(w.files["sessions"] / "nope.json"),
        E.InvalidArgumentError,
        "nope.json",
        session_goes_on,
        where="",
    ),
    Case(
        "session-directory",
        lambda w: w.session.load(w.files["sessions"]),
        E.InvalidArgumentError,
        "sessions",
        session_goes_on,
        where="",
    ),
    # -- URLs and tokens
    make("endpoint", "bad-url", E.InvalidArgumentError, "inference_api_url='not a url'", inference_api_url="not a url"),
    make(
        "endpoint",
        "ftp-url",
        E.InvalidArgumentError,
        "endpoint_url='ftp://example.com/x' is not an http(s) URL",
        endpoint_url="ftp://example.com/x",
    ),
    make(
        "api",
        "bad-router-url",
        E.InvalidArgumentError,
        "api_base_url='nope'",
        model="org/model",
        use_inference_api=True,
        api_key=TOKEN,
        api_base_url="nope",
    ),
    Case("unreachable-server", unreachable, E.ProviderConnectionError, "cannot reach http://127.0.0.1:", on("endpoint")),
    make("api", "no-token", E.AuthenticationError, "api_key", model="org/model", use_inference_api=True, api_key=None),
    make("api", "empty-token", E.InvalidArgumentError, "api_key", model="org/model", use_inference_api=True, api_key=""),
    Case(
        "environment-token-to-other-host",
        env_token_to_loopback,
        E.AuthenticationError,
        "only sent to HuggingFace's own",
        fresh("api"),
        hides=(SECRET,),
    ),
    Case("token-with-newline", api_with_token(SECRET + "\nX"), E.AuthenticationError, "newline", fresh("api"), hides=(SECRET,)),
    Case("token-not-ascii", api_with_token(SECRET + "é"), E.AuthenticationError, "non-ASCII", fresh("api"), hides=(SECRET,)),
    Case(
        "wrong-token",
        api_with_token(SECRET, expected="hf_the_right_one"),
        E.AuthenticationError,
        "401",
        fresh("api"),
        hides=(SECRET,),
    ),
    make(
        "endpoint",
        "token-over-plain-http",
        E.InvalidArgumentError,
        "allow_insecure_token",
        inference_api_url="http://example.com:9",
        api_key=SECRET,
    ),
    # -- server faults
    served({"status": 401}, E.AuthenticationError, "401"),
    served({"status": 403}, E.AuthenticationError, "403"),
    served({"status": 404}, E.ModelNotFoundError, "404"),
    served(
        {"status": 404, "message": "Model org/model does not exist"},
        E.ModelNotFoundError,
        "org/model does not exist",
        model="api",
    ),
    served({"status": 422, "message": "max_tokens is too large"}, E.InvalidArgumentError, "max_tokens is too large"),
    served({"status": 429, "retry_after": 0}, E.RateLimitError, "429"),
    served({"status": 429, "retry_after": 0}, E.RateLimitError, "429", model="api"),
    served({"status": 500, "message": "kaboom"}, E.ProviderAPIError, "kaboom"),
    served({"status": 500, "message": "kaboom"}, E.ProviderAPIError, "kaboom", model="tgi", stream=True),
    served({"status": 503, "estimated_time": 5}, E.ProviderAPIError, "currently loading", model="api"),
    served({"bad_json": True}, E.ProviderAPIError, "JSON"),
    served({"drop": True}, E.ProviderConnectionError, "Server disconnected"),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", stream=True),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", model="tgi", stream=True),
    served({"truncate_after": 2}, E.ProviderConnectionError, "cut", model="api", stream=True),
    served({"end_after": 2}, E.ProviderAPIError, "ended before its last chunk", stream=True),
    served({"error_after": 2}, E.ProviderAPIError, "error in the stream", stream=True),
    Case("server-too-slow", too_slow, E.RequestTimeoutError, "timed out", on("endpoint")),
]


def test_the_catalogue_is_large_and_covers_every_backend() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    for mode in ("pipeline", "gguf", "endpoint", "api", "tgi", "session", "not-installed"):
        assert sum(case.id.startswith(mode) or f"-{mode}" in case.id for case in CASES) >= 2, mode


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUGGINGFACE_API_KEY", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("ABSTRACTLLM_HF_ROUTER_URL", raising=False)
    world.router.reset()
    session_before = world.session.to_dict()
    try:
        with pytest.raises(E.AbstractLLMError) as caught:
            case.act(world)
    finally:
        world.router.reset()
    error = caught.value
    assert type(error) is case.error, f"{type(error).__name__} instead of {case.error.__name__}: {error}"
    assert case.says.lower() in str(error).lower(), str(error)
    for secret in case.hides:
        assert secret not in str(error) and secret not in repr(error.args), str(error)
    if case.where:
        assert error.provider == "huggingface", f"the error does not name the provider: {error}"
    if case.where == "mode":
        assert error.mode, f"the error does not name the mode: {error}"
    assert world.session.to_dict() == session_before
    case.then(world)


def test_a_session_file_that_fails_to_load_leaves_the_session_as_it_was(world: World, tmp_path: Path) -> None:
    session = Session(system_prompt="keep me", provider=world.pipeline)
    session.generate("What is the capital of France?", temperature=0)
    good = tmp_path / "good.json"
    session.save(good)
    before = session.to_dict()
    for name in SESSION_FILES:
        content = world.files[name].read_bytes()
        with pytest.raises(E.InvalidArgumentError) as caught:
            session.load(world.files[name])
        assert name in str(caught.value)
        assert session.to_dict() == before, name
        assert world.files[name].read_bytes() == content  # the bad file itself is untouched
        with pytest.raises(E.InvalidArgumentError):
            Session.load(world.files[name])  # the class-level load rejects it the same way
    session.generate("What is the capital of Germany?", temperature=0)
    assert session.messages[-1].content == "The capital of Germany is Berlin."
    assert Session.load(good).to_dict() == before  # a good file still loads
    assert json.loads(good.read_text())["system_prompt"] == "keep me"
