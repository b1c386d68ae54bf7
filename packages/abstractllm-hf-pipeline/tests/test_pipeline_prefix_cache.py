"""Prefix reuse: a request starting with cached token ids prefills only the rest, and its reply is exactly
the reply of a model without the cache (greedy), for sessions, tool loops, repeated system prompts and batches."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import InvalidArgumentError
from abstractllm.session import Session

SYSTEM = "You are a helpful assistant who answers briefly and truthfully. " * 12  # ~150 tokens
QUESTIONS = ["Hello!", "What is the capital of France?", "And Germany?", "Thanks", "What is the weather in Paris?"]


@pytest.fixture(scope="module")
def fresh(chat_dir: Path) -> Iterator[AbstractLLMInterface]:
    """The same weights without a prefix cache (a separate load: device='cpu' makes a different sharing key)."""
    model = create_llm("huggingface", model=str(chat_dir), device="cpu", prefix_cache_bytes=0)
    yield model
    model.unload()


def _info(llm: AbstractLLMInterface) -> dict[str, int]:
    return dict(llm.backend.cache_info())


def _conversation(llm: AbstractLLMInterface, questions: list[str]) -> list[tuple[str, Any]]:
    messages: list[dict[str, str]] = [{"role": "system", "content": SYSTEM}]
    replies = []
    for question in questions:
        messages.append({"role": "user", "content": question})
        reply = llm.generate(messages, temperature=0, max_tokens=16)
        replies.append((str(reply), reply.usage))
        messages.append({"role": "assistant", "content": str(reply)})
    return replies


def test_multi_turn_replies_equal_a_model_without_cache(
    llm: AbstractLLMInterface, fresh: AbstractLLMInterface, caplog: pytest.LogCaptureFixture
) -> None:
    before = _info(llm)
    with caplog.at_level(logging.DEBUG, logger="abstractllm_hf_pipeline.prefix_cache"):
        replies = _conversation(llm, QUESTIONS)
    assert any("prefix cache hit" in record.getMessage() for record in caplog.records)
    assert replies == _conversation(fresh, QUESTIONS)
    after = _info(llm)
    assert after["hits"] - before["hits"] >= len(QUESTIONS) - 1  # every later turn reused the earlier ones
    # each later turn reused at least the system prompt and the previous turns' prompt
    assert after["reused_tokens"] - before["reused_tokens"] > (len(QUESTIONS) - 1) * 150
    assert _info(fresh)["hits"] == 0 and _info(fresh)["entries"] == 0


def test_a_turn_extending_its_entry_whole_generates_on_it_in_place(chat_dir: Path, fresh: AbstractLLMInterface) -> None:
    """A later turn takes the entry its prompt extends and stores the longer result: the same cache object, never
    copied. A stream abandoned after the take loses the entry, never the accounting, and later turns stay exact."""
    llm = create_llm("huggingface", model=str(chat_dir), device_map="cpu")  # its own load: a cache of its own
    try:
        cache = llm.backend.loaded.prefix_cache
        messages: list[dict[str, str]] = [{"role": "system", "content": SYSTEM}]
        stored: list[int] = []
        for question in QUESTIONS[:3]:
            messages.append({"role": "user", "content": question})
            reply = str(llm.generate(messages, temperature=0, max_tokens=16))
            messages.append({"role": "assistant", "content": reply})
            assert len(cache._entries) == 1
            stored.append(id(next(iter(cache._entries.values())).cache))
        assert len(set(stored)) == 1  # turns 2 and 3 extended turn 1's cache object in place
        assert messages[-1]["content"] == str(fresh.generate(messages[:-1], temperature=0, max_tokens=16))

        messages.append({"role": "user", "content": QUESTIONS[3]})
        stream = llm.generate(messages, stream=True, temperature=0, max_tokens=16)
        next(stream)
        stream.close()  # abandoned after its entry was taken
        gc.collect()
        assert cache.bytes == sum(entry.nbytes for entry in cache._entries.values())
        assert str(llm.generate(messages, temperature=0, max_tokens=16)) == str(
            fresh.generate(messages, temperature=0, max_tokens=16)
        )
    finally:
        llm.unload()


def test_repeated_system_prompt_across_independent_calls(llm: AbstractLLMInterface, fresh: AbstractLLMInterface) -> None:
    def ask(model: AbstractLLMInterface) -> list[str]:
        return [str(model.generate(q, system_prompt=SYSTEM, temperature=0, max_tokens=12)) for q in QUESTIONS]

    before = _info(llm)
    assert ask(llm) == ask(fresh)
    assert _info(llm)["hits"] - before["hits"] >= len(QUESTIONS) - 1


def test_tool_loop_reuses_its_growing_prefix(llm: AbstractLLMInterface, fresh: AbstractLLMInterface) -> None:
    def get_weather(city: str) -> dict[str, Any]:
        """Get the weather in a city."""
        return {"temperature": 22, "sky": "sunny"}

    def loop(model: AbstractLLMInterface) -> list[Any]:
        # Two sessions asking the same: the second repeats the first's prefixes. (A second question in the same
        # session would reach a prompt where the tiny model's top two logits differ by 0.003, a tie that even the
        # uncached model breaks differently from run to run.)
        sessions = [Session(provider=model) for _ in range(2)]
        answers = [str(s.generate_with_tools("What is the weather in Paris?", tools=[get_weather])) for s in sessions]
        return [answers, [[(m.role, m.content) for m in s.messages] for s in sessions]]

    before = _info(llm)
    result = loop(llm)
    assert result == loop(fresh)
    assert result[0] == ["It is sunny and 22 degrees in Paris."] * 2
    assert _info(llm)["hits"] - before["hits"] >= 3  # the tool round and the whole second loop start with cached ids


async def test_batched_rows_each_reuse_their_own_prefix(chat_dir: Path, fresh: AbstractLLMInterface) -> None:
    llm = create_llm("huggingface", model=str(chat_dir), batch_window_ms=300)  # shares the loaded model of `llm`
    try:
        histories = [
            [{"role": "system", "content": f"{SYSTEM} Session {n}."}, {"role": "user", "content": q}]
            for n, q in enumerate(QUESTIONS[:3])
        ]
        histories += [[{"role": "user", "content": f"{n} {q}"}] for n, q in enumerate(QUESTIONS[3:])]  # share < 8 tokens
        for history in histories[:3]:  # three sessions are cached, two are new: one batch mixes hits and misses
            history.append({"role": "assistant", "content": str(llm.generate(history, temperature=0, max_tokens=8))})
            history.append({"role": "user", "content": "Tell me more."})
        batcher = llm.backend.loaded.batcher
        before, batches = _info(llm), batcher.batches_run
        replies = await asyncio.gather(*(llm.generate_async(h, temperature=0, max_tokens=16) for h in histories))
        assert batcher.batches_run == batches + 1
        after = _info(llm)
        assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (3, 2)
        expected = [fresh.generate(h, temperature=0, max_tokens=16) for h in histories]
        assert [(str(r), r.usage) for r in replies] == [(str(e), e.usage) for e in expected]
    finally:
        llm.unload()


def test_budget_is_kept_by_evicting_least_recently_used(chat_dir: Path, fresh: AbstractLLMInterface) -> None:
    # one entry of ~170 tokens takes 2 layers * 2 * 4 heads * 16 dims * 4 bytes = 1 KiB per token
    llm = create_llm("huggingface", model=str(chat_dir), device_map="cpu", prefix_cache_bytes=400_000)
    try:
        for n in range(4):
            assert _conversation(llm, QUESTIONS[:2]) == _conversation(fresh, QUESTIONS[:2])
            info = _info(llm)
            assert info["bytes"] <= info["budget_bytes"] == 400_000
        assert info["entries"] < 4
    finally:
        llm.unload()


def test_unload_frees_the_cache_and_models_never_share_one(chat_dir: Path, plain_dir: Path) -> None:
    import torch

    first = create_llm("huggingface", model=str(chat_dir), device_map="cpu")
    other = create_llm("huggingface", model=str(plain_dir), device_map="cpu")  # another tokenizer, another cache
    loaded = first.backend.loaded
    _conversation(first, QUESTIONS[:2])
    assert _info(first)["entries"] > 0 and _info(first)["bytes"] > 0
    assert _info(other) == {**_info(other), "hits": 0, "misses": 0, "entries": 0, "bytes": 0}
    held = [layer.keys for entry in loaded.prefix_cache._entries.values() for layer in entry.cache.layers]
    import weakref

    refs = [weakref.ref(tensor) for tensor in held if isinstance(tensor, torch.Tensor)]
    del held
    first.unload()
    other.unload()
    gc.collect()
    assert loaded.prefix_cache.info()["entries"] == 0 and loaded.prefix_cache.info()["bytes"] == 0
    assert refs and all(ref() is None for ref in refs)


def test_prefix_cache_can_be_turned_off_and_bad_budgets_are_named(chat_dir: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="prefix_cache_bytes"):
        create_llm("huggingface", model=str(chat_dir), prefix_cache_bytes=-1)
    with pytest.raises(InvalidArgumentError, match="prefix_cache_bytes"):
        create_llm("huggingface", model=str(chat_dir), prefix_cache_bytes="lots")
    off = create_llm("huggingface", model=str(chat_dir), device_map="cpu", prefix_cache_bytes=0)
    try:
        _conversation(off, QUESTIONS[:3])
        assert _info(off) == {**_info(off), "hits": 0, "entries": 0, "bytes": 0, "budget_bytes": 0}
    finally:
        off.unload()


async def test_a_repeated_batch_is_not_copied_into_the_cache_again(
    llm: AbstractLLMInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = llm.backend.loaded.prefix_cache
    adds, copies = [0], [0]
    real = cache.add

    def counted(ids: Any, make: Any) -> None:
        def copy() -> Any:
            copies[0] += 1
            return make()

        adds[0] += 1
        real(ids, copy)

    monkeypatch.setattr(cache, "add", counted)
    prompts = [f"Numbers: {number} {number}" for number in range(4)]  # too short for their prompts to be reused

    async def batch() -> list[str]:
        replies = await asyncio.gather(*(llm.generate_async(p, raw=True, temperature=0, max_tokens=24) for p in prompts))
        return [str(reply) for reply in replies]

    first = await batch()
    assert adds[0] == len(prompts)  # every ended row is offered to the cache once
    stored, held = copies[0], _info(llm)
    assert await batch() == first
    assert adds[0] == 2 * len(prompts)
    assert copies[0] == stored  # the second time every row was held already: nothing copied
    assert {key: _info(llm)[key] for key in ("entries", "bytes")} == {key: held[key] for key in ("entries", "bytes")}
