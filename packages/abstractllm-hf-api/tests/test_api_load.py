"""256 concurrent ``generate_async`` calls on one model: all complete, none lost or mixed up."""

from __future__ import annotations

import asyncio
from typing import Any

from abstractllm import create_llm


async def test_256_concurrent_generate_async(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    prompts = [f"request number {index}" for index in range(256)]
    replies = await asyncio.gather(*(llm.generate_async(prompt, temperature=0, max_tokens=20) for prompt in prompts))
    assert len(replies) == 256
    # each reply is the one its own prompt deterministically gets (nothing swapped or dropped)
    expected = ["".join(fake_reply_tokens(f"user: {prompt}")) for prompt in prompts]
    assert [str(reply) for reply in replies] == expected
    assert len(fake.posts()) == 256
    assert llm.backend.transport.pools == 1  # one pool served them all ...
    assert 1 <= fake.peak_open <= 64  # ... over at most max_connections connections at once
    await llm.aunload()
    assert fake.still_open() == set()


def fake_reply_tokens(prompt: str) -> list[str]:
    import sys

    return sys.modules["hf_api_fake_server"].reply_tokens(prompt, greedy=True, seed=None)
