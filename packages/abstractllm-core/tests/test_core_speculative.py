"""Core's share of speculative decoding: the option's values, n-gram drafts and the adaptive draft length."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm.errors import InvalidArgumentError
from abstractllm.options import validate_options
from abstractllm.speculative import (
    DEFAULT_DRAFT_TOKENS,
    MAX_PAUSE,
    SPECULATIVE_OPTION,
    DraftPolicy,
    NgramIndex,
    SpeculativeSettings,
)

OPTIONS = {"speculative": SPECULATIVE_OPTION}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (False, None),
        (True, SpeculativeSettings()),
        ("prompt_lookup", SpeculativeSettings()),
        ("Prompt_Lookup", SpeculativeSettings()),
        ({"draft_tokens": 4}, SpeculativeSettings(draft_tokens=4)),
        ({"method": "prompt_lookup", "ngram_size": 2}, SpeculativeSettings(ngram_size=2)),
    ],
)
def test_accepted_values(value: Any, expected: SpeculativeSettings | None) -> None:
    assert validate_options({"speculative": value}, OPTIONS, where="generate()") == {"speculative": expected}
    assert SpeculativeSettings().draft_tokens == DEFAULT_DRAFT_TOKENS


@pytest.mark.parametrize(
    ("value", "parameter", "words"),
    [
        ("eagle", "speculative", "'prompt_lookup'"),
        (1.5, "speculative", "None or False"),
        ({"draft_tokens": 65}, "speculative['draft_tokens']", "≤ 64"),
        ({"ngram_size": 0}, "speculative['ngram_size']", "≥ 1"),
        ({"method": 3}, "speculative['method']", "'prompt_lookup'"),
        ({"draft_model": "org/small"}, "speculative['draft_model']", "drop 'draft_model'"),
        ({"draft": 3}, "speculative['draft']", "known keys"),
    ],
)
def test_bad_values_name_the_parameter_and_the_fix(value: Any, parameter: str, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        validate_options({"speculative": value}, OPTIONS, where="generate()")
    assert caught.value.parameter == parameter and words in str(caught.value)


def test_ngram_drafts_follow_the_latest_earlier_occurrence() -> None:
    index = NgramIndex([1, 2, 3, 4, 5, 9, 2, 3], size=3)
    assert index.draft(3) == [4, 5, 9]  # after the 2-gram (2, 3)
    index.extend([7])
    assert index.draft(2) == []  # 7 never occurred before
    index.extend([1, 2])
    assert index.draft(10) == [3, 4, 5, 9, 2, 3, 7, 1, 2]  # what followed (1, 2) at the start
    index.extend([3])
    assert index.draft(2) == [4, 5]  # the 3-gram (1, 2, 3) at the start beats the later 2-gram (2, 3)
    assert index.draft(0) == []


def test_a_draft_can_continue_drafted_tokens() -> None:
    index = NgramIndex([1, 2, 3, 4, 5, 9, 2, 3], size=3)
    assert index.draft(2, after=[7, 4]) == [5, 9]  # the n-gram ending the sequence with (7, 4) appended: 4
    assert index.draft(3, after=[9, 2]) == [3]  # (3, 9, 2) never occurred; (9, 2) did, before the last token
    assert index.draft(2, after=[8]) == []


def test_the_longest_ngram_wins() -> None:
    index = NgramIndex([5, 1, 8, 6, 1, 9, 5, 1], size=2)
    assert index.draft(1) == [8]  # (5, 1) occurred at the start; the 1-gram 1 occurred later, before 9
    assert NgramIndex([5, 1, 8, 6, 1, 9, 5, 1], size=1).draft(1) == [9]


def test_the_draft_length_grows_on_hits_and_pauses_on_misses() -> None:
    policy = DraftPolicy(10)
    assert policy.length() == 2
    policy.record(2, 2)
    assert policy.length() == 4
    policy.record(4, 4)
    assert policy.length() == 8
    policy.record(8, 8)
    assert policy.length() == 10  # at most the setting
    policy.record(10, 6)
    assert policy.length() == 7  # it paid: one more than accepted
    policy.record(7, 0)
    assert [policy.length() for _ in range(2)] == [0, 2]  # one step without drafting, then two tokens
    policy.record(2, 1)  # one of two: the pass made 2 tokens, it did not pay
    assert [policy.length() for _ in range(3)] == [0, 0, 2]  # two misses in a row: two steps
    policy.record(8, 4)  # half: not more than half
    assert [policy.length() for _ in range(5)] == [0, 0, 0, 0, 2]
    for _ in range(30):
        policy.record(2, 0)
    pauses = 0
    while policy.length() == 0:
        pauses += 1
    assert pauses == MAX_PAUSE
    policy.record(2, 2)
    assert policy.length() == 4
