"""The same model text gives the same reply in every mode, streamed or not.

Each case scripts what the model writes, as token ids of the project's tiny model (the
transformers folder and the GGUF share one vocabulary). The local modes run their real
decoding path with the model forced to write exactly those ids (a logits processor given to
the runtime's own ``generate``: every other token is masked, then the end-of-sequence token
comes); the API mode gets the same ids' text, one token per stream event, from the in-repo
HTTP server, as a server that leaves stop sequences and tool-call blocks in its text would
send them. Every mode must return the case's text, tool calls, finish reason and usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import fake_server_module

pytestmark = pytest.mark.slow

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
PARIS = ("get_weather", {"city": "Paris"}, False)
PROMPT = "What is the weather in Paris?"


@dataclass(frozen=True)
class Case:
    """What the model writes (``script``, then the end of its sequence unless ``max_tokens`` cuts it
    first) and the reply every mode must return (``calls``: name, arguments, whether ``error`` is set)."""

    name: str
    script: str
    text: str
    finish_reason: str
    calls: tuple[tuple[str, dict[str, Any], bool], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    tools: bool = False
    n: int = 1


CASES = [
    Case("plain", "The sky is blue.", "The sky is blue.", "stop"),
    Case("stop-straddles-tokens", "one two THE END three", "one two ", "stop", options={"stop": ["THE END"]}),
    Case(
        "blocks-before-between-after-text",
        f"{CALL}Let me check.{CALL} Then I will answer.{CALL}",
        "Let me check. Then I will answer.",
        "tool_calls",
        (PARIS, PARIS, PARIS),
        options={"max_tokens": 128},
        tools=True,
    ),
    Case("call-cut-by-max-tokens", f"Sure. {CALL}", "Sure. ", "length", options={"max_tokens": 12}, tools=True),
    Case(
        "malformed-blocks",
        'A<tool_call>{"name": "get_weather", oops}</tool_call>B<tool_call>{"name": "get_weather", "arg',
        "AB",
        "tool_calls",
        (("get_weather", {}, True), ("get_weather", {}, True)),
        tools=True,
    ),
    Case("tool-markup-without-tools-is-text", f"Hi {CALL}", f"Hi {CALL}", "stop"),
    Case("two-sequences", "The sky is blue.", "The sky is blue.", "stop", options={"temperature": 1.0, "seed": 7}, n=2),
]


@dataclass
class Reply:
    """What a mode returned for one case, in comparable form."""

    texts: list[str]
    finish_reason: str | None
    calls: list[tuple[str, dict[str, Any], bool]]
    prompt_tokens: int
    completion_tokens: int


def _reply(response: Any) -> Reply:
    return Reply(
        [str(choice) for choice in response.choices],
        response.finish_reason,
        [(call.name, call.arguments, call.error is not None) for call in response.tool_calls],
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
    )


def _streamed(chunks: Iterator[Any]) -> Reply:
    pieces = list(chunks)
    last = pieces[-1]
    return Reply(
        ["".join(pieces)],
        last.finish_reason,
        [(call.name, call.arguments, call.error is not None) for call in last.tool_calls],
        last.usage.prompt_tokens,
        last.usage.completion_tokens,
    )


# -- forcing the local models -------------------------------------------------------------


class Script:
    """The ids the model is made to write: ``ids`` then ``eos``, counted from ``width`` (the prompt's length)."""

    def __init__(self, ids: list[int], eos: int) -> None:
        self.ids = ids
        self.eos = eos

    def target(self, length: int, width: int) -> int:
        step = length - width
        return self.ids[step] if step < len(self.ids) else self.eos


def _force_pipeline(model: Any, script: Script) -> Callable[[], None]:
    """Make ``model.generate`` (the pipeline engine's call) write ``script``; returns the undo."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class Force(LogitsProcessor):
        def __init__(self, width: int) -> None:
            self.width = width

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            forced = torch.full_like(scores, -float("inf"))
            forced[:, script.target(input_ids.shape[1], self.width)] = 0.0
            return forced  # type: ignore[return-value]

    original = model.generate

    def generate(**kwargs: Any) -> Any:
        return original(**kwargs, logits_processor=LogitsProcessorList([Force(kwargs["input_ids"].shape[1])]))

    model.generate = generate
    return lambda: delattr(model, "generate")


def _force_gguf(llama: Any, script: Script) -> Callable[[], None]:
    """Make ``llama.generate`` (the gguf run's call) write ``script``; returns the undo."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    original = llama.generate

    def generate(tokens: list[int], **kwargs: Any) -> Any:
        width = len(tokens)

        def force(input_ids: Any, scores: Any) -> Any:
            forced = np.full_like(scores, -np.inf)
            forced[script.target(len(input_ids), width)] = 0.0
            return forced

        return original(tokens, logits_processor=LogitsProcessorList([force]), **kwargs)

    llama.generate = generate
    return lambda: delattr(llama, "generate")


# -- the modes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(tiny_models: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_models.pipeline_dir)


@pytest.fixture(scope="module")
def pipeline_llm(tiny_models: Any) -> Iterator[Any]:
    from abstractllm import create_llm

    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu", prefix_cache_bytes=0) as llm:
        yield llm


@pytest.fixture(scope="module")
def gguf_llm(tiny_models: Any) -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    from abstractllm import create_llm

    with create_llm("huggingface", model_path=str(tiny_models.gguf_f32), prefix_cache_bytes=0) as llm:
        yield llm


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    fake = fake_server_module().FakeServer().start()  # type: ignore[attr-defined]
    yield fake
    fake.stop()


def _call(case: Case) -> dict[str, Any]:
    arguments: dict[str, Any] = {"temperature": 0, "max_tokens": 64, "num_return_sequences": case.n, **case.options}
    if case.tools:
        arguments["tools"] = [WEATHER]
    return arguments


def _script(case: Case, tokenizer: Any) -> Script:
    ids = tokenizer.encode(case.script, add_special_tokens=False)
    assert tokenizer.decode(ids) == case.script
    return Script(ids, tokenizer.eos_token_id)


def _tokens_until_the_end(case: Case, script: Script, tokenizer: Any) -> int:
    """The tokens one sequence generates: up to and including the one completing a stop sequence, or
    the last one ``max_tokens`` allows, or the end-of-sequence token after the script."""
    call = _call(case)
    for count in range(1, len(script.ids) + 1):
        if any(stop in tokenizer.decode(script.ids[:count]) for stop in call.get("stop", [])):
            return count
    return min(call["max_tokens"], len(script.ids) + 1)


def run_local(llm: Any, force: Callable[[Script], Callable[[], None]], case: Case, script: Script) -> list[Reply]:
    undo = force(script)
    try:
        replies = [_reply(llm.generate(PROMPT, **_call(case)))]
        if case.n == 1:
            replies.append(_streamed(llm.generate(PROMPT, stream=True, **_call(case))))
    finally:
        undo()
    return replies


def run_api(server: Any, case: Case, script: Script, tokenizer: Any, usage: tuple[int, int]) -> list[Reply]:
    """The API mode against a server whose model wrote ``script`` (its usage: ``usage``)."""
    from abstractllm import create_llm

    call = _call(case)
    ids = script.ids[: call["max_tokens"]]
    reason = "length" if len(ids) < len(script.ids) else "stop"
    pieces = [tokenizer.decode(ids[: i + 1])[len(tokenizer.decode(ids[:i])) :] for i in range(len(ids))]
    wire_usage = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    choices = [
        {"index": i, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": reason} for i in range(case.n)
    ]
    events = [json.dumps({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}) for piece in pieces]
    events += [
        json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}),
        json.dumps({"choices": [], "usage": wire_usage}),
        "[DONE]",
    ]
    llm = create_llm("huggingface", inference_api_url=server.url, protocol="openai")
    try:
        server.script({"reply": {"body": json.dumps({"choices": choices, "usage": wire_usage, "model": "fake/model"})}})
        replies = [_reply(llm.generate(PROMPT, **call))]
        if case.n == 1:
            server.script({"reply": {"events": events}})
            replies.append(_streamed(llm.generate(PROMPT, stream=True, **call)))
    finally:
        llm.unload()
    return replies


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_mode_returns_the_same_reply(case: Case, tokenizer: Any, pipeline_llm: Any, gguf_llm: Any, server: Any) -> None:
    script = _script(case, tokenizer)
    pipeline = run_local(pipeline_llm, lambda s: _force_pipeline(pipeline_llm.backend.loaded.model, s), case, script)
    gguf = run_local(gguf_llm, lambda s: _force_gguf(gguf_llm.backend.model.llama, s), case, script)
    reference = pipeline[0]
    api = run_api(server, case, script, tokenizer, (reference.prompt_tokens, reference.completion_tokens))
    assert reference.completion_tokens == case.n * _tokens_until_the_end(case, script, tokenizer)
    expected_calls = [(name, arguments, error) for name, arguments, error in case.calls]
    for mode, replies in (("pipeline", pipeline), ("gguf", gguf), ("api", api)):
        for how, reply in zip(("generate", "stream"), replies, strict=False):
            where = f"{mode} {how}"
            assert reply.texts == [case.text] * case.n, where
            assert (reply.finish_reason, reply.calls) == (case.finish_reason, expected_calls), where
            assert (reply.prompt_tokens, reply.completion_tokens) == (
                reference.prompt_tokens,
                reference.completion_tokens,
            ), where
