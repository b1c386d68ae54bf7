"""Generation on the tiny model's GGUF files: chat rules, parameters, usage, streaming, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import UnsupportedOperationError
from abstractllm.request import GenerationParams
from abstractllm_hf_gguf.decoding import sampling_arguments
from tinymodel import CHATML_TEMPLATE, EXPECTED_CHATS, EXPECTED_COMPLETIONS


def _raw(llm: AbstractLLMInterface):
    return llm.backend.model.llama


@pytest.mark.parametrize(("prompt", "expected"), EXPECTED_COMPLETIONS)
def test_raw_prompt_completes_verbatim(llm: AbstractLLMInterface, prompt: str, expected: str) -> None:
    response = llm.generate(prompt, raw=True, temperature=0, max_tokens=32)
    assert str(response) == expected
    assert response.finish_reason == "stop"


@pytest.mark.parametrize(("messages", "expected"), EXPECTED_CHATS)
def test_chat_messages_go_through_the_gguf_template(llm: AbstractLLMInterface, messages: list, expected: str) -> None:
    assert str(llm.generate(messages, temperature=0, max_tokens=40)) == expected


def test_plain_prompt_is_one_user_turn_and_system_prompt_is_used(llm: AbstractLLMInterface) -> None:
    assert str(llm.generate("Hello!", temperature=0)) == "Hello! How can I help you today?"
    assert str(llm.generate("Hello!", system_prompt="You are a pirate.", temperature=0)) == "Ahoy, matey!"
    with_system = llm.generate("Hello!", system_prompt="You are a pirate.", temperature=0)
    rendered = "<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
    assert with_system.usage.prompt_tokens == len(_raw(llm).tokenize(rendered.encode(), add_bos=False, special=True))


def test_usage_is_exact_against_raw_llama(llm: AbstractLLMInterface) -> None:
    prompt = "Numbers:"  # the tiny model runs on past 20 tokens here, so the limit is what stops it
    raw = _raw(llm).create_completion(prompt, temperature=0, max_tokens=20)
    ours = llm.generate(prompt, raw=True, temperature=0, max_tokens=20)
    assert str(ours) == raw["choices"][0]["text"]
    assert ours.usage.prompt_tokens == raw["usage"]["prompt_tokens"]
    assert ours.usage.completion_tokens == raw["usage"]["completion_tokens"] == 20
    assert ours.finish_reason == "length"
    short = llm.generate("The sky is", raw=True, temperature=0)
    # + the end-of-generation token, which every mode counts (llama-cpp-python's create_completion does not)
    assert short.usage.completion_tokens == len(_raw(llm).tokenize(b" blue.", add_bos=False)) + 1


def test_sampling_parameters_match_raw_llama_with_the_same_seed(llm: AbstractLLMInterface) -> None:
    prompt = "Numbers: 0 1 2"
    settings = {"temperature": 2.5, "top_p": 0.9, "top_k": 50, "seed": 11, "max_tokens": 24}
    ours = llm.generate(prompt, raw=True, **settings)
    raw = _raw(llm).create_completion(
        prompt, temperature=2.5, top_p=0.9, top_k=50, seed=11, max_tokens=24, min_p=0.05, repeat_penalty=1.0
    )
    assert str(ours) == raw["choices"][0]["text"]
    other_seed = {str(llm.generate(prompt, raw=True, **{**settings, "seed": seed})) for seed in range(12, 16)}
    assert len(other_seed | {str(ours)}) > 1  # the seed matters at this temperature


def test_repetition_penalty_is_llama_cpps_repeat_penalty(llm: AbstractLLMInterface) -> None:
    prompt = "Numbers:"  # a reply that repeats tokens, so a strong penalty changes it
    plain = str(llm.generate(prompt, raw=True, temperature=0, max_tokens=24))
    penalised = llm.generate(prompt, raw=True, temperature=0, max_tokens=24, repetition_penalty=10.0)
    raw = _raw(llm).create_completion(prompt, temperature=0, max_tokens=24, repeat_penalty=10.0)
    assert str(penalised) == raw["choices"][0]["text"]
    assert str(penalised) != plain


def test_do_sample_false_is_greedy_whatever_the_temperature(llm: AbstractLLMInterface) -> None:
    greedy = str(llm.generate("Numbers: 0 1 2", raw=True, temperature=0, max_tokens=16))
    for seed in range(3):
        assert str(llm.generate("Numbers: 0 1 2", raw=True, temperature=3.0, do_sample=False, seed=seed, max_tokens=16)) == greedy
    assert sampling_arguments(GenerationParams(temperature=1.0, do_sample=False))["temp"] == 0.0
    assert sampling_arguments(GenerationParams(temperature=0.8, repetition_penalty=1.3)) == {
        "repeat_penalty": 1.3,
        "temp": 0.8,
        "top_k": 40,
        "top_p": 0.95,
        "min_p": 0.05,
    }


def test_num_return_sequences_gives_n_completions_with_summed_usage(llm: AbstractLLMInterface) -> None:
    response = llm.generate("Numbers: 0 1 2", raw=True, temperature=3.0, seed=5, max_tokens=12, num_return_sequences=3)
    assert len(response.choices) == 3
    singles = [llm.generate("Numbers: 0 1 2", raw=True, temperature=3.0, seed=5 + i, max_tokens=12) for i in range(3)]
    assert [str(choice) for choice in response.choices] == [str(single) for single in singles]
    assert len({str(choice) for choice in response.choices}) > 1
    assert response.usage.prompt_tokens == singles[0].usage.prompt_tokens
    assert response.usage.completion_tokens == sum(single.usage.completion_tokens for single in singles)


def test_seed_reproduces_sampling(llm: AbstractLLMInterface) -> None:
    first = llm.generate("Numbers: 0 1 2", raw=True, temperature=3.0, seed=42, max_tokens=16)
    assert str(llm.generate("Numbers: 0 1 2", raw=True, temperature=3.0, seed=42, max_tokens=16)) == str(first)


def test_seed_given_to_create_llm_is_the_default(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), seed=42) as seeded:
        assert str(seeded.generate("Numbers: 0 1 2", raw=True, temperature=3.0, max_tokens=16)) == str(
            seeded.generate("Numbers: 0 1 2", raw=True, temperature=3.0, seed=42, max_tokens=16)
        )


def test_stop_sequences_cut_streamed_and_not(llm: AbstractLLMInterface) -> None:
    full = str(llm.generate("Water boils at", raw=True, temperature=0))
    assert full == " 100 degrees Celsius."
    cut = llm.generate("Water boils at", raw=True, temperature=0, stop=["deg", "Cel"])
    assert str(cut) == " 100 " and cut.finish_reason == "stop"
    assert "".join(llm.generate("Water boils at", raw=True, temperature=0, stop="deg", stream=True)) == " 100 "


def test_max_tokens_limits_and_reports_length(llm: AbstractLLMInterface) -> None:
    response = llm.generate("Water boils at", raw=True, temperature=0, max_tokens=2)
    assert response.usage.completion_tokens == 2 and response.finish_reason == "length"
    assert " 100 degrees Celsius.".startswith(str(response))


def test_stream_equals_generate_and_ends_with_usage(llm: AbstractLLMInterface) -> None:
    for prompt in ("What is the capital of Germany?", "Describe Alice as JSON."):
        expected = llm.generate(prompt, temperature=0)
        chunks = list(llm.generate(prompt, stream=True, temperature=0))
        assert len(chunks) > 3  # really streamed, token by token
        assert "".join(chunks) == str(expected)
        assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == expected.usage


async def test_async_stream_and_generate_equal_sync(llm: AbstractLLMInterface) -> None:
    expected = str(llm.generate("Hello!", temperature=0))
    assert str(await llm.generate_async("Hello!", temperature=0)) == expected
    stream = await llm.generate_async("Hello!", temperature=0, stream=True)
    assert "".join([chunk async for chunk in stream]) == expected


def test_q8_0_file_generates_the_trained_replies(gguf_q8: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_q8)) as quantized:
        assert quantized.get_capabilities()["quantization"] == "Q8_0"
        assert str(quantized.generate("The capital of France is", raw=True, temperature=0)) == " Paris."
        assert str(quantized.generate("Hello!", temperature=0)) == "Hello! How can I help you today?"


def test_capabilities_describe_the_file(llm: AbstractLLMInterface) -> None:
    capabilities = llm.get_capabilities()
    assert capabilities["max_tokens"] == 512 == llm.backend.context_window()
    assert capabilities["chat_template"] is True and capabilities["chat_format"] == "chat_template.default"
    assert capabilities["quantization"] == "F32"
    assert capabilities["supports_tool_use"] and capabilities["supports_json_mode"]
    assert capabilities["tool_rendering"] == "native"  # the tiny model's template renders tools


# -- concurrency ------------------------------------------------------------------------------

PROMPTS = ["What is the capital of France?", "Hello!", "Describe Alice as JSON.", "What color is the sky?"]


def test_concurrent_threads_are_serialised_and_equal_sequential(llm: AbstractLLMInterface) -> None:
    expected = {prompt: str(llm.generate(prompt, temperature=0)) for prompt in PROMPTS}
    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def work(prompt: str) -> None:
        try:
            for index in range(5):
                if index % 2:
                    results.append((prompt, "".join(llm.generate(prompt, temperature=0, stream=True))))
                else:
                    results.append((prompt, str(llm.generate(prompt, temperature=0))))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(prompt,)) for prompt in PROMPTS * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == 40
    assert all(text == expected[prompt] for prompt, text in results)


async def test_concurrent_async_tasks_equal_sequential_and_never_block_the_loop(llm: AbstractLLMInterface) -> None:
    expected = {prompt: str(llm.generate(prompt, temperature=0, max_tokens=64)) for prompt in PROMPTS}
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def streamed(prompt: str) -> str:
        stream = await llm.generate_async(prompt, temperature=0, stream=True, max_tokens=64)
        return "".join([chunk async for chunk in stream])

    async def whole(prompt: str) -> str:
        return str(await llm.generate_async(prompt, temperature=0, max_tokens=64))

    ticking = asyncio.create_task(ticker())
    jobs = [(prompt, (streamed if index % 2 else whole)(prompt)) for index, prompt in enumerate(PROMPTS * 3)]
    texts = await asyncio.gather(*(job for _, job in jobs))
    done.set()
    await ticking
    assert texts == [expected[prompt] for prompt, _ in jobs]
    assert ticks > 24  # the loop kept running while the model worked in threads


def test_open_stream_in_the_same_thread_refuses_instead_of_deadlocking(llm: AbstractLLMInterface) -> None:
    stream = llm.generate("Hello!", temperature=0, stream=True)
    first = next(stream)
    started = time.perf_counter()
    with pytest.raises(UnsupportedOperationError, match="unfinished stream"):
        llm.generate("Hello!", temperature=0)
    assert time.perf_counter() - started < 5
    assert first + "".join(stream) == "Hello! How can I help you today?"
    assert str(llm.generate("Hello!", temperature=0)) == "Hello! How can I help you today?"  # the lock was released


def test_a_closed_stream_releases_the_model(llm: AbstractLLMInterface) -> None:
    stream = llm.generate("Hello!", temperature=0, stream=True)
    next(stream)
    stream.close()
    assert str(llm.generate("Hello!", temperature=0)) == "Hello! How can I help you today?"


def test_gguf_template_is_the_projects_chatml_template(llm: AbstractLLMInterface) -> None:
    assert llm.backend.chat_format.template == CHATML_TEMPLATE
