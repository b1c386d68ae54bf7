"""A third-party AbstractLLM backend, provider ``ngram``: a word bigram model over a built-in text."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterator

from abstractllm.backend import Backend, BackendInfo, GenerationRequest, ReplyAssembler, StreamDelta, Usage, hookimpl

TEXT = (
    "the capital of france is paris . the capital of germany is berlin . "
    "the capital of italy is rome . paris is a city in france . berlin is a city in germany . "
    "a city is a place where people live . people live in paris and in rome ."
)


def words(text: str) -> list[str]:
    return re.findall(r"[\w']+|[.,!?;:]", text.lower())


PAIRS = Counter(itertools.pairwise(words(TEXT)))  # (word, the word after it) -> how often


def next_word(word: str, rng: random.Random | None, temperature: float) -> str:
    """The word most often after ``word`` (greedy: ``rng`` None), or one drawn with weights sharpened by ``temperature``."""
    ranked = sorted(((after, n) for (before, after), n in PAIRS.items() if before == word), key=lambda item: (-item[1], item[0]))
    ranked = ranked or [(".", 1)]
    if rng is None:
        return ranked[0][0]
    weights = [count ** (1.0 / max(temperature, 1e-3)) for _, count in ranked]
    return rng.choices([following for following, _ in ranked], weights=weights)[0]


class NgramBackend(Backend):
    model_name = "bigram"

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        """One sequence, a word per token, until "." or ``max_tokens``; core derives every other call from it."""
        params = request.params
        rng = None if params.greedy else random.Random(params.seed)
        prompt = self.encode(request) if request.encoded is None else request.encoded
        reply = ReplyAssembler(request)  # core's rules for stop sequences and the finish reason
        word, produced = (prompt[-1] if prompt else "."), 0
        while produced < params.max_tokens and not reply.stopped:
            word = next_word(word, rng, params.temperature)
            produced += 1
            if text := reply.feed(" " + word):
                yield StreamDelta(text)
            if word == ".":
                break
        yield reply.finish("stop" if word == "." else "length", Usage(len(prompt), produced))

    def encode(self, request: GenerationRequest) -> list[str]:
        """The prompt's words: their count is the exact prompt usage, and core checks the window with it."""
        return words(" ".join(message.content or "" for message in request.messages) or request.prompt or "")

    def capabilities(self) -> dict[str, object]:
        return {
            "streaming": True,
            "max_tokens": 256,
            "supports_system_prompt": True,
            "supports_async": True,
            "supports_multi_turn": True,
            "supports_stop_sequences": True,
            "supports_seed": True,
            "supports_multiple_sequences": True,
        }


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [
        BackendInfo(
            provider="ngram",
            mode="bigram",
            description="A word bigram model over a built-in text.",
            install="pip install abstractllm-ngram",
            load=lambda info, config: NgramBackend(),
        )
    ]
