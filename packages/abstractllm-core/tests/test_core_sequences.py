"""A backend that writes only ``stream``: core joins it into non-streamed replies, one stream per sequence."""

from __future__ import annotations

from collections.abc import Iterator

from abstractllm.backend import Backend, BackendInfo, sequence_request
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.response import StreamDelta, Usage

INFO = BackendInfo("test", "echo", "says its seed", "pip install nothing")


class SeedEcho(Backend):
    """Streams ``seed=<seed>`` in two pieces; records every request it streamed."""

    info = INFO
    model_name = "echo"

    def __init__(self) -> None:
        self.streamed: list[GenerationRequest] = []

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        self.streamed.append(request)
        yield StreamDelta("seed=")
        yield StreamDelta(str(request.params.seed), finish_reason="length", usage=Usage(5, 3))

    def capabilities(self) -> dict[str, object]:
        return {}


def request(**params: object) -> GenerationRequest:
    return GenerationRequest(messages=(), params=GenerationParams(**params))  # type: ignore[arg-type]


def test_sampled_sequences_are_streams_with_seed_plus_i() -> None:
    backend = SeedEcho()
    completion = backend.generate(request(temperature=1.0, seed=2**32 - 1, num_return_sequences=3))
    assert [choice.text for choice in completion.choices] == ["seed=4294967295", "seed=0", "seed=1"]
    assert [choice.finish_reason for choice in completion.choices] == ["length"] * 3
    assert completion.usage == Usage(5, 9)  # the prompt once, every sequence's tokens
    assert completion.model == "echo"
    assert all(streamed.params.num_return_sequences == 1 for streamed in backend.streamed)


def test_greedy_sequences_are_one_stream_returned_n_times() -> None:
    backend = SeedEcho()
    completion = backend.generate(request(temperature=0, num_return_sequences=2))
    assert [choice.text for choice in completion.choices] == ["seed=None", "seed=None"]
    assert completion.usage == Usage(5, 6)
    assert len(backend.streamed) == 1


def test_a_sequence_request_keeps_the_encoded_prompt() -> None:
    original = request(seed=None, num_return_sequences=2).with_encoded([1, 2, 3])
    single = sequence_request(original, 1)
    assert single.encoded == [1, 2, 3] and single.params.seed is None and single.params.num_return_sequences == 1
