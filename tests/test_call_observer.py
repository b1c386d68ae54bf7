"""``abstractllm_call_finished`` sees failed calls on every path, once each, with the error the
caller got; an observer that raises never breaks the call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm.errors import ProviderAPIError
from abstractllm.hookspecs import hookimpl


class Observer:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[Any] = []
        self.fail = fail

    @hookimpl
    def abstractllm_call_finished(self, call: Any) -> None:
        self.calls.append(call)
        if self.fail:
            raise RuntimeError("a broken observer")


@pytest.fixture
def observer() -> Iterator[Observer]:
    plugins = get_plugins()
    watching = Observer()
    plugins.register(watching, "test-observer")
    try:
        yield watching
    finally:
        plugins.unregister("test-observer")


def test_failed_calls_are_observed_with_the_callers_error(router: Any, observer: Observer) -> None:
    llm = create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0)
    caught: list[BaseException] = []
    router.script({"status": 500, "message": "kaboom"})
    with pytest.raises(ProviderAPIError) as sync_error:
        llm.generate("Hi")
    caught.append(sync_error.value)
    router.script({"error_after": 2})
    with pytest.raises(ProviderAPIError) as stream_error:
        list(llm.generate("Hi", stream=True))
    caught.append(stream_error.value)

    async def failing() -> None:
        router.script({"status": 500, "message": "kaboom"})
        await llm.generate_async("Hi")

    with pytest.raises(ProviderAPIError) as async_error:
        asyncio.run(failing())
    caught.append(async_error.value)
    router.reset()
    assert [(call.kind, call.outcome) for call in observer.calls] == [
        ("generate", "failed"),
        ("stream", "failed"),
        ("generate_async", "failed"),
    ]
    assert [call.error for call in observer.calls] == caught
    assert all(call.completion is None and call.timing.total > 0 for call in observer.calls)
    assert observer.calls[1].timing.first_token is not None  # two chunks arrived before the error
    assert str(llm.generate("Hi"))  # and the model still works
    llm.unload()


def test_an_observer_that_raises_does_not_break_the_call(router: Any) -> None:
    plugins = get_plugins()
    broken = Observer(fail=True)
    plugins.register(broken, "broken-observer")
    try:
        with create_llm("huggingface", inference_api_url=router.url, protocol="openai", max_retries=0) as llm:
            assert str(llm.generate("Hi"))
            assert "".join(llm.generate("Hi", stream=True))
        assert [call.outcome for call in broken.calls] == ["completed", "completed"]
    finally:
        plugins.unregister("broken-observer")
