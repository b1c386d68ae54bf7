"""The non-streamed reply of a backend that writes only ``stream``: one stream per sequence, joined.

``num_return_sequences`` fans out the same way for every backend that does not do better:
sequence ``i`` is the stream of the request with ``n=1`` and seed ``seed + i`` (modulo
2**32; no seed stays no seed). Under greedy decoding every sequence is the same one, so one
stream is run and its reply returned ``n`` times. Usage counts the prompt once and the
tokens of every returned sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from abstractllm.backend.request import GenerationRequest
from abstractllm.backend.response import Choice, Completion, StreamDelta, Usage

__all__ = ["SEED_MODULUS", "join_streams", "sequence_request", "sequence_seed"]

#: Seeds are 32-bit where runtimes take them: ``seed + i`` wraps around at this value.
SEED_MODULUS = 2**32


def sequence_seed(seed: int, index: int) -> int:
    """The seed of sequence ``index`` when the first one's is ``seed``: ``seed + index`` (modulo 2**32)."""
    return (seed + index) % SEED_MODULUS


def sequence_request(request: GenerationRequest, index: int) -> GenerationRequest:
    """``request`` for its ``index``-th sequence alone: ``n=1`` and seed :func:`sequence_seed` (none stays none).
    The prompt is unchanged, so the encoding core made for ``request`` is kept."""
    params = request.params
    seed = None if params.seed is None else sequence_seed(params.seed, index)
    return replace(request, params=replace(params, num_return_sequences=1, seed=seed))


def join_streams(stream: Callable[[GenerationRequest], Iterable[StreamDelta]], request: GenerationRequest) -> Completion:
    """``request``'s completion from ``stream`` (a backend's), as the module docstring says."""
    wanted = request.params.num_return_sequences
    runs = 1 if request.params.greedy else wanted
    choices: list[Choice] = []
    prompt_tokens = completion_tokens = 0
    for index in range(runs):
        text: list[str] = []
        last = StreamDelta()
        for delta in stream(sequence_request(request, index)):
            text.append(delta.text)
            last = delta
        usage = last.usage or Usage()
        prompt_tokens = usage.prompt_tokens
        completion_tokens += usage.completion_tokens
        choices.append(Choice("".join(text), last.finish_reason, list(last.tool_calls or [])))
    copies = wanted // runs
    choices = [Choice(c.text, c.finish_reason, list(c.tool_calls)) for c in choices for _ in range(copies)]
    return Completion(choices, Usage(prompt_tokens, completion_tokens * copies))
