"""Conformance checks of plain generation: replies, streams equal to replies, and exact usage."""

from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from abstractllm import AbstractLLMInterface
from abstractllm.enums import ModelCapability
from abstractllm.response import GenerateResponse, StreamChunk
from abstractllm.testing.base import ConformanceBase

__all__ = ["GenerationChecks"]


class GenerationChecks(ConformanceBase):
    """Replies and their metadata; the stream joins to the reply, sync and async alike; usage is exact."""

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

    def test_async_equals_sync(self, llm: AbstractLLMInterface) -> None:
        expected = llm.generate(self.prompt, **self.greedy())

        async def both() -> tuple[GenerateResponse, list[StreamChunk]]:
            response = await llm.generate_async(self.prompt, **self.greedy())
            stream = await llm.generate_async(self.prompt, stream=True, **self.greedy())
            assert isinstance(stream, collections.abc.AsyncGenerator)
            return response, [chunk async for chunk in stream]

        response, chunks = asyncio.run(both())
        assert isinstance(response, GenerateResponse)
        assert str(response) == str(expected) and response.finish_reason == expected.finish_reason
        assert "".join(chunks) == str(expected) and chunks[-1].finish_reason == expected.finish_reason

    # -- exact usage --------------------------------------------------------------------

    def test_prompt_tokens_are_what_the_backends_tokenizer_counts(self, llm: AbstractLLMInterface) -> None:
        """``usage.prompt_tokens`` of a reply and of a stream equal ``count_tokens`` of the same
        input (the backend's own tokenizer, chat template included), for a string, a message
        list, a system prompt and several turns where claimed."""
        capabilities = llm.get_capabilities()
        inputs: list[tuple[str | Sequence[Mapping[str, Any]], str | None]] = [
            (self.prompt, None),
            ([{"role": "user", "content": self.prompt}], None),
        ]
        if capabilities.get(ModelCapability.SYSTEM_PROMPT):
            inputs.append((self.prompt, "You are terse."))
        if capabilities.get(ModelCapability.MULTI_TURN):
            inputs.append((self.conversation(), None))
        for prompt, system_prompt in inputs:
            counted = llm.count_tokens(prompt, system_prompt=system_prompt)
            if counted is None:
                pytest.skip("the backend cannot count tokens (count_tokens returns None)")
            reply = llm.generate(prompt, system_prompt=system_prompt, **self.greedy())
            assert reply.usage.prompt_tokens == counted, (prompt, system_prompt)
            last = list(llm.generate(prompt, system_prompt=system_prompt, stream=True, **self.greedy()))[-1]
            assert last.usage is None or last.usage.prompt_tokens == counted, (prompt, system_prompt)

    def test_completion_tokens_count_every_generated_token(self, llm: AbstractLLMInterface) -> None:
        """A reply cut by ``max_tokens=k`` has exactly ``k`` completion tokens and is the start of
        the longer greedy reply, for every ``k`` below the reply's own count ``c``; ``max_tokens=c``
        gives the whole reply again. (Whether the token that ends a sequence counts is the
        backend's choice: a server may leave it out.)"""
        full = llm.generate(self.prompt, **self.greedy())
        tokens = full.usage.completion_tokens
        assert 0 < tokens <= self.max_tokens
        if full.finish_reason == "length":
            assert tokens == self.max_tokens
        for k in range(1, tokens):
            cut = llm.generate(self.prompt, temperature=0, max_tokens=k)
            assert (cut.finish_reason, cut.usage.completion_tokens) == ("length", k), f"max_tokens={k}"
            start = str(cut).removesuffix("\ufffd")  # a character cut in the middle of its bytes
            assert str(full).startswith(start), f"max_tokens={k}: {str(cut)!r} does not start {str(full)!r}"
        again = llm.generate(self.prompt, temperature=0, max_tokens=tokens)
        assert str(again) == str(full) and again.usage.completion_tokens == tokens
