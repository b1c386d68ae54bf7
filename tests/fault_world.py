"""The fault suite's world and rows: bad inputs and faults across the core and the three backends.

The rows live in ``test_faults_*.py`` by area; this module holds what they share. Each row
says what is done wrong, the exact ``abstractllm.errors`` class it must raise,
text the message must contain (the parameter, file, URL or status at fault), and what must
still work afterwards: the same model object (a real generation), or — for failures
while creating a model — a fresh model of that mode. Every row also checks that a session
held beside the models is left exactly as it was, and rows about tokens check that the
token never appears in the error.

Every row also runs under a deadline (``HANG_AFTER`` seconds): a call that does not return by
then fails the row instead of hanging the suite. Rows that can crash the process run in child
processes in the backends' own test files (the GGUF header fuzz, unload races, interpreter exit).

The models are loaded once per module (the ``world`` fixture in ``tests/conftest.py``);
the server is the API package's in-repo test server on loopback.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm import errors as E
from abstractllm._private.plugins import get_plugins
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
    "unsafe-id.json": '{"id": "../x", "messages": []}',
    "absolute-id.json": '{"id": "/tmp/x", "messages": []}',
    "nul-id.json": '{"id": "a\\u0000b", "messages": []}',
    "deeply-nested.json": '{"messages": [], "metadata": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}",
    "far-future.json": '{"messages": [], "created_at": 1e20}',
    "message-metadata-list.json": '{"messages": [{"role": "user", "content": "x", "metadata": [1]}]}',
    "tool-calls-garbage.json": '{"messages": [{"role": "assistant", "content": "", "tool_calls": 5}]}',
    "null-messages.json": '{"messages": null}',
    "role-number.json": '{"messages": [{"role": 3, "content": "x"}]}',
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


@contextmanager
def open_world(tiny_models: Any, router: Any, root: Path) -> Iterator[World]:
    """Every mode's model loaded once, a two-turn session beside them; all unloaded on exit."""
    files = _model_files(tiny_models, root)
    pipeline = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    gguf = create_llm("huggingface", model_path=str(tiny_models.gguf_f32))
    endpoint = create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0)
    tgi = create_llm("huggingface", inference_api_url=router.url, protocol="tgi", max_retries=0)
    api = create_llm(
        "huggingface", model="org/model", use_inference_api=True, api_key=TOKEN, api_base_url=router.url, max_retries=0
    )
    session = Session(system_prompt="keep me", provider=pipeline)
    session.generate("What is the capital of France?", temperature=0)
    try:
        yield World(pipeline, gguf, endpoint, tgi, api, session, router, files, tiny_models, _closed_port())
    finally:
        for model in (pipeline, gguf, endpoint, tgi, api):
            model.unload()


# -- what must keep working -----------------------------------------------------------------


def works(llm: Any) -> None:
    reply = llm.generate("What is the capital of France?", temperature=0, max_tokens=16)
    assert str(reply).strip()


def on(name: str) -> Callable[[World], None]:
    """The same model object generates afterwards."""

    def check(world: World) -> None:
        works(getattr(world, name))

    check.mode = name  # type: ignore[attr-defined]  (the mode a row concerns: see Case.mode)
    return check


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

    check.mode = mode  # type: ignore[attr-defined]
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
    """One row. ``error`` None: the fault must raise nothing, and ``act`` returns text describing what
    happened instead (a scan instead of a planted cache, a quiet exit), which must contain ``says``."""

    id: str
    act: Callable[[World], Any]
    error: type[E.AbstractLLMError] | None
    says: str
    then: Callable[[World], None]
    hides: tuple[str, ...] = field(default=())
    where: str = "mode"  # the error names provider and mode; "provider" only, or "" where no provider is involved

    @property
    def mode(self) -> str:
        """The mode the fault concerns: a mode name, "session" for session files, "" for core alone."""
        if self.then is session_goes_on:
            return "session"
        return getattr(self.then, "mode", "") if self.where == "mode" else ""


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
    return Case(f"not-installed-{mode}", act, E.BackendNotInstalledError, f"abstractllm-{distribution}", fresh(mode))


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


def ignored_constraint(model: str, **constraint: Any) -> Callable[[World], Any]:
    """The server answers free text whatever tool_choice or response_format asked (as transformers serve does)."""

    def act(world: World) -> Any:
        world.router.script({"ignore_constraints": True})
        return getattr(world, model).generate("Hi", **constraint)

    return act


def trickled(model: str, part: str) -> Callable[[World], Any]:
    """The server sends ``part`` (headers or body) a byte at a time: ``timeout`` bounds the whole request."""

    def act(world: World) -> Any:
        world.router.script({"trickle": part})
        protocol = "tgi" if model == "tgi" else "openai"
        with create_llm("huggingface", inference_api_url=world.router.url, protocol=protocol, max_retries=0, timeout=1) as llm:
            return llm.generate("Hi")

    return act


def unreachable(world: World) -> Any:
    url = f"http://127.0.0.1:{world.closed_port}"
    return create_llm("huggingface", inference_api_url=url, protocol="openai", max_retries=0).generate("Hi")


MODES = ("pipeline", "gguf", "endpoint", "tgi", "api")
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
}
LONG = "word " * 2000  # the tiny model's context window is 512 tokens
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


# -- the check every row goes through ------------------------------------------------------

HANG_AFTER = 60.0


def _within_deadline(act: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Run ``act`` on a daemon thread; return what it returned and what it raised; fail if it hangs."""
    outcome: list[tuple[Any, BaseException | None]] = []

    def run() -> None:
        try:
            outcome.append((act(), None))
        except BaseException as exc:  # handed to the caller
            outcome.append((None, exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_AFTER)
    if worker.is_alive():
        pytest.fail(f"still running after {HANG_AFTER:.0f} s: a fault must not hang the caller")
    return outcome[0]


def check(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The row raises its class with its text, hides its secrets, names provider and mode, leaves
    the session as it was, and ``case.then`` still works."""
    monkeypatch.delenv("HUGGINGFACE_API_KEY", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("ABSTRACTLLM_HF_ROUTER_URL", raising=False)
    world.router.reset()
    session_before = world.session.to_dict()
    try:
        result, error = _within_deadline(lambda: case.act(world))
    finally:
        world.router.reset()
    if case.error is None:
        assert error is None, f"{case.id}: {type(error).__name__}: {error}"
        assert isinstance(result, str) and case.says.lower() in result.lower(), result
        assert world.session.to_dict() == session_before
        _, problem = _within_deadline(lambda: case.then(world))
        if problem is not None:
            raise problem
        return
    assert error is not None, f"{case.id}: no error was raised"
    assert isinstance(error, E.AbstractLLMError), f"{type(error).__name__} is not an abstractllm error: {error!r}"
    assert type(error) is case.error, f"{type(error).__name__} instead of {case.error.__name__}: {error}"
    assert case.says.lower() in str(error).lower(), str(error)
    for secret in case.hides:
        assert secret not in str(error) and secret not in repr(error.args), str(error)
    if case.where:
        assert error.provider == "huggingface", f"the error does not name the provider: {error}"
    if case.where == "mode":
        assert error.mode, f"the error does not name the mode: {error}"
    assert world.session.to_dict() == session_before
    _, problem = _within_deadline(lambda: case.then(world))
    if problem is not None:
        raise problem
