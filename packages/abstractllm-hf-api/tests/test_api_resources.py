"""Connections and file descriptors: pools of finished event loops are closed, and a stream
left open is named as the cause when it holds the connection the next call needs."""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import RequestTimeoutError

FDS = Path("/proc/self/fd")


def open_fds() -> int:
    return len(os.listdir(FDS))


@pytest.mark.skipif(not FDS.is_dir(), reason="counting file descriptors needs /proc/self/fd (Linux)")
def test_many_asyncio_runs_leave_no_pools_and_no_sockets(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai")
    gc.collect()
    baseline = open_fds()
    for _ in range(200):
        assert str(asyncio.run(llm.generate_async("hi", temperature=0, max_tokens=4)))
    for _ in range(20):
        chunks = asyncio.run(_stream(llm))
        assert chunks
    assert llm.backend.transport.pools == 0  # each loop's pool closed with its loop
    assert fake.still_open() == set()  # the server saw every connection close
    gc.collect()
    assert open_fds() <= baseline + 2
    assert str(llm.generate("hi", temperature=0, max_tokens=4))  # and the model still works
    llm.unload()


async def _stream(llm: Any) -> list[str]:
    stream = await llm.generate_async("a story", stream=True, temperature=0, max_tokens=6)
    return [str(chunk) async for chunk in stream]


def test_a_pool_of_a_loop_closed_without_shutdown_is_dropped(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai")
    loop = asyncio.new_event_loop()
    assert str(loop.run_until_complete(llm.generate_async("hi", temperature=0, max_tokens=4)))
    loop.close()  # no shutdown_asyncgens: the keeper never ran
    assert str(asyncio.run(llm.generate_async("hi", temperature=0, max_tokens=4)))
    assert llm.backend.transport.pools == 0
    llm.unload()


async def test_unload_inside_a_loop_closes_its_pool(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai")
    assert str(await llm.generate_async("hi", temperature=0, max_tokens=4))
    assert llm.backend.transport.pools == 1
    await llm.backend.aclose()
    assert llm.backend.transport.pools == 0
    assert fake.still_open() == set()


def test_an_open_stream_holding_the_only_connection_is_named(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_connections=1, timeout=1.0)
    stream = llm.generate("a story", stream=True, temperature=0, max_tokens=6)
    assert str(next(stream))
    with pytest.raises(RequestTimeoutError, match="held by streams") as caught:
        llm.generate("hi", temperature=0, max_tokens=4)
    assert "stream.close()" in str(caught.value) and "max_connections=1" in str(caught.value)
    assert "raise timeout" not in str(caught.value)
    stream.close()
    assert str(llm.generate("hi", temperature=0, max_tokens=4))  # the connection is free again


async def test_an_open_async_stream_holding_the_only_connection_is_named(fake: Any) -> None:
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_connections=1, timeout=1.0)
    stream = await llm.generate_async("a story", stream=True, temperature=0, max_tokens=6)
    assert str(await anext(stream))
    with pytest.raises(RequestTimeoutError, match="held by streams"):
        await llm.generate_async("hi", temperature=0, max_tokens=4)
    await stream.aclose()
    assert str(await llm.generate_async("hi", temperature=0, max_tokens=4))
