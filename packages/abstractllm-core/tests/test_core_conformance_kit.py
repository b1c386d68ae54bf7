"""The conformance kit catches what it promises to: each check fails for a backend that breaks its
rule (the example n-gram backend, changed in one way), and the unchanged backend passes them all
(tests/plugins/abstractllm-ngram/conformance_check.py, run by test_core_generate.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import abstractllm_ngram
from abstractllm import create_llm
from abstractllm._private.plugins import get_plugins
from abstractllm.backend import BackendInfo
from abstractllm.hookspecs import hookimpl
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta, Usage

CHECK = Path(__file__).resolve().parents[3] / "tests" / "plugins" / "abstractllm-ngram" / "conformance_check.py"


def _kit() -> Any:
    """The example plugin's kit class (its prompt and its ``break_runtime``), to call checks on other models."""
    spec = importlib.util.spec_from_file_location("ngram_conformance_check_for_kit_tests", CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TestNgramThroughEntryPoint()


class BlocksTheLoop(abstractllm_ngram.NgramBackend):
    """Async calls that compute in the event loop's thread without ever awaiting."""

    async def generate_async(self, request: GenerationRequest) -> Completion:
        return self.generate(request)

    async def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:  # type: ignore[override]
        for delta in self.stream(request):
            yield delta


def _changing_usage(prompt: int, completion: int) -> type[abstractllm_ngram.NgramBackend]:
    class MiscountsUsage(abstractllm_ngram.NgramBackend):
        def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
            for delta in super().stream(request):
                if delta.usage is not None:
                    delta.usage = Usage(delta.usage.prompt_tokens + prompt, delta.usage.completion_tokens + completion)
                yield delta

    return MiscountsUsage


class RepliesOtherThanItStreams(abstractllm_ngram.NgramBackend):
    def generate(self, request: GenerationRequest) -> Completion:
        completion = super().generate(request)
        for choice in completion.choices:
            choice.text += " indeed"
        return completion


class IgnoresStopSequences(abstractllm_ngram.NgramBackend):
    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        params = dataclasses.replace(request.params, stop=())
        return super().stream(dataclasses.replace(request, params=params))


class LosesTheRuntimeError(abstractllm_ngram.NgramBackend):
    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        try:
            yield from super().stream(request)
        except MemoryError:
            raise RuntimeError("generation failed") from None


class ClaimsAWindowItNeverChecks(abstractllm_ngram.NgramBackend):
    """Claims a context window but tells core no prompt length, so nothing refuses a longer prompt."""

    def encode(self, request: GenerationRequest) -> None:  # type: ignore[override]
        return None

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        return abstractllm_ngram.NgramBackend().stream(request)


def _claiming(**claims: object) -> type[abstractllm_ngram.NgramBackend]:
    class Claims(abstractllm_ngram.NgramBackend):
        def capabilities(self) -> dict[str, object]:
            return {**super().capabilities(), **claims}

    return Claims


BROKEN: dict[str, Callable[[], abstractllm_ngram.NgramBackend]] = {
    "blocking": BlocksTheLoop,
    "prompt-usage": _changing_usage(1, 0),
    "completion-usage": _changing_usage(0, 1),
    "reply-differs": RepliesOtherThanItStreams,
    "ignores-stops": IgnoresStopSequences,
    "loses-errors": LosesTheRuntimeError,
    "claims-vision": _claiming(supports_vision=True),
    "claims-json": _claiming(supports_json_mode=True),
    "claims-tools": _claiming(supports_tool_use=True),
    "unchecked-window": ClaimsAWindowItNeverChecks,
}


def _load(info: BackendInfo, config: object) -> abstractllm_ngram.NgramBackend:
    return BROKEN[info.provider.removeprefix("broken-")]()


class BrokenBackends:
    @hookimpl
    def abstractllm_backends(self) -> list[BackendInfo]:
        return [
            BackendInfo(f"broken-{name}", "m", f"the n-gram model, {name}", "pip install nothing", load=_load) for name in BROKEN
        ]


@pytest.fixture(scope="module")
def broken() -> Iterator[Callable[[str], Any]]:
    plugins = get_plugins()
    plugins.register(BrokenBackends(), "broken-backends")
    models: list[Any] = []

    def load(name: str) -> Any:
        models.append(create_llm(f"broken-{name}"))
        return models[-1]

    yield load
    for model in models:
        model.unload()
    plugins.unregister("broken-backends")


def fails(check: Callable[..., None], *args: Any) -> str:
    """The failure ``check`` reports (a skip is no failure)."""
    try:
        check(*args)
    except pytest.skip.Exception as skipped:
        pytest.fail(f"the check was skipped instead of failing: {skipped}")
    except (Exception, pytest.fail.Exception) as exc:  # an assertion, an unexpected error, or pytest.raises' "DID NOT RAISE"
        return str(exc)
    pytest.fail("the check passed")


@pytest.mark.parametrize("stream", [False, True])
def test_a_backend_that_blocks_the_event_loop_fails(broken: Callable[[str], Any], stream: bool) -> None:
    message = fails(_kit().test_async_calls_never_block_the_event_loop, broken("blocking"), stream)
    assert "without awaiting: it blocked the event loop" in message


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("prompt-usage", "test_prompt_tokens_are_what_the_backends_tokenizer_counts"),
        ("completion-usage", "test_completion_tokens_count_every_generated_token"),
        ("reply-differs", "test_generate_equals_the_joined_stream"),
        ("reply-differs", "test_async_equals_sync"),
        ("ignores-stops", "test_claimed_stop_sequences_work"),
        ("claims-vision", "test_every_claimed_capability_is_checked"),
        ("claims-json", "test_claimed_json_mode_works"),
        ("unchecked-window", "test_prompt_over_the_context_window_is_rejected"),
    ],
)
def test_a_backend_that_breaks_a_rule_fails_its_check(broken: Callable[[str], Any], mode: str, check: str) -> None:
    assert fails(getattr(_kit(), check), broken(mode))  # pytest rewrites the kit's asserts: each failure says what differed


