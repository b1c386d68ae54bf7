"""The pipeline's JSON grammars end: numbers have bounded digit runs, strings admit no control characters."""

from __future__ import annotations

from typing import Any

import pytest

xgr = pytest.importorskip("xgrammar")
from xgrammar.testing import _is_grammar_accept_string as accepts  # noqa: E402

from abstractllm_hf_pipeline.constraints import MAX_DIGITS, bounded_json_grammar  # noqa: E402

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}


def _person(age: str, name: str = "Ann") -> str:
    return '{"name": "' + name + '", "age": ' + age + "}"


def test_integers_stop_at_sixteen_digits() -> None:
    grammar = bounded_json_grammar(PERSON)
    assert accepts(grammar, _person("1" + "0" * (MAX_DIGITS - 1)))
    assert not accepts(grammar, _person("1" + "0" * MAX_DIGITS))
    assert accepts(grammar, _person("-42"))


@pytest.mark.parametrize(
    ("schema", "longest", "too_long"),
    [
        ({"type": "number"}, "1." + "5" * MAX_DIGITS, "1." + "5" * (MAX_DIGITS + 1)),
        ({"type": "number"}, "1e" + "2" * MAX_DIGITS, "1e" + "2" * (MAX_DIGITS + 1)),
        ({"type": "integer", "minimum": 0}, "9" * MAX_DIGITS, "9" * (MAX_DIGITS + 1)),
        ({"type": "number", "minimum": 0}, "9" * MAX_DIGITS, "9" * (MAX_DIGITS + 1)),
        ({"type": "object"}, '{"n": ' + "7" * MAX_DIGITS + "}", '{"n": ' + "7" * (MAX_DIGITS + 1) + "}"),
    ],
)
def test_every_run_of_digits_is_bounded(schema: dict[str, Any], longest: str, too_long: str) -> None:
    grammar = bounded_json_grammar(schema)
    assert accepts(grammar, longest)
    assert not accepts(grammar, too_long)


def test_string_patterns_are_left_alone_and_strings_admit_no_control_characters() -> None:
    pattern = bounded_json_grammar({"type": "string", "pattern": "^[0-9]*$"})
    assert accepts(pattern, '"' + "1" * 40 + '"')
    grammar = bounded_json_grammar(PERSON)
    assert not accepts(grammar, _person("3", "A\nnn"))
    assert not accepts(grammar, _person("3", "A\tnn"))
    assert accepts(grammar, _person("3", "A\\nnn"))
