"""Core's JSON Schema checker on the defects it once had, on both paths, and on deep or odd schemas.

The official suite (test_core_json_schema_suite.py) covers the keywords broadly; these cases
pin each defect that was found, and what happens with schemas nested too deep or with ``$ref``
cycles (those run in a child process with a deadline: they used to end in ``RecursionError``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm._private.json_schema import MAX_SCHEMA_DEPTH, check_json, require_usable_schema, schema_defects
from abstractllm._private.json_schema.patterns import compile_pattern
from abstractllm._private.structured import ResponseFormat, normalize_response_format, parse_structured
from abstractllm.errors import InvalidArgumentError, OutputParsingError

#: (what, schema, values it accepts, values it rejects)
DEFECTS: list[tuple[str, dict[str, Any], list[Any], list[Any]]] = [
    ("boolean subschema", {"properties": {"foo": False, "bar": True}}, [{}, {"bar": 1}], [{"foo": 1}]),
    ("boolean subschemas in allOf", {"allOf": [True, False]}, [], [1, "x", None]),
    ("const false is not 0", {"const": False}, [False], [0, 0.0]),
    ("enum 1 is not true, is 1.0", {"enum": [1]}, [1, 1.0], [True]),
    ("uniqueItems: 1 and true differ", {"uniqueItems": True}, [[1, True], [0, False]], [[1, 1.0], [{"a": 1}, {"a": 1.0}]]),
    (
        "escaped pointers",
        {
            "$defs": {"a/b": {"type": "integer"}, "c~d": {"type": "integer"}, "e%f": {"type": "integer"}},
            "properties": {"x": {"$ref": "#/$defs/a~1b"}, "y": {"$ref": "#/$defs/c~0d"}, "z": {"$ref": "#/$defs/e%25f"}},
        },
        [{"x": 1, "y": 2, "z": 3}],
        [{"x": "s"}, {"y": "s"}, {"z": "s"}],
    ),
    ("$ref to false", {"$defs": {"no": False}, "$ref": "#/$defs/no"}, [], [1, {}]),
    ("keywords beside $ref", {"$defs": {"int": {"type": "integer"}}, "$ref": "#/$defs/int", "maximum": 3}, [2], [5, "2"]),
    (
        "$ref to the root",
        {"properties": {"child": {"$ref": "#"}}, "additionalProperties": False},
        [{"child": {"child": {}}}],
        [{"child": {"x": 1}}],
    ),
    (
        "$ref into prefixItems",
        {"prefixItems": [{"type": "integer"}], "properties": {"a": {"$ref": "#/prefixItems/0"}}},
        [{"a": 1}],
        [{"a": "x"}],
    ),
    (
        "$ref through an embedded $id",
        {
            "$defs": {"n": {"$id": "https://example.org/n.json", "type": "integer"}},
            "properties": {"a": {"$ref": "https://example.org/n.json"}},
        },
        [{"a": 1}],
        [{"a": "x"}],
    ),
    ("multipleOf of a large integer", {"multipleOf": 3}, [3000000000], [3000000001]),
    ("multipleOf as written", {"multipleOf": 0.1}, [0.3, 1e308], [0.35]),
    ("multipleOf without overflow", {"type": "integer", "multipleOf": 0.123456789}, [0], [1e308]),
    (
        "patternProperties beside additionalProperties false",
        {"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
        [{"x-a": 1}],
        [{"b": 1}, {"x-a": "s"}],
    ),
    ("a count written as a decimal", {"maxItems": 2.0}, [[1, 2]], [[1, 2, 3]]),
    ("ECMA-262 \\d is ASCII", {"pattern": "^\\d+$"}, ["123"], ["١٢٣", "12\n"]),
]


@pytest.fixture(params=["builtin", "jsonschema"])
def checker_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "builtin":
        monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    else:
        pytest.importorskip("jsonschema")
    return str(request.param)


@pytest.fixture
def without_regex(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the ``regex`` module were not installed (Python's ``re`` compiles the patterns)."""
    compile_pattern.cache_clear()
    monkeypatch.setitem(sys.modules, "regex", None)
    yield
    compile_pattern.cache_clear()


