"""Generation on the tiny model: the seed's parameters, chat, usage, stops, streaming, pipeline_kwargs."""

from __future__ import annotations

from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import ContextWindowExceededError, InvalidArgumentError
from abstractllm.request import render_plain_chat
from tinymodel import EXPECTED_CHATS, EXPECTED_COMPLETIONS

LONG_PROMPTS = ("Numbers:", "1 2 3")  # prompts the tiny model continues for 32+ tokens without stopping


def _ids(tokenizer, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize(("prompt", "continuation"), EXPECTED_COMPLETIONS)
def test_raw_completions_and_exact_usage(llm: AbstractLLMInterface, tokenizer, prompt: str, continuation: str) -> None:  # type: ignore[no-untyped-def]
    reply = llm.generate(prompt, raw=True, temperature=0, max_tokens=32)
    assert str(reply) == continuation
    assert reply.finish_reason == "stop"
    assert reply.usage.prompt_tokens == len(_ids(tokenizer, prompt))
    assert reply.usage.completion_tokens == len(_ids(tokenizer, continuation)) + 1  # + the end-of-sequence token


@pytest.mark.parametrize(("messages", "answer"), EXPECTED_CHATS)
def test_chats_go_through_the_chat_template(llm: AbstractLLMInterface, tokenizer, messages, answer: str) -> None:  # type: ignore[no-untyped-def]
    reply = llm.generate(messages, temperature=0, max_tokens=40)
    assert str(reply) == answer
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert reply.usage.prompt_tokens == len(_ids(tokenizer, rendered))
    assert reply.usage.completion_tokens == len(_ids(tokenizer, answer)) + 1


def test_system_prompt_and_plain_string_prompt(llm: AbstractLLMInterface) -> None:
    assert str(llm.generate("Hello!", system_prompt="You are a pirate.", temperature=0, max_tokens=16)) == "Ahoy, matey!"
    assert str(llm.generate("Hello!", temperature=0, max_tokens=16)) == "Hello! How can I help you today?"
    assert llm.get_capabilities()["chat_template"] is True


def test_model_without_template_uses_the_documented_fallback(plain_llm: AbstractLLMInterface, plain_dir: Path) -> None:
    from transformers import AutoTokenizer

    from abstractllm.backend.messages import normalize_messages

    assert plain_llm.get_capabilities()["chat_template"] == "fallback"
    assert str(plain_llm.generate("The capital of France is", temperature=0, max_tokens=8)) == " Paris."
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    reply = plain_llm.generate(messages, temperature=0, max_tokens=4)
    tokenizer = AutoTokenizer.from_pretrained(str(plain_dir))
    expected = render_plain_chat(normalize_messages(messages))
    assert reply.usage.prompt_tokens == len(tokenizer(expected)["input_ids"])


@pytest.mark.parametrize("prompt", [*(p for p, _ in EXPECTED_COMPLETIONS[:4]), *LONG_PROMPTS])
def test_stream_equals_generate(llm: AbstractLLMInterface, prompt: str) -> None:
    expected = llm.generate(prompt, raw=True, temperature=0, max_tokens=24)
    chunks = list(llm.generate(prompt, raw=True, temperature=0, max_tokens=24, stream=True))
    assert "".join(chunks) == str(expected)
    assert len([chunk for chunk in chunks if chunk]) > 1  # token by token, not one blob
    assert chunks[-1].usage == expected.usage and chunks[-1].finish_reason == expected.finish_reason


def test_max_tokens_and_length_finish(llm: AbstractLLMInterface) -> None:
    reply = llm.generate(LONG_PROMPTS[0], raw=True, temperature=0, max_tokens=5)
    assert reply.finish_reason == "length" and reply.usage.completion_tokens == 5
    longer = llm.generate(LONG_PROMPTS[0], raw=True, temperature=0, max_tokens=12)
    assert str(longer).startswith(str(reply)) and len(str(longer)) > len(str(reply))


def test_stop_sequences_never_leak(llm: AbstractLLMInterface) -> None:
    full = str(llm.generate(LONG_PROMPTS[0], raw=True, temperature=0, max_tokens=32))
    stop = '"description"'
    assert stop in full
    cut = llm.generate(LONG_PROMPTS[0], raw=True, temperature=0, max_tokens=32, stop=[stop, "never-there"])
    assert str(cut) == full[: full.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.usage.completion_tokens < 32  # generation really ended at the stop
    streamed = list(llm.generate(LONG_PROMPTS[0], raw=True, temperature=0, max_tokens=32, stop=stop, stream=True))
    assert "".join(streamed) == str(cut) and stop not in "".join(streamed)
    assert streamed[-1].usage == cut.usage and streamed[-1].finish_reason == "stop"


def test_greedy_spellings_agree(llm: AbstractLLMInterface) -> None:
    greedy = str(llm.generate(LONG_PROMPTS[1], raw=True, temperature=0, max_tokens=16))
    assert str(llm.generate(LONG_PROMPTS[1], raw=True, do_sample=False, temperature=1.5, max_tokens=16)) == greedy
    assert str(llm.generate(LONG_PROMPTS[1], raw=True, temperature=1.0, top_k=1, max_tokens=16, seed=1)) == greedy
    assert str(llm.generate(LONG_PROMPTS[1], raw=True, temperature=1.0, top_p=1e-6, max_tokens=16, seed=2)) == greedy


def test_seed_reproduces_sampling_and_sampling_samples(llm: AbstractLLMInterface) -> None:
    def sample(seed: int) -> str:
        return str(llm.generate("zq", raw=True, temperature=3.0, max_tokens=12, seed=seed))

    assert sample(11) == sample(11)
    assert len({sample(seed) for seed in range(5)}) > 1


def test_repetition_penalty_is_applied(llm: AbstractLLMInterface) -> None:
    plain = [str(llm.generate(p, raw=True, temperature=0, max_tokens=32)) for p in LONG_PROMPTS]
    penalised = [str(llm.generate(p, raw=True, temperature=0, max_tokens=32, repetition_penalty=5.0)) for p in LONG_PROMPTS]
    assert plain != penalised


def test_num_return_sequences(llm: AbstractLLMInterface, tokenizer) -> None:  # type: ignore[no-untyped-def]
    sampled = llm.generate("zq", raw=True, temperature=3.0, max_tokens=6, num_return_sequences=3, seed=5)
    assert len(sampled.choices) == 3
    assert len({str(choice) for choice in sampled.choices}) > 1
    assert sampled.usage.completion_tokens <= 18
    greedy = llm.generate("The sky is", raw=True, temperature=0, max_tokens=8, num_return_sequences=2)
    assert [str(choice) for choice in greedy.choices] == [" blue.", " blue."]
    assert greedy.usage.completion_tokens == 2 * (len(_ids(tokenizer, " blue.")) + 1)


def test_return_full_text(chat_dir: Path) -> None:
    llm = create_llm("huggingface", model=str(chat_dir), pipeline_kwargs={"return_full_text": True})
    try:
        reply = llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8)
        assert str(reply) == "The capital of France is Paris."
        streamed = "".join(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8, stream=True))
        assert streamed == str(reply)
    finally:
        llm.unload()
    default = create_llm("huggingface", model=str(chat_dir))
    try:
        assert str(default.generate("The capital of France is", raw=True, temperature=0, max_tokens=8)) == " Paris."
    finally:
        default.unload()


