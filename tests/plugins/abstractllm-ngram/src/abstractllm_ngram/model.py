"""A word bigram language model: greedy picks the most frequent successor; sampling is seeded."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

from abstractllm.backend import Backend, BackendInfo, ReplyAssembler
from abstractllm.request import GenerationRequest
from abstractllm.response import StreamDelta, Usage

CORPUS = (
    "the capital of france is paris . the capital of germany is berlin . "
    "the capital of italy is rome . paris is a city in france . berlin is a city in germany . "
    "a city is a place where people live . people live in paris and in rome ."
)
END = "."
CONTEXT_WINDOW = 256


def tokenize(text: str) -> list[str]:
    return re.findall(r"[\w']+|[.,!?;:]", text.lower())


class BigramModel:
    def __init__(self, corpus: str = CORPUS) -> None:
        words = tokenize(corpus)
        self.successors: dict[str, Counter[str]] = defaultdict(Counter)
        for current, following in itertools.pairwise(words):
            self.successors[current][following] += 1

    def next_word(self, word: str, rng: random.Random | None, temperature: float) -> str:
        options = self.successors.get(word) or Counter({END: 1})
        ranked = sorted(options.items(), key=lambda item: (-item[1], item[0]))
        if rng is None:
            return ranked[0][0]
        weights = [count ** (1.0 / max(temperature, 1e-3)) for _, count in ranked]
        return rng.choices([w for w, _ in ranked], weights=weights)[0]


class NgramBackend(Backend):
    def __init__(self, info: BackendInfo, model_name: str) -> None:
        self.info = info
        self.model_name = model_name
        self._model = BigramModel()

    def _prompt_words(self, request: GenerationRequest) -> list[str]:
        if isinstance(request.encoded, list):  # core encoded it with encode() while checking the window
            return request.encoded
        return tokenize(" ".join(message.content or "" for message in request.messages) or request.prompt or "")

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        """One sequence (core joins streams into non-streamed replies, one per sequence, seed + i)."""
        params = request.params
        rng = None if params.greedy else random.Random(params.seed)
        reply = ReplyAssembler(request)  # stop sequences, tool-call blocks and the finish reason, as core rules
        words = self._prompt_words(request)
        last = words[-1] if words else END
        produced = 0
        finish = "length"
        while produced < params.max_tokens:
            last = self._model.next_word(last, rng, params.temperature)
            produced += 1
            text = reply.feed(" " + last)
            if text:
                yield StreamDelta(text)
            if last == END:
                finish = "stop"
                break
            if reply.stopped:
                break
        yield reply.finish(finish, Usage(len(words), produced))

    def capabilities(self) -> dict[str, object]:
        return {
            "streaming": True,
            "max_tokens": CONTEXT_WINDOW,
            "supports_system_prompt": True,
            "supports_async": True,
            "supports_multi_turn": True,
            "supports_stop_sequences": True,
            "supports_seed": True,
            "supports_multiple_sequences": True,
            "supports_json_mode": False,
            "supports_tool_use": False,
        }

    def encode(self, request: GenerationRequest) -> list[str]:
        return self._prompt_words(request)
