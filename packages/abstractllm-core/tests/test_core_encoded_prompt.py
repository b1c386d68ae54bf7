"""Core encodes each call's prompt once and hands it to the backend (``request.encoded``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.errors import ContextWindowExceededError
from abstractllm.hookspecs import hookimpl
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage

WINDOW = 8


class Words(tuple[str, ...]):
    """An encoded prompt: the prompt's words."""


class WordBackend(Backend):
    """Counts its encodings, and replies with how many words it was handed."""

    def __init__(self, model: str) -> None:
        self.model_name = model
        self.encodings = 0
        self.handed: list[object] = []

    def encode(self, request: GenerationRequest) -> Words:
        self.encodings += 1
        return Words(" ".join(message.content or "" for message in request.messages).split())

    def _words(self, request: GenerationRequest) -> Words:
        self.handed.append(request.encoded)
        return request.encoded if isinstance(request.encoded, Words) else self.encode(request)

    def generate(self, request: GenerationRequest) -> Completion:
        words = self._words(request)
        return Completion([Choice(str(len(words)), "stop")], Usage(len(words), 1))

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        words = self._words(request)
        yield StreamDelta(str(len(words)), "stop", Usage(len(words), 1))

    def capabilities(self) -> dict[str, Any]:
        return {"streaming": True, "max_tokens": WINDOW}


def load(info: BackendInfo, config: ConfigManager) -> Backend:
    backend = WordBackend(config.get_param("model"))
    backend.info = info
    return backend


WORDS = BackendInfo(provider="words", mode="words", description="Counts words.", install="-", load=load)


class WordsPlugin:
    @hookimpl
    def abstractllm_backends(self) -> list[BackendInfo]:
        return [WORDS]


class Rebuilder:
    """A plugin that answers for core with a request of its own, built with ``dataclasses.replace``."""

    @hookimpl(tryfirst=True)
    def abstractllm_generate(self, backend: Backend, request: GenerationRequest) -> Completion:
        message = dataclasses.replace(request.messages[-1], content="one two three")
        return backend.generate(dataclasses.replace(request, messages=(*request.messages[:-1], message)))


@pytest.fixture
def llm() -> Iterator[Any]:
    plugins = get_plugins()
    plugins.register(WordsPlugin(), "words", "words", "1.0")
    model = create_llm("words", model="w")
    try:
        yield model
    finally:
        model.unload()
        plugins.unregister("words")


def test_each_call_is_encoded_once_and_handed_over(llm: Any) -> None:
    backend = llm.backend
    assert isinstance(backend, WordBackend)
    assert str(llm.generate("a b c")) == "3"
    assert "".join(str(chunk) for chunk in llm.generate("a b", stream=True)) == "2"
    assert backend.encodings == 2
    assert [type(value) for value in backend.handed] == [Words, Words]
    assert llm.count_tokens("a b c d") == 4
    with pytest.raises(ContextWindowExceededError, match="9 tokens"):
        llm.generate("a b c d e f g h i")
    assert backend.encodings == 4
    assert str(llm.generate("x")) == "1"  # the object still works


def test_a_rebuilt_request_carries_no_stale_encoding(llm: Any) -> None:
    plugins = get_plugins()
    plugins.register(Rebuilder(), "rebuilder", "rebuilder", "1.0")
    try:
        assert str(llm.generate("a")) == "3"  # the backend encoded the rebuilt request, not core's "a"
    finally:
        plugins.unregister("rebuilder")
    backend = llm.backend
    assert backend.handed == [None]
    assert backend.encodings == 2