def test_clean_up_tokenization_spaces_reaches_the_tokenizer(chat_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    # transformers 5 refuses clean-up for BPE tokenizers and says so: the option got through.
    llm = create_llm("huggingface", model=str(chat_dir), pipeline_kwargs={"clean_up_tokenization_spaces": True})
    try:
        with caplog.at_level("WARNING"):
            assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
        assert "clean_up_tokenization_spaces=True" in caplog.text
    finally:
        llm.unload()


def test_truncation_keeps_the_prompt_within_the_window(chat_dir: Path, llm: AbstractLLMInterface) -> None:
    long_prompt = "hello " * 700
    with pytest.raises(ContextWindowExceededError):
        llm.generate(long_prompt, raw=True, max_tokens=4)
    truncating = create_llm("huggingface", model=str(chat_dir), pipeline_kwargs={"truncate": True})
    try:
        reply = truncating.generate(long_prompt, raw=True, temperature=0, max_tokens=4)
        window = truncating.get_capabilities()["max_tokens"]
        assert reply.usage.prompt_tokens == window - 4
        assert truncating.count_tokens(long_prompt) == max(1, window - 512)  # count_tokens assumes the default max_tokens
    finally:
        truncating.unload()


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"pipeline_kwargs": {"return_ful_text": True}}, "pipeline_kwargs['return_ful_text']"),
        ({"pipeline_kwargs": {"return_full_text": "yes"}}, "pipeline_kwargs['return_full_text']"),
        ({"pipeline_kwargs": {"truncation": 1}}, "pipeline_kwargs['truncation']"),
        ({"pipeline_kwargs": "fast"}, "pipeline_kwargs"),
    ],
)
def test_bad_pipeline_options_are_named(chat_dir: Path, kwargs: dict, parameter: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        create_llm("huggingface", model=str(chat_dir), **kwargs)
    assert caught.value.parameter == parameter
    assert parameter in str(caught.value)
