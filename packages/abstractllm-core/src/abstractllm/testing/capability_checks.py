"""Conformance checks of the capabilities a backend claims: each claimed one is exercised, and a
claim the kit has no check for fails (an unclaimed capability's check is skipped, with the reason)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from abstractllm import AbstractLLMInterface
from abstractllm.enums import ModelCapability
from abstractllm.errors import ContextWindowExceededError
from abstractllm.testing.base import ConformanceBase

__all__ = ["CHECKED_CLAIMS", "DESCRIPTIVE_KEYS", "CapabilityChecks"]

C = ModelCapability

#: Each capability a backend may claim (a true value), with the checks that exercise the claim.
CHECKED_CLAIMS: dict[ModelCapability, str] = {
    C.STREAMING: "test_stream_chunks_join_to_the_greedy_reply",
    C.ASYNC: "test_async_equals_sync, test_async_calls_never_block_the_event_loop",
    C.MAX_TOKENS: "test_prompt_over_the_context_window_is_rejected",
    C.SYSTEM_PROMPT: "test_claimed_system_prompt_works",
    C.MULTI_TURN: "test_claimed_multi_turn_works",
    C.STOP_SEQUENCES: "test_claimed_stop_sequences_work",
    C.SEED: "test_claimed_seed_reproduces_sampling",
    C.MULTIPLE_SEQUENCES: "test_claimed_multiple_sequences_work",
    C.JSON_MODE: "test_claimed_json_mode_works",
    C.STRUCTURED_OUTPUT: "test_claimed_json_mode_works",
    C.TOOL_USE: "test_claimed_tool_use_*",
    C.FUNCTION_CALLING: "test_claimed_tool_use_*",
    C.PARALLEL_INFERENCE: "test_claimed_parallel_calls_work",
    C.DYNAMIC_BATCHING: "test_claimed_parallel_calls_work",
}

#: Keys that describe the model rather than claim a feature, with the values they may take.
DESCRIPTIVE_KEYS: dict[ModelCapability, tuple[Any, ...]] = {
    C.TOOL_RENDERING: ("native", "prompted", None),
    C.CHAT_TEMPLATE: (True, False, "fallback", None),
}


class CapabilityChecks(ConformanceBase):
    """Every claimed capability works; nothing is claimed that the kit cannot check."""

    def test_capabilities_use_the_original_keys(self, llm: AbstractLLMInterface) -> None:
        capabilities = llm.get_capabilities()
        assert all(isinstance(key, str) for key in capabilities)
        assert capabilities.get("streaming") == capabilities.get(C.STREAMING) is True  # stream is the method every backend writes
        assert isinstance(capabilities.get(C.MAX_TOKENS), (int, type(None)))

    def test_every_claimed_capability_is_checked(self, llm: AbstractLLMInterface) -> None:
        capabilities = llm.get_capabilities()
        for key in C:
            value = capabilities.get(key)
            if key in DESCRIPTIVE_KEYS:
                assert value in DESCRIPTIVE_KEYS[key], f"{key.value}={value!r}: expected one of {DESCRIPTIVE_KEYS[key]}"
            elif key in (C.QUANTIZATION, C.CHAT_FORMAT, C.TOOL_FORMAT):
                assert isinstance(value, (str, type(None))), f"{key.value}={value!r}: a name or None"
            elif key is not C.MAX_TOKENS:
                assert isinstance(value, (bool, type(None))), f"{key.value}={value!r}: a claim is True or False"
                assert not value or key in CHECKED_CLAIMS, f"{key.value} is claimed, but nothing in core can use it to check it"

    def test_prompt_over_the_context_window_is_rejected(self, llm: AbstractLLMInterface) -> None:
        window = llm.get_capabilities().get(C.MAX_TOKENS)
        if not isinstance(window, int):
            pytest.skip("max_tokens (the context window) is not claimed")
        with pytest.raises(ContextWindowExceededError) as caught:
            llm.generate("hello " * (window + 16), max_tokens=1)
        if llm.count_tokens("x") is not None:  # core checked it with the backend's count
            assert caught.value.context_window == window
            assert caught.value.content_length is not None and caught.value.content_length >= window
        assert str(llm.generate(self.prompt, **self.greedy()))  # still works afterwards

    def test_claimed_system_prompt_works(self, llm: AbstractLLMInterface) -> None:
        self.require(llm, C.SYSTEM_PROMPT)
        with_system = llm.generate(self.prompt, system_prompt="You are terse.", **self.greedy())
        assert with_system.usage.prompt_tokens > llm.generate(self.prompt, **self.greedy()).usage.prompt_tokens

    def test_claimed_multi_turn_works(self, llm: AbstractLLMInterface) -> None:
        """The earlier turns reach the model: more prompt tokens than the last turn alone."""
        self.require(llm, C.MULTI_TURN)
        reply = llm.generate(self.conversation(), **self.greedy())
        assert reply.finish_reason in ("stop", "length")
        assert reply.usage.prompt_tokens > llm.generate(self.prompt, **self.greedy()).usage.prompt_tokens

    def test_claimed_multiple_sequences_work(self, llm: AbstractLLMInterface) -> None:
        self.require(llm, C.MULTIPLE_SEQUENCES)
        response = llm.generate(self.prompt, num_return_sequences=2, max_tokens=self.max_tokens, seed=1)
        assert len(response.choices) == 2
        assert all(isinstance(choice, str) and choice.finish_reason in ("stop", "length") for choice in response.choices)
        assert 2 <= response.usage.completion_tokens <= 2 * self.max_tokens

    def test_claimed_stop_sequences_work(self, llm: AbstractLLMInterface) -> None:
        self.require(llm, C.STOP_SEQUENCES)
        full = str(llm.generate(self.prompt, **self.greedy()))
        if len(full.strip()) < 3:
            pytest.fail(f"the greedy reply {full!r} is too short to pick a stop sequence from: choose another prompt")
        start = len(full) - len(full.lstrip()) + 1
        stop = full[start : start + 2]
        cut = llm.generate(self.prompt, stop=[stop], **self.greedy())
        assert stop not in str(cut)
        assert str(cut) == full[: full.find(stop)]
        assert cut.finish_reason == "stop"
        streamed = "".join(llm.generate(self.prompt, stop=stop, stream=True, **self.greedy()))
        assert streamed == str(cut)

    def test_claimed_seed_reproduces_sampling(self, llm: AbstractLLMInterface) -> None:
        """The same seed gives the same sampled reply, streamed or not."""
        self.require(llm, C.SEED)
        sampled: dict[str, Any] = {"temperature": 1.0, "seed": 7, "max_tokens": self.max_tokens}
        first = llm.generate(self.prompt, **sampled)
        assert str(llm.generate(self.prompt, **sampled)) == str(first)
        assert "".join(llm.generate(self.prompt, stream=True, **sampled)) == str(first), "the seeded stream differs"

    def test_claimed_json_mode_works(self, llm: AbstractLLMInterface) -> None:
        """A schema's reply is valid JSON for it, streamed or not; a JSON-object reply is one
        (or, cut by ``max_tokens``, starts as one)."""
        capabilities = llm.get_capabilities()
        if not (capabilities.get(C.JSON_MODE) or capabilities.get(C.STRUCTURED_OUTPUT)):
            pytest.skip("supports_json_mode and supports_structured_output are not claimed")
        schema = {
            "type": "object",
            "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
            "required": ["answer"],
            "additionalProperties": False,
        }
        fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
        response = llm.generate("Answer yes or no in JSON.", response_format=fmt, temperature=0, max_tokens=32)
        assert response.parsed["answer"] in ("yes", "no")
        assert json.loads(str(response)) == response.parsed
        streamed = "".join(
            llm.generate("Answer yes or no in JSON.", response_format=fmt, temperature=0, max_tokens=32, stream=True)
        )
        assert streamed == str(response)
        reply = llm.generate("Reply in JSON.", response_format={"type": "json_object"}, temperature=0, max_tokens=32)
        assert str(reply).lstrip().startswith("{"), str(reply)
        if reply.finish_reason != "length":
            assert isinstance(json.loads(str(reply)), dict)

    def test_claimed_parallel_calls_work(self, llm: AbstractLLMInterface) -> None:
        """Calls from four threads at once, and four awaited together, each get the greedy reply."""
        capabilities = llm.get_capabilities()
        if not (capabilities.get(C.PARALLEL_INFERENCE) or capabilities.get(C.DYNAMIC_BATCHING)):
            pytest.skip("supports_parallel_inference and supports_dynamic_batching are not claimed")
        expected = str(llm.generate(self.prompt, **self.greedy()))
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(lambda _: str(llm.generate(self.prompt, **self.greedy())), range(4)))
        assert threaded == [expected] * 4

        async def together() -> list[str]:
            replies = await asyncio.gather(*(llm.generate_async(self.prompt, **self.greedy()) for _ in range(4)))
            return [str(reply) for reply in replies]

        assert asyncio.run(together()) == [expected] * 4