@pytest.mark.parametrize(("what", "schema", "good", "bad"), DEFECTS, ids=[case[0] for case in DEFECTS])
def test_each_defect_found_is_fixed(
    checker_path: str, what: str, schema: dict[str, Any], good: list[Any], bad: list[Any]
) -> None:
    require_usable_schema(schema, what="the schema", parameter="schema")
    for value in good:
        assert check_json(value, schema) == check_json(value, schema).__class__([]), (what, value)
    for value in bad:
        check = check_json(value, schema)
        assert check.errors and not check.unchecked, (what, value)


def test_a_ref_to_a_missing_definition_is_refused_and_never_accepts(checker_path: str) -> None:
    schema = {"$defs": {"a": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/b"}}}
    with pytest.raises(InvalidArgumentError) as caught:
        normalize_response_format({"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    assert "$.properties.x.$ref: '#/$defs/b' points at nothing in the schema" in str(caught.value)
    assert caught.value.parameter == "response_format"
    assert check_json({"x": 1}, schema).errors  # checked anyway: an error, not accept-all


def test_a_unicode_property_pattern_is_checked_with_regex(checker_path: str) -> None:
    pytest.importorskip("regex")
    compile_pattern.cache_clear()
    schema = {"type": "string", "pattern": "^\\p{Letter}+$"}
    assert check_json("héllo", schema).errors == [] and not check_json("héllo", schema).unchecked
    assert check_json("h3llo", schema).errors


def test_without_regex_a_unicode_property_pattern_is_reported_not_raised(checker_path: str, without_regex: None) -> None:
    schema = {"type": "string", "pattern": "^\\p{L}+$"}
    check = check_json("héllo", schema)
    assert check.errors == [] and check.unchecked == {"pattern"}
    assert check_json(5, schema).errors  # what can be checked still is
    negated = check_json("héllo", {"not": schema})
    assert negated.errors == [] and negated.unchecked == {"pattern"}  # uncertain under not: never a wrong rejection
    named = {"patternProperties": {"^\\p{L}+$": {"type": "integer"}}, "additionalProperties": False}
    check = check_json({"héllo": 1}, named)
    assert check.errors == [] and check.unchecked == {"patternProperties"}


def test_a_checker_failure_is_reported_as_unchecked_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from abstractllm._private.json_schema import builtin

    def broken(self: Any, value: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(sys.modules, "jsonschema", None)
    monkeypatch.setattr(builtin.BuiltinChecker, "check", broken)
    check = check_json({"a": 1}, {"type": "object"})
    assert check.errors == [] and check.unchecked == {"(checker failure: RuntimeError)"}


def test_unchecked_keywords_are_the_ones_that_could_not_be_checked(checker_path: str) -> None:
    remote = {"properties": {"a": {"$ref": "https://example.org/elsewhere.json"}}, "required": ["b"]}
    assert check_json({"a": 1, "b": 2}, remote).unchecked == {"$ref"}
    assert check_json({"a": 1}, remote).errors == ["$: missing required property 'b'"]
    assert check_json("x", {"format": "hostname", "type": "string"}).unchecked <= {"format"}
    assert check_json("x", {"format": "no-such-format"}) == check_json("x", {})  # an annotation, as the spec says


_DEEP = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "builtin":
        sys.modules["jsonschema"] = None
    from abstractllm._private.json_schema import check_json, require_usable_schema
    from abstractllm.errors import InvalidArgumentError
    schema = {"type": "string"}
    for _ in range(400):
        schema = {"type": "object", "properties": {"a": schema}}
    looped = {"type": "object"}
    looped["properties"] = {"self": looped}  # a dict that holds itself
    cycle = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}
    answers = {}
    for name, bad in (("deep", schema), ("looped", looped), ("cycle", cycle), ("root", {"$ref": "#"})):
        try:
            require_usable_schema(bad, what="the schema", parameter="schema")
            answers[name] = "accepted"
        except InvalidArgumentError as exc:
            answers[name] = str(exc)
        answers[name + " checked"] = check_json({"a": 1}, bad).errors[:1]
    require_usable_schema(tree, what="the schema", parameter="schema")
    value = {}
    for _ in range(40):
        value = {"children": [value]}
    answers["tree"] = check_json(value, tree).errors
    for _ in range(2000):
        value = {"children": [value]}
    answers["deep value"] = check_json(value, tree).errors[:1]
    print(json.dumps(answers))
    """
)


@pytest.mark.parametrize("path", ["builtin", "jsonschema"])
def test_deep_schemas_and_ref_cycles_are_refused_up_front_and_never_recurse(path: str) -> None:
    if path == "jsonschema":
        pytest.importorskip("jsonschema")
    done = subprocess.run([sys.executable, "-c", _DEEP, path], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout)
    limit = f"nested more than {MAX_SCHEMA_DEPTH} levels deep (the limit)"
    assert limit in answers["deep"] and limit in answers["looped"]
    assert answers["deep checked"] == answers["looped checked"] != []
    for name in ("cycle", "root"):
        assert "a $ref cycle applies this schema to the same value again" in answers[name], name
        assert answers[f"{name} checked"], name  # checked anyway: an error, never RecursionError
    assert answers["tree"] == []  # a recursive schema that goes into the value is legal
    assert answers["deep value"] and "nested" in answers["deep value"][0]


def test_a_reply_nested_too_deep_to_parse_is_an_output_parsing_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(OutputParsingError, match="nested too deep to parse") as caught:
        parse_structured(deep, ResponseFormat("json_object"), "stop")
    assert isinstance(caught.value.__cause__, RecursionError)
    assert parse_structured("[[1]]", ResponseFormat("json_schema", {"type": "array"}), "stop") == [[1]]  # works afterwards


def test_schema_defects_are_named_with_their_place() -> None:
    assert schema_defects({"properties": {"a": {"minItems": -1}}}) == ["$.properties.a.minItems: must be an integer >= 0"]
    assert schema_defects({"dependentRequired": {"a": "b"}}) == ["$.dependentRequired.a: must be a list of property names"]
    assert schema_defects({"maxItems": 2.0, "minContains": 0, "if": True, "then": {"not": False}}) == []


def test_both_paths_word_the_common_errors_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1}, "s": {"type": "string", "maxLength": 2}, "k": {"const": 1}},
        "required": ["n", "m"],
        "additionalProperties": False,
    }
    value = {"n": 0, "s": 5, "k": 2, "x": None}
    with_jsonschema = check_json(value, schema)
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    builtin = check_json(value, schema)
    assert (
        sorted(with_jsonschema.errors)
        == sorted(builtin.errors)
        == [
            "$.k: must be 1",
            "$.n: less than 1",
            "$.s: expected string, got number",
            "$: missing required property 'm'",
            "$: unexpected property 'x'",
        ]
    )


#: (ECMA-262 pattern, strings it matches, strings it does not), as ECMA-262 reads them.
PATTERNS: list[tuple[str, list[str], list[str]]] = [
    ("^\\w+$", ["abc_9"], ["é", "abc\n"]),
    ("^[\\w-]+$", ["a-b"], ["é"]),
    ("^\\s$", ["\ufeff", "\u00a0"], ["\x1c"]),
    ("^.$", ["a"], ["\r", "\u2028"]),
    ("\\bé", [], ["a é"]),  # é is no word character in ECMA-262, so no boundary before it
    ("\\bcat\\b", ["a cat!"], ["concat"]),
    ("^\\cJ$", ["\n"], ["J"]),
    ("^(?<x>a)\\k<x>$", ["aa"], ["ab"]),
    ("^[^]$", ["\n"], [""]),
    ("[]", [], ["a", ""]),
    ("^\\u{1F600}$", ["\U0001f600"], ["a"]),
]


@pytest.mark.parametrize(("pattern", "matches", "misses"), PATTERNS, ids=[case[0] for case in PATTERNS])
def test_ecma_patterns_mean_what_ecma_says(without_regex: None, pattern: str, matches: list[str], misses: list[str]) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None, pattern
    assert all(compiled.search(text) for text in matches)
    assert not any(compiled.search(text) for text in misses)