@pytest.mark.parametrize("tool_choice", ["get_weather", "required"])
def test_a_false_tool_claim_fails(broken: Callable[[str], Any], tool_choice: str) -> None:
    fails(_kit().test_claimed_tool_use_forces_a_valid_call, broken("claims-tools"), tool_choice)


def test_a_backend_that_loses_its_runtimes_error_fails(broken: Callable[[str], Any]) -> None:
    message = fails(_kit().test_runtime_errors_reach_the_caller_as_abstractllm_errors, broken("loses-errors"))
    assert "generation failed" in message  # the error core could only map as an unknown failure


def test_the_loop_watch_measures_gaps_including_the_ends() -> None:
    from abstractllm.testing.runtime_checks import LoopWatch

    watch = LoopWatch(started=1.0, ended=2.0, ticks=(0.5, 1.1, 1.2, 1.9, 2.5), suspended=True)
    assert watch.longest_gap == pytest.approx(0.7)
    assert LoopWatch(started=1.0, ended=1.3, ticks=(0.9, 1.4), suspended=True).longest_gap == pytest.approx(0.3)


def test_the_loop_watch_tells_a_call_that_suspends_from_one_that_never_does() -> None:
    import asyncio
    import time

    from abstractllm.testing.runtime_checks import watch_loop

    async def in_a_thread() -> str:
        return await asyncio.to_thread(lambda: "done")  # done at once, but awaited

    async def in_the_loop() -> str:
        time.sleep(0.3)  # blocks the loop
        return "done"

    _, free = asyncio.run(watch_loop(in_a_thread))
    assert free.suspended
    _, held = asyncio.run(watch_loop(in_the_loop))
    assert not held.suspended and held.longest_gap >= 0.3
