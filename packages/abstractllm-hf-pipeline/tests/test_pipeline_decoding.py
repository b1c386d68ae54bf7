"""Reply text of rows decoded token by token (streams, stop sequences) and of rows decoded at their end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm_hf_pipeline import decoding
from abstractllm_hf_pipeline.decoding import IncrementalDecoder, _decoder
from tinymodel import EXPECTED_COMPLETIONS

PROMPTS = [prompt for prompt, _ in EXPECTED_COMPLETIONS] + ["Numbers:", "1 2 3", "zq", "France ,", "Café, naïve: é"]


# not True: this BPE tokenizer refuses clean-up with a warning given once per process, which
# test_clean_up_tokenization_spaces_reaches_the_tokenizer looks for
@pytest.mark.parametrize("clean_up", [None, False])
@pytest.mark.parametrize("skip", [True, False])
def test_direct_decode_equals_tokenizer_decode(tokenizer: Any, skip: bool, clean_up: bool | None) -> None:
    ids = tokenizer("Café, naïve: é 🙂 <|im_end|> Numbers: 1 2 3 .", add_special_tokens=True)["input_ids"]
    ids = [*ids, *tokenizer.all_special_ids]
    kwargs: dict[str, Any] = {"skip_special_tokens": skip}
    if clean_up is not None:
        kwargs["clean_up_tokenization_spaces"] = clean_up
    decode = _decoder(tokenizer)
    assert decode != tokenizer.decode  # the tiny model's tokenizer keeps transformers' decode: the direct path is taken
    windows = [ids[start:end] for start in range(len(ids)) for end in range(start, min(len(ids), start + 4) + 1)]
    assert [decode(window, **kwargs) for window in windows] == [tokenizer.decode(window, **kwargs) for window in windows]


def test_a_tokenizer_with_its_own_decode_keeps_it(tokenizer: Any) -> None:
    class Custom(type(tokenizer)):  # type: ignore[misc]
        def decode(self, token_ids: Any, skip_special_tokens: bool = False, **kwargs: Any) -> str:
            return "custom"

    custom = Custom.__new__(Custom)
    assert _decoder(custom)([1, 2]) == "custom"


def test_push_all_equals_pushes(tokenizer: Any) -> None:
    prompt = tokenizer("Numbers:")["input_ids"]
    reply = tokenizer(" Café 🙂 naïve 1 2 3")["input_ids"]
    options: dict[str, Any] = {"skip_special_tokens": True, "clean_up_tokenization_spaces": None}
    one_by_one = IncrementalDecoder(tokenizer, prompt, **options)
    pieces = [one_by_one.push(token) for token in reply]
    at_once = IncrementalDecoder(tokenizer, prompt, **options)
    assert at_once.push_all(reply[:3]) + at_once.push_all(reply[3:]) == "".join(pieces)
    assert at_once.finish() == one_by_one.finish()


def test_remembered_single_id_texts_give_the_pieces_of_cold_decoders(tokenizer: Any) -> None:
    """Texts of single ids are remembered per tokenizer and options; decoders sharing them (options alternating,
    multi-byte characters held back over several ids, special tokens skipped or kept) give every piece a decoder
    with nothing remembered gives."""
    prompt = tokenizer("Numbers:")["input_ids"]
    reply = [*tokenizer(" Café 🙂 naïve <|im_end|> 1 2 3 é")["input_ids"], *tokenizer.all_special_ids]
    options = [{"skip_special_tokens": skip, "clean_up_tokenization_spaces": None} for skip in (True, False)]

    def pieces(settings: dict[str, Any]) -> list[str]:
        decoder = IncrementalDecoder(tokenizer, prompt, **settings)
        return [decoder.push(token) for token in reply] + [decoder.finish()]

    cold = []
    for settings in options:
        decoding._SINGLES.clear()
        cold.append(pieces(settings))
    assert cold[0] != cold[1]  # the options decode differently
    decoding._SINGLES.clear()
    assert [pieces(settings) for settings in (*options, *options)] == cold * 2
    assert len(decoding._SINGLES[tokenizer]) == 2  # one table per options


async def test_rows_decoded_at_their_end_equal_streamed_rows(llm: AbstractLLMInterface) -> None:
    """Concurrent non-streamed calls (no stop sequences, equal limits: decoded when each row ends) give the text,
    finish reason and usage of streamed calls (decoded token by token), for replies that end at their end of
    sequence and at their limit."""

    async def streamed(prompt: str, limit: int) -> tuple[str, str | None, Any]:
        stream = await llm.generate_async(prompt, raw=True, temperature=0, max_tokens=limit, stream=True)
        text, reason, usage = "", None, None
        async for chunk in stream:
            text += str(chunk)
            reason, usage = chunk.finish_reason or reason, chunk.usage or usage
        return text, reason, usage

    for limit in (5, 40):
        expected = [await streamed(prompt, limit) for prompt in PROMPTS]
        replies = await asyncio.gather(*(llm.generate_async(p, raw=True, temperature=0, max_tokens=limit) for p in PROMPTS))
        assert [(reply.text, reply.finish_reason, reply.usage) for reply in replies] == expected
    assert {reason for _, reason, _ in expected} == {"stop", "length"}  # both ends are covered
