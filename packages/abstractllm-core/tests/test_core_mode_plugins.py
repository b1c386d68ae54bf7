"""A third-party plugin can add a HuggingFace mode and claim configurations for it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.hookspecs import hookimpl
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage


def load_echo(info: BackendInfo, config: ConfigManager) -> Backend:
    return EchoBackend(config.get_param("model"))


class EchoBackend(Backend):
    def __init__(self, model: str) -> None:
        self.model_name = model

    def generate(self, request: GenerationRequest) -> Completion:
        text = request.messages[-1].content or ""
        return Completion([Choice(text, "stop")], Usage(len(text.split()), len(text.split())))

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        completion = self.generate(request)
        yield StreamDelta(completion.choices[0].text, "stop", completion.usage)

    def capabilities(self) -> dict[str, Any]:
        return {"streaming": True}


ECHO = BackendInfo(
    provider="huggingface", mode="echo", description="Repeats the prompt.", install="pip install echo-mode", load=load_echo
)
EchoBackend.info = ECHO


class EchoPlugin:
    @hookimpl
    def abstractllm_backends(self) -> list[BackendInfo]:
        return [ECHO]

    @hookimpl
    def abstractllm_resolve_mode(self, provider: str, config: Mapping[str, Any]) -> str | None:
        model = config.get("model")
        return "echo" if provider == "huggingface" and isinstance(model, str) and model.endswith(".echo") else None


@pytest.fixture
def echo_plugin() -> Iterator[None]:
    plugins = get_plugins()
    plugins.register(EchoPlugin(), "echo-mode", "echo-mode", "1.0")
    yield
    plugins.unregister("echo-mode")


def test_a_plugin_claims_a_configuration_before_core_rules(echo_plugin: None) -> None:
    llm = create_llm("huggingface", model="weights.echo")
    assert (llm.mode, type(llm).__name__) == ("echo", "HuggingFaceProvider")
    assert str(llm.generate("say this")) == "say this"
    explicit = create_llm("huggingface", model="anything", model_type="echo")
    assert explicit.mode == "echo"


def test_without_the_plugin_core_rules_apply() -> None:
    from abstractllm.providers.huggingface import resolve_mode

    assert resolve_mode({"model": "weights.echo"}) == "pipeline"
    assert ("huggingface", "echo") not in get_plugins().backends
