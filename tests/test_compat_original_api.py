"""Code written the way AbstractLLM 0.5 users wrote it keeps working (the compatibility issue).

Runs on the project's tiny Llama through the local transformers backend.
"""

from __future__ import annotations

import collections.abc
import io
import json
from pathlib import Path
from typing import Any

import pytest

from abstractllm import (
    AbstractLLMInterface,
    MessageRole,
    ModelCapability,
    ModelParameter,
    Session,
    SessionManager,
    configure_logging,
    create_llm,
)
from abstractllm.cli import main as cli_main
from abstractllm.exceptions import (
    AbstractLLMError,
    InvalidParameterError,
    ModelLoadingError,
    ModelNotFoundError,
    UnsupportedProviderError,
)
from abstractllm.providers.huggingface import DEFAULT_MODEL, HuggingFaceProvider


@pytest.fixture(scope="module")
def llm(tiny_models: Any) -> Any:
    model = create_llm(
        "huggingface",
        **{ModelParameter.MODEL: str(tiny_models.pipeline_dir), ModelParameter.DEVICE: "cpu", ModelParameter.MAX_TOKENS: 20},
    )
    yield model
    model.unload()


def test_create_llm_with_enum_keys_returns_the_interface(llm: Any) -> None:
    assert isinstance(llm, AbstractLLMInterface)
    assert isinstance(llm, HuggingFaceProvider)
    assert llm.config_manager.get_param(ModelParameter.MAX_TOKENS) == 20
    assert llm.config_manager.get_param(ModelParameter.TEMPERATURE) == llm.config_manager.get_param("temperature") == 0.7


def test_generate_returns_str(llm: Any) -> None:
    response = llm.generate("Hello, I am", max_tokens=10)
    assert isinstance(response, str)
    assert len(response) > 0


def test_streaming_yields_str_chunks(llm: Any) -> None:
    caps = llm.get_capabilities()
    assert caps.get("streaming", False) is True
    assert caps.get("streaming") == caps.get(ModelCapability.STREAMING)
    stream = llm.generate("Hello, I am", stream=True, max_tokens=5)
    assert isinstance(stream, collections.abc.Generator)
    chunks = list(stream)
    assert chunks and all(isinstance(chunk, str) for chunk in chunks)
    assert len("".join(chunks)) > 0


async def test_async_stream_is_an_async_generator_of_str(llm: Any) -> None:
    stream = await llm.generate_async("The capital of France is", stream=True, temperature=0, raw=True)
    assert isinstance(stream, collections.abc.AsyncGenerator)
    text = "".join([chunk async for chunk in stream])
    assert text.startswith(" Paris.")


def test_config_api_and_masked_key(tiny_models: Any) -> None:
    model = create_llm("huggingface", model=str(tiny_models.pipeline_dir), api_key="hf_do_not_show_me")
    try:
        config = model.get_config()
        assert isinstance(config, dict)
        assert config["api_key"] == "***"
        assert "hf_do_not_show_me" not in repr(config) + repr(model) + repr(model.config_manager)
        model.config_manager.update_config({ModelParameter.TEMPERATURE: 0.1})
        assert model.config_manager.get_param("temperature") == 0.1
        assert model.config_manager.get_param("no_such_param", "fallback") == "fallback"
        with pytest.raises(InvalidParameterError):
            model.config_manager.update_config({"temperature": -2})
    finally:
        model.unload()


def test_plain_prompt_is_a_user_turn_through_the_template(llm: Any) -> None:
    reply = llm.generate("What is the capital of France?", temperature=0, max_tokens=20)
    assert str(reply) == "The capital of France is Paris."
    raw = llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=20)
    assert str(raw).startswith(" Paris.")
    pirate = llm.generate("Hello!", system_prompt="You are a pirate.", temperature=0, max_tokens=20)
    assert str(pirate) == "Ahoy, matey!"


def test_plain_prompt_is_a_raw_completion_without_a_template(tiny_models: Any) -> None:
    model = create_llm("huggingface", model=str(tiny_models.pipeline_dir_no_template), device="cpu")
    try:
        assert str(model.generate("The capital of France is", temperature=0, max_tokens=20)).startswith(" Paris.")
    finally:
        model.unload()


