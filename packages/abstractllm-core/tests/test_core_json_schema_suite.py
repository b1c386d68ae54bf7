"""The official JSON-Schema-Test-Suite, draft 2020-12, against core's checker on both of its paths.

The suite's files are committed under ``data/json_schema_test_suite`` (see its README: source and
commit). Each case runs through :func:`check_json` with ``jsonschema`` importable, and with it
hidden (``sys.modules["jsonschema"] = None``, as when core is installed alone) so the built-in
checker answers; both with the ``regex`` module and without it.

What a right answer is. A :class:`SchemaCheck` is a verdict (``errors`` empty or not) and the
keywords it could not check (``unchecked``):

- ``unchecked`` empty: the verdict must be the suite's, exactly.
- ``unchecked`` not empty: a rejection must still be right (every error is a real violation, so a
  keyword the checker cannot check never makes it reject a valid value); an acceptance may be
  wrong, because the caller was told which keywords were not checked.

So the outcomes counted are: ``right`` (the suite's verdict), ``reported`` (a wrong acceptance
with ``unchecked`` saying why), ``wrong`` (anything else) and ``crash`` (an exception out of
:func:`check_json`). ``wrong`` and ``crash`` must be zero on both paths.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abstractllm._private.json_schema import check_json, require_usable_schema
from abstractllm._private.json_schema.patterns import compile_pattern

SUITE = Path(__file__).parent / "data" / "json_schema_test_suite"

#: Files of the suite that do not run here, and why.
SKIPPED = {
    "refRemote.json": "its refs point at the suite's remotes/ web server, which the checker never fetches",
    "vocabulary.json": "its custom metaschemas live on the suite's remotes/ web server too",
    "format.json": "it tests format as an annotation only; core asserts format (optional/format/*.json test that)",
}


def suite_cases() -> list[tuple[str, Any, Any, bool]]:
    """Every case as ``(id, schema, value, valid)``, the files of :data:`SKIPPED` left out."""
    cases = []
    for path in sorted(SUITE.rglob("*.json")):
        name = str(path.relative_to(SUITE))
        if name in SKIPPED:
            continue
        for group in json.loads(path.read_text(encoding="utf-8")):
            for test in group["tests"]:
                case_id = f"{name} | {group['description']} | {test['description']}"
                cases.append((case_id, group["schema"], test["data"], test["valid"]))
    return cases


def outcome(schema: Any, value: Any, valid: bool) -> str:
    """``right``, ``reported``, ``wrong`` or ``crash`` for one case (see the module's doc)."""
    try:
        check = check_json(value, schema)
    except Exception:  # counted, and asserted to be none
        return "crash"
    accepted = not check.errors
    if accepted == valid:
        return "right"
    if accepted and check.unchecked:
        return "reported"
    return "wrong"


def run_suite() -> tuple[Counter[str], dict[str, list[str]]]:
    """Counts of each outcome, and the case ids of each outcome but ``right``."""
    counts: Counter[str] = Counter()
    failures: dict[str, list[str]] = {}
    for case_id, schema, value, valid in suite_cases():
        result = outcome(schema, value, valid)
        counts[result] += 1
        if result != "right":
            failures.setdefault(result, []).append(case_id)
    return counts, failures


@pytest.fixture(params=["builtin", "jsonschema", "builtin without regex", "jsonschema without regex"])
def checker_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Which checker answers: ``jsonschema`` hidden (the built-in checker) or importable; with the
    ``regex`` module where installed, or hidden (patterns then compile with ``re``)."""
    if str(request.param).startswith("builtin"):
        monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    else:
        pytest.importorskip("jsonschema")
    if str(request.param).endswith("without regex"):
        monkeypatch.setitem(sys.modules, "regex", None)
    else:
        pytest.importorskip("regex")
    compile_pattern.cache_clear()
    yield str(request.param)
    compile_pattern.cache_clear()


def test_the_suite_data_is_there() -> None:
    assert len(suite_cases()) == 1483
    assert (SUITE / "LICENSE").is_file() and (SUITE / "README.md").is_file()


def test_the_official_suite_gets_no_wrong_answer_and_no_crash(checker_path: str) -> None:
    counts, failures = run_suite()
    print(f"{checker_path}: {sum(counts.values())} cases, {dict(counts)}")
    assert not failures.get("crash"), failures["crash"][:20]
    assert not failures.get("wrong"), failures["wrong"][:20]
    # of 1483, the others need a remote document (or, without regex, a \\p{...} pattern), and say so
    assert counts["right"] >= (1465 if checker_path.endswith("without regex") else 1470)


def _keys(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        return set(schema).union(*(_keys(value) for value in schema.values()))
    return set().union(*(_keys(item) for item in schema)) if isinstance(schema, list) else set()


def test_what_is_reported_unchecked_is_a_keyword_of_the_schema(checker_path: str) -> None:
    """``unchecked`` names keywords the schema uses (never a checker failure, never a made-up name)."""
    reported: Counter[str] = Counter()
    for case_id, schema, value, _ in suite_cases():
        unchecked = check_json(value, schema).unchecked
        assert unchecked <= _keys(schema), (case_id, unchecked)
        reported.update(unchecked)
    # remote documents (and what they might have evaluated), and without regex the \\p{...} patterns
    assert set(reported) <= {"$ref", "unevaluatedProperties", "pattern", "patternProperties"}, reported


def test_every_schema_of_the_suite_is_usable() -> None:
    schemas = {json.dumps(schema, sort_keys=True): schema for _, schema, _, _ in suite_cases()}
    refused = {}
    for text, schema in schemas.items():
        if not isinstance(schema, dict):
            continue  # a whole schema true/false: require_usable_schema asks for an object
        try:
            require_usable_schema(schema, what="the schema", parameter="schema")
        except Exception as exc:
            refused[text[:120]] = str(exc)
    assert not refused
