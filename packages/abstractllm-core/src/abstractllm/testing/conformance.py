"""Contract checks every backend must pass (see :mod:`abstractllm.testing`)."""

from __future__ import annotations

import collections.abc
import json
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.enums import ModelCapability
from abstractllm.errors import (
    AbstractLLMError,
    ContextWindowExceededError,
    InvalidArgumentError,
    UnsupportedOperationError,
)
from abstractllm.response import GenerateResponse, StreamChunk

__all__ = ["BackendConformance"]


class BackendConformance:
    """Subclass it and implement :meth:`make_llm`; override the class attributes to fit the model."""

    #: A prompt the model answers with at least a few tokens.
    prompt: str = "The capital of France is"
    #: New tokens per check; small keeps the suite fast.
    max_tokens: int = 8

    #: Names of pytest fixtures ``make_llm`` needs (a server's URL, say); each is passed to
    #: it as a keyword argument. They must be class- or session-scoped.
    fixtures: tuple[str, ...] = ()

    def make_llm(self, **fixtures: Any) -> AbstractLLMInterface:
        """Create a fresh model of the backend under test; ``fixtures`` are the values of
        the fixtures named in :attr:`fixtures`."""
        raise NotImplementedError("implement make_llm() to return create_llm(...) for your backend")

    def new_llm(self, request: pytest.FixtureRequest) -> AbstractLLMInterface:
        """``make_llm`` called with the fixtures it asks for."""
        return self.make_llm(**{name: request.getfixturevalue(name) for name in self.fixtures})

    @pytest.fixture(scope="class")
    @classmethod
    def llm(cls, request: pytest.FixtureRequest) -> Iterator[AbstractLLMInterface]:
        model = cls().new_llm(request)
        yield model
        model.unload()

    def greedy(self, **extra: Any) -> dict[str, Any]:
        return {"temperature": 0, "max_tokens": self.max_tokens, **extra}

    # -- generation -------------------------------------------------------------------

    def test_generate_returns_a_str_with_metadata(self, llm: AbstractLLMInterface) -> None:
        response = llm.generate(self.prompt, **self.greedy())
        assert isinstance(response, str) and isinstance(response, GenerateResponse)
        assert response.finish_reason in ("stop", "length")
        assert 0 < response.usage.completion_tokens <= self.max_tokens
        assert response.usage.prompt_tokens > 0
        assert response.timing is not None and response.timing.total > 0

    def test_stream_chunks_join_to_the_greedy_reply(self, llm: AbstractLLMInterface) -> None:
        expected = llm.generate(self.prompt, **self.greedy())
        stream = llm.generate(self.prompt, stream=True, **self.greedy())
        assert isinstance(stream, collections.abc.Generator)
        chunks = list(stream)
        assert all(isinstance(chunk, StreamChunk) for chunk in chunks)
        assert "".join(chunks) == str(expected)
        assert chunks[-1].finish_reason == expected.finish_reason
        assert chunks[-1].usage == expected.usage

    def test_generate_equals_the_joined_stream(self, llm: AbstractLLMInterface) -> None:
        """``generate`` (core's join of the backend's stream, or the backend's own) returns, for
        every sequence, the greedy stream's text and finish reason, and usage for all of them: the
        prompt once, or once per sequence where each was a request of its own (an API's)."""
        chunks = list(llm.generate(self.prompt, stream=True, **self.greedy()))
        n = 2 if llm.get_capabilities().get(ModelCapability.MULTIPLE_SEQUENCES) else 1
        response = llm.generate(self.prompt, num_return_sequences=n, **self.greedy())
        assert [str(choice) for choice in response.choices] == ["".join(chunks)] * n
        assert [choice.finish_reason for choice in response.choices] == [chunks[-1].finish_reason] * n
        usage = chunks[-1].usage
        if usage is not None:  # a server may send none in streams
            assert response.usage.prompt_tokens in (usage.prompt_tokens, n * usage.prompt_tokens)
            assert response.usage.completion_tokens == n * usage.completion_tokens

    async def test_async_equals_sync(self, llm: AbstractLLMInterface) -> None:
        expected = llm.generate(self.prompt, **self.greedy())
        response = await llm.generate_async(self.prompt, **self.greedy())
        assert isinstance(response, GenerateResponse)
        assert str(response) == str(expected)
        stream = await llm.generate_async(self.prompt, stream=True, **self.greedy())
        assert isinstance(stream, collections.abc.AsyncGenerator)
        assert "".join([chunk async for chunk in stream]) == str(expected)

    def test_max_tokens_is_respected(self, llm: AbstractLLMInterface) -> None:
        response = llm.generate(self.prompt, temperature=0, max_tokens=2)
        assert response.usage.completion_tokens <= 2

    # -- validation and errors --------------------------------------------------------

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("temperature", -0.5),
            ("top_p", 0),
            ("top_p", 1.5),
            ("top_k", -1),
            ("max_tokens", 0),
            ("repetition_penalty", 0),
            ("num_return_sequences", 0),
            ("seed", "x"),
            ("stop", 3),
        ],
    )
    def test_bad_parameter_values_are_rejected(self, llm: AbstractLLMInterface, name: str, value: Any) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            llm.generate(self.prompt, **{name: value})
        assert caught.value.parameter == name
        assert name in str(caught.value)

    def test_unknown_parameter_gets_a_did_you_mean(self, llm: AbstractLLMInterface) -> None:
        with pytest.raises(InvalidArgumentError, match="Did you mean 'temperature'"):
            llm.generate(self.prompt, temprature=0.5)

    def test_prompt_over_the_context_window_is_rejected(self, llm: AbstractLLMInterface) -> None:
        window = llm.get_capabilities().get(ModelCapability.MAX_TOKENS)
        if not isinstance(window, int) or llm.count_tokens("x") is None:
            pytest.skip("the backend does not know its context window or cannot count tokens")
        with pytest.raises(ContextWindowExceededError) as caught:
            llm.generate("hello " * (window + 16), max_tokens=1)
        assert caught.value.context_window == window
        assert caught.value.content_length is not None and caught.value.content_length >= window
        assert str(llm.generate(self.prompt, **self.greedy()))  # still works afterwards

    # -- capabilities -------------------------------------------------------------------

    def test_capabilities_use_the_original_keys(self, llm: AbstractLLMInterface) -> None:
        capabilities = llm.get_capabilities()
        assert all(isinstance(key, str) for key in capabilities)
        assert capabilities.get("streaming") == capabilities.get(ModelCapability.STREAMING)
        assert isinstance(capabilities.get(ModelCapability.MAX_TOKENS), (int, type(None)))

    def test_claimed_system_prompt_works(self, llm: AbstractLLMInterface) -> None:
        if not llm.get_capabilities().get(ModelCapability.SYSTEM_PROMPT):
            pytest.skip("system prompts not claimed")
        with_system = llm.generate(self.prompt, system_prompt="You are terse.", **self.greedy())
        assert with_system.usage.prompt_tokens > llm.generate(self.prompt, **self.greedy()).usage.prompt_tokens

    def test_claimed_multiple_sequences_work(self, llm: AbstractLLMInterface) -> None:
        if not llm.get_capabilities().get(ModelCapability.MULTIPLE_SEQUENCES):
            pytest.skip("multiple sequences not claimed")
        response = llm.generate(self.prompt, num_return_sequences=2, max_tokens=self.max_tokens, seed=1)
        assert len(response.choices) == 2
        assert all(isinstance(choice, str) for choice in response.choices)

    def test_claimed_stop_sequences_work(self, llm: AbstractLLMInterface) -> None:
        if not llm.get_capabilities().get(ModelCapability.STOP_SEQUENCES):
            pytest.skip("stop sequences not claimed")
        full = str(llm.generate(self.prompt, **self.greedy()))
        if len(full.strip()) < 3:
            pytest.skip("the reply is too short to pick a stop sequence from")
        start = len(full) - len(full.lstrip()) + 1
        stop = full[start : start + 2]
        cut = llm.generate(self.prompt, stop=[stop], **self.greedy())
        assert stop not in str(cut)
        assert str(cut) == full[: full.find(stop)]
        assert cut.finish_reason == "stop"
        streamed = "".join(llm.generate(self.prompt, stop=stop, stream=True, **self.greedy()))
        assert streamed == str(cut)

    def test_claimed_seed_reproduces_sampling(self, llm: AbstractLLMInterface) -> None:
        if not llm.get_capabilities().get(ModelCapability.SEED):
            pytest.skip("seeded sampling not claimed")
        first = llm.generate(self.prompt, temperature=1.0, seed=7, max_tokens=self.max_tokens)
        second = llm.generate(self.prompt, temperature=1.0, seed=7, max_tokens=self.max_tokens)
        assert str(first) == str(second)

    def test_claimed_json_mode_works(self, llm: AbstractLLMInterface) -> None:
        if not llm.get_capabilities().get(ModelCapability.JSON_MODE):
            pytest.skip("JSON mode not claimed")
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
            "required": ["answer"],
            "additionalProperties": False,
        }
        response = llm.generate(
            "Answer yes or no in JSON.",
            response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
            temperature=0,
            max_tokens=32,
        )
        assert response.parsed["answer"] in ("yes", "no")
        assert json.loads(str(response)) == response.parsed

    # -- resources ----------------------------------------------------------------------

    def test_unload_frees_and_is_final(self, request: pytest.FixtureRequest) -> None:
        model = self.new_llm(request)
        assert str(model.generate(self.prompt, **self.greedy()))
        model.unload()
        model.unload()
        with pytest.raises(UnsupportedOperationError):
            model.generate(self.prompt)

    async def test_async_with_unloads_on_exit(self, request: pytest.FixtureRequest) -> None:
        async with self.new_llm(request) as model:
            assert str(await model.generate_async(self.prompt, **self.greedy()))
        await model.aunload()  # idempotent
        with pytest.raises(UnsupportedOperationError):
            await model.generate_async(self.prompt)

    def test_errors_are_abstractllm_errors(self, llm: AbstractLLMInterface) -> None:
        with pytest.raises(AbstractLLMError):
            llm.generate([{"role": "wizard", "content": "hi"}])
