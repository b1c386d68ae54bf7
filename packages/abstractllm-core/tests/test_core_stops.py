"""Stop sequences cut across streamed pieces: the filter (its fast paths) equals cutting the whole text at once."""

from __future__ import annotations

import random

import pytest

from abstractllm._private.stops import StopSequenceFilter, truncate_at_stop


@pytest.mark.parametrize("stops", [("<start_function_response>",), ("ab", "abc"), ("</s>", "<|end|>"), ("xyx",), ("<a>", "b")])
def test_streamed_pieces_are_cut_as_the_whole_text_is(stops: tuple[str, ...]) -> None:
    chooser = random.Random(7)
    alphabet = "".join(sorted(set("".join(stops)))) + " z"
    for _ in range(400):
        text = "".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, 30)))
        if chooser.random() < 0.3:
            text += chooser.choice(stops)[: chooser.randint(1, 30)]  # often ends in (the start of) a stop sequence
        stream = StopSequenceFilter(stops)
        shown, at = "", 0
        while at < len(text) and not stream.stopped:
            size = chooser.randint(1, 5)
            shown += stream.feed(text[at : at + size])
            at += size
        shown += stream.flush()
        assert (shown, stream.stopped) == truncate_at_stop(text, stops), (text, stops)


def test_text_that_may_start_a_stop_sequence_is_held_back_until_it_cannot() -> None:
    stream = StopSequenceFilter(("<start_function_response>",))
    assert stream.feed("Hello <start_fun") == "Hello "
    assert stream.feed("ny") == "<start_funny"
    assert stream.feed(" and <start_function_response> gone") == " and "
    assert stream.stopped and stream.feed("more") == "" and stream.flush() == ""
