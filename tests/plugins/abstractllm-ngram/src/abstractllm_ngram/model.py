"""A word bigram language model: greedy picks the most frequent successor; sampling is seeded."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

from abstractllm.backend import Backend, BackendInfo, ReplyAssembler
from abstractllm.request import GenerationRequest
from abstractllm.response import Choice, Completion, StreamDelta, Usage

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

    def _words(self, request: GenerationRequest, index: int) -> Iterator[tuple[str, str | None]]:
        params = request.params
        rng = None if params.greedy else random.Random(None if params.seed is None else params.seed + index)
        words = self._prompt_words(request)
        last = words[-1] if words else END
        for produced in range(params.max_tokens):
            last = self._model.next_word(last, rng, params.temperature)
            finish = "stop" if last == END else ("length" if produced + 1 == params.max_tokens else None)
            yield (" " + last), finish
            if finish:
                return

    def _run(self, request: GenerationRequest, index: int) -> Iterator[StreamDelta]:
        reply = ReplyAssembler(request)  # stop sequences, tool-call blocks and the finish reason, as core rules
        prompt_tokens = len(self._prompt_words(request))
        produced = 0
        finish: str | None = None
        for piece, finish in self._words(request, index):
            produced += 1
            text = reply.feed(piece)
            if text:
                yield StreamDelta(text)
            if reply.stopped:
                break
        yield reply.finish(finish, Usage(prompt_tokens, produced))

    def generate(self, request: GenerationRequest) -> Completion:
        choices = []
        usage = Usage()
        for index in range(request.params.num_return_sequences):
            deltas = list(self._run(request, index))
            choices.append(Choice("".join(d.text for d in deltas), deltas[-1].finish_reason))
            last_usage = deltas[-1].usage or Usage()
            usage = Usage(last_usage.prompt_tokens, usage.completion_tokens + last_usage.completion_tokens)
        return Completion(choices, usage, self.model_name)

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        return self._run(request, 0)

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