def test_original_exception_names_and_hierarchy() -> None:
    with pytest.raises(UnsupportedProviderError) as caught:
        create_llm("unsupported_provider")
    assert isinstance(caught.value, ValueError)
    assert "unsupported_provider" in str(caught.value) and "huggingface" in str(caught.value)
    with pytest.raises(ModelNotFoundError) as missing:
        create_llm("huggingface", model_path="/no/such/model/folder")
    assert isinstance(missing.value, ModelLoadingError) and isinstance(missing.value, AbstractLLMError)
    error = AbstractLLMError("message", "huggingface", KeyError("x"))
    assert error.provider == "huggingface" and isinstance(error.__cause__, KeyError)


def test_session_api(llm: Any, tmp_path: Path) -> None:
    session = Session(system_prompt=None, provider=llm, metadata={"source": "test"})
    session.add_message(MessageRole.USER, "What is the capital of France?")
    response = session.generate(temperature=0)
    assert str(response) == "The capital of France is Paris."
    history = session.get_history(include_system=True)
    assert [m.role for m in history] == ["user", "assistant"]
    first = history[0]
    assert (first.role, first.content, first.name) == ("user", "What is the capital of France?", None)
    assert first.timestamp and isinstance(first.metadata, dict)
    assert type(first).from_dict(first.to_dict()).to_dict() == first.to_dict()
    path = tmp_path / "session.json"
    session.save(path)
    assert set(json.loads(path.read_text())) >= {"id", "messages", "metadata", "system_prompt"}
    loaded = Session.load(path, provider=llm)
    assert [m.content for m in loaded.get_history()] == [m.content for m in history]
    loaded.clear_history(keep_system_prompt=True)
    assert loaded.get_history() == []


def test_session_from_provider_name_and_manager(tiny_models: Any, tmp_path: Path) -> None:
    session = Session(provider="huggingface", provider_config={"model": str(tiny_models.pipeline_dir), "temperature": 0})
    try:
        assert str(session.generate("What is the capital of Germany?")) == "The capital of Germany is Berlin."
    finally:
        session.provider.unload()
    manager = SessionManager(sessions_dir=str(tmp_path))
    created = manager.create_session(system_prompt="s")
    manager.save_all()
    other = SessionManager(sessions_dir=str(tmp_path))
    other.load_all()
    assert [entry[0] for entry in other.list_sessions()] == [created.id]


def test_cached_models_and_model_cache(tiny_models: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinymodel.hub_cache import install_in_hub_cache

    install_in_hub_cache(tiny_models.pipeline_dir, tmp_path, "tiny/llama-chat")
    install_in_hub_cache(tiny_models.gguf_f32.parent, tmp_path, "tiny/llama-GGUF", files=[tiny_models.gguf_f32.name])
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    models = HuggingFaceProvider.list_cached_models()
    assert isinstance(models, list)
    by_name = {m["name"]: m for m in models}
    assert by_name["tiny/llama-chat"]["modes"] == ["pipeline"]
    assert by_name["tiny/llama-GGUF"]["modes"] == ["gguf"]
    assert by_name["tiny/llama-chat"]["size"] > 0
    assert HuggingFaceProvider.list_cached_models(str(tmp_path / "hub")) == models
    assert isinstance(DEFAULT_MODEL, str)
    out = io.StringIO()
    assert cli_main(["models", "--json"], out=out) == 0
    assert json.loads(out.getvalue()) == json.loads(json.dumps(models, default=str))


def test_clear_model_cache_drops_shared_models(tiny_models: Any) -> None:
    first = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    second = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    assert second.backend.loaded is first.backend.loaded  # shared while cached
    assert HuggingFaceProvider.clear_model_cache() >= 1
    third = create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu")
    try:
        assert third.backend.loaded is not first.backend.loaded  # loaded afresh
        assert str(first.generate("What is the capital of France?", temperature=0)) == "The capital of France is Paris."
    finally:
        for model in (first, second, third):
            model.unload()


def test_configure_logging(tmp_path: Path) -> None:
    import logging

    configure_logging(log_dir=str(tmp_path), log_level=logging.DEBUG, console_output=False)
    logging.getLogger("abstractllm.test").debug("hello from the test")
    for handler in logging.getLogger("abstractllm").handlers:
        handler.flush()
    files = list(tmp_path.glob("abstractllm_*.log"))
    assert files and "hello from the test" in files[0].read_text()
    configure_logging(log_level=logging.WARNING)
