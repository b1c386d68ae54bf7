"""Checking JSON values against a JSON Schema: tool arguments and structured replies.

With the ``jsonschema`` package importable (the backends' ``validation`` extra installs it),
values are checked by it, in the schema's declared draft (default 2020-12), with the same
``pattern``, ``multipleOf`` and format rules as the built-in checker
(:mod:`.with_jsonschema`). Without it, or for a schema ``jsonschema`` cannot check whole, core's
built-in checker answers (:mod:`.builtin`): all of draft 2020-12 but remote references,
``$recursiveRef``, patterns it cannot compile and the formats it has no check for
(:mod:`.formats` checks ``date``, ``time``, ``date-time``, ``email``, ``uuid`` and ``ipv4``).
Neither path reads a custom metaschema's ``$vocabulary``: every schema is read as the draft's
own vocabularies, with ``format`` asserted (a format name the specification does not define is
an annotation).

What a :class:`SchemaCheck` promises:

- every entry of ``errors`` is a real violation: a keyword that could not be checked never
  causes one (it makes the verdict uncertain instead, even under ``not``);
- ``unchecked`` empty: the verdict (valid when ``errors`` is empty) is the specification's;
- ``unchecked`` not empty: ``errors`` empty means "valid as far as could be checked", and
  ``unchecked`` names the keywords that might have rejected the value (logged once as a
  warning too);
- :func:`check_json` never raises: a schema nested too deep or a checker failure come back as
  ``errors`` or ``unchecked``, never as an exception that would lose a reply.

:func:`schema_defects` / :func:`require_usable_schema` judge a schema itself, before any model
runs (:mod:`.defects`: shapes, depth, dangling ``$ref``, ``$ref`` cycles).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from abstractllm._private.json_schema.builtin import BuiltinChecker
from abstractllm._private.json_schema.defects import (
    MAX_SCHEMA_DEPTH,
    nests_too_deep,
    require_usable_schema,
    schema_defects,
)
from abstractllm._private.json_schema.with_jsonschema import jsonschema_errors

__all__ = [
    "MAX_CHECK_DEPTH",
    "MAX_SCHEMA_DEPTH",
    "SchemaCheck",
    "check_json",
    "require_usable_schema",
    "schema_defects",
    "schema_errors",
]

logger = logging.getLogger(__name__)

#: How many levels of schema and value the built-in checker follows before it stops with an error.
MAX_CHECK_DEPTH = 128
_warned: set[frozenset[str]] = set()


@dataclass(frozen=True)
class SchemaCheck:
    """``errors`` (``"<path>: <problem>"``, empty when valid) and the schema keywords that were ``unchecked``."""

    errors: list[str]
    unchecked: frozenset[str] = field(default_factory=frozenset)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``; empty when valid (unchecked keywords are logged)."""
    return check_json(value, schema).errors


def check_json(value: Any, schema: Any) -> SchemaCheck:
    """Check ``value`` against ``schema`` with ``jsonschema`` when it can, else the built-in
    checker (see the module's doc for what the answer promises). Never raises."""
    if nests_too_deep(schema):
        return SchemaCheck([f"$: the schema is nested more than {MAX_SCHEMA_DEPTH} levels deep and cannot be checked"])
    errors = jsonschema_errors(value, schema)
    if errors is not None:
        return SchemaCheck(errors)
    try:
        outcome = BuiltinChecker(schema, limit=MAX_CHECK_DEPTH).check(value)
    except RecursionError:
        return SchemaCheck(["$: the value is nested too deep to be checked"])
    except Exception as exc:  # a bug of the checker must not lose the reply it judges: reported, not raised
        logger.exception("the JSON schema checker failed; the value counts as unchecked")
        return SchemaCheck([], frozenset({f"(checker failure: {type(exc).__name__})"}))
    unchecked = frozenset(outcome.unknown)
    if unchecked and unchecked not in _warned:
        _warned.add(unchecked)
        logger.warning("JSON schema keywords not checked: %s", ", ".join(sorted(unchecked)))
    return SchemaCheck(outcome.errors, unchecked)
