"""One table of constrained-decoding expectations, run against every local mode (pipeline and GGUF alike).

Subclass :class:`ConstrainedDecodingCases` in a backend's test module, set :attr:`mode` and
implement :meth:`llm_arguments` (``create_llm`` keyword arguments, also used in a child process)
and :meth:`constraint` (the backend's compiled constraint for a schema). Every mode then meets the same expectations:

- each row of :data:`abstractllm._private.schema_support.KEYWORDS` does what the docs table says
  (refused rows raise ``UnsupportedFeatureError`` naming the keyword and the mode);
- :data:`BOUNDS`: the constraint accepts the first texts and rejects the second (integer ranges,
  exclusive bounds, exponents, digit runs, formats, control characters, ``minProperties``);
- sampled replies to bounded schemas are valid or cut by ``max_tokens``, streamed or not;
- a schema with ``maxLength: 32767`` (which crashed llama.cpp's grammar) runs in a child process
  that must finish within its deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm._private.schema_support import KEYWORDS, KeywordSupport
from abstractllm.errors import UnsupportedFeatureError

__all__ = ["BOUNDS", "HUGE_MAX_LENGTH", "ConstrainedDecodingCases"]

_DIGITS = 15  # abstractllm._private.schema_bounds.NUMBER_BOUND has 15 digits

#: (name, schema, texts the constraint must accept, texts it must reject)
BOUNDS: tuple[tuple[str, dict[str, Any], tuple[str, ...], tuple[str, ...]], ...] = (
    ("integer range", {"type": "integer", "minimum": 0, "maximum": 9}, ("0", "7", "9"), ("10", "-1", "4444444444444444")),
    ("exclusive range", {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, ("0.5", "0.25"), ("0", "1", "1.5")),
    (
        "large integer bounds",
        {"type": "integer", "minimum": 10**12, "maximum": 10**12 + 5},
        ("1000000000003",),
        ("999999999999",),
    ),
    ("no exponent", {"type": "number"}, ("3.25", "-12", "9" * _DIGITS), ("4.4E4444444444444444", "1e5", "9" * (_DIGITS + 1))),
    ("integer digits", {"type": "integer"}, ("-" + "9" * _DIGITS,), ("9" * (_DIGITS + 1), "1.5")),
    (
        "date",
        {"type": "string", "format": "date"},
        ('"2024-02-29"', '"1999-12-31"', '"2000-02-29"'),
        ('"4444-11-31"', '"2024-13-01"', '"0000-07-03"', '"2023-02-29"', '"1900-02-29"', '"x"'),
    ),
    ("date-time", {"type": "string", "format": "date-time"}, ('"2024-01-02T03:04:05Z"',), ('"2024-01-02 03:04:05"',)),
    ("time", {"type": "string", "format": "time"}, ('"03:04:05Z"', '"23:59:59+01:00"'), ('"25:00:00Z"', '"3pm"')),
    ("email", {"type": "string", "format": "email"}, ('"ann@example.com"',), ('"ann at example"', '"a b@c.d"')),
    ("uuid", {"type": "string", "format": "uuid"}, ('"123e4567-e89b-12d3-a456-426614174000"',), ('"123e4567"',)),
    ("ipv4", {"type": "string", "format": "ipv4"}, ('"192.168.0.1"',), ('"256.1.1.1"', '"1.2.3"')),
    ("control characters", {"type": "string"}, ('"a\\nb"',), ('"a\nb"', '"a\tb"')),
    ("minProperties", {"type": "object", "minProperties": 1}, ('{"a":1}',), ("{}",)),
    ("huge maxLength", {"type": "string", "maxLength": 32767}, ('"' + "a" * 200 + '"',), ("1",)),
    ("boolean subschemas", {"type": "object", "properties": {"a": True, "b": False}}, ('{"a":[1]}', "{}"), ('{"b":1}',)),
    (
        "recursive $ref",
        {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"},
        ('{"next":{"next":{}}}',),
        ('{"next":1}',),
    ),
    ("const with escapes", {"const": {"a": 'x"\n'}}, ('{"a":"x\\"\\n"}',), ('{"a":"x"}',)),
    ("allOf", {"allOf": [{"type": "integer"}, {"minimum": 5}]}, ("5", "12"), ("4", '"5"')),
    (
        "free values are bounded too",
        {"type": "object"},
        ('{"a":[1.5,{"b":null}],"c":"x"}', '{"n":' + "9" * _DIGITS + "}"),
        ('{"a":1e5}', '{"n":' + "9" * (_DIGITS + 1) + "}", "[1]"),
    ),
)

#: The shape of the schema that crashed GGUF (SIGSEGV): a huge maxLength beside patternProperties and oneOf.
HUGE_MAX_LENGTH = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 32767},
        "kind": {"oneOf": [{"type": "string", "maxLength": 32767}, {"type": "integer"}]},
    },
    "patternProperties": {"^x-": {"type": "string", "maxLength": 32767}},
    "required": ["title"],
}

_SAMPLED = [{"temperature": 1.5, "seed": seed} for seed in range(3)]


class ConstrainedDecodingCases:
    """Subclass it, set :attr:`mode`, and implement :meth:`llm_arguments` and :meth:`constraint`."""

    mode: str = ""

    @classmethod
    def llm_arguments(cls, request: pytest.FixtureRequest) -> dict[str, Any]:
        """``create_llm("huggingface", ...)`` keyword arguments of the model under test (JSON values only)."""
        raise NotImplementedError

    def constraint(self, llm: AbstractLLMInterface, schema: dict[str, Any]) -> Any:
        """The backend's compiled constraint (a ``JsonConstraint``) for ``response_format`` = ``schema``."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def llm(cls, request: pytest.FixtureRequest) -> Iterator[AbstractLLMInterface]:
        model = create_llm("huggingface", **cls.llm_arguments(request))
        yield model
        model.unload()

    @staticmethod
    def _format(schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "case", "schema": schema}}

    @pytest.mark.parametrize("entry", KEYWORDS, ids=lambda entry: entry.keyword)
    def test_each_keyword_does_what_the_docs_table_says(self, llm: AbstractLLMInterface, entry: KeywordSupport) -> None:
        fmt = self._format(dict(entry.example))
        if entry.local == "refused":
            with pytest.raises(UnsupportedFeatureError) as caught:
                llm.generate("Reply in JSON.", response_format=fmt, temperature=0, max_tokens=1)
            message = str(caught.value)
            assert repr(entry.keyword) in message and f"in {self.mode} mode" in message, message
            assert caught.value.feature == "response_format" and entry.keyword in caught.value.details["keywords"]
        else:
            reply = llm.generate("Reply in JSON.", response_format=fmt, temperature=0, max_tokens=1)
            assert reply.finish_reason in ("stop", "length")

    @pytest.mark.parametrize(("name", "schema", "accepted", "rejected"), BOUNDS, ids=[case[0] for case in BOUNDS])
    def test_bounds_are_enforced(
        self, llm: AbstractLLMInterface, name: str, schema: dict[str, Any], accepted: tuple[str, ...], rejected: tuple[str, ...]
    ) -> None:
        constraint = self.constraint(llm, schema)
        for text in accepted:
            assert constraint.accepts(text), f"{name}: {text!r} should be accepted"
        for text in rejected:
            assert not constraint.accepts(text), f"{name}: {text!r} should be rejected"

    @pytest.mark.parametrize("settings", _SAMPLED, ids=lambda settings: f"seed{settings['seed']}")
    @pytest.mark.parametrize("name", ["integer range", "date", "exclusive range", "ipv4"])
    def test_sampled_replies_are_valid_or_cut(self, llm: AbstractLLMInterface, name: str, settings: dict[str, Any]) -> None:
        import jsonschema

        schema = next(case[1] for case in BOUNDS if case[0] == name)
        fmt = self._format(schema)
        reply = llm.generate("Give a value as JSON.", response_format=fmt, max_tokens=40, **settings)
        streamed = "".join(llm.generate("Give a value as JSON.", response_format=fmt, max_tokens=40, stream=True, **settings))
        assert streamed == str(reply)
        if reply.finish_reason != "length":
            jsonschema.validate(json.loads(str(reply)), schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    def test_a_huge_max_length_neither_crashes_nor_hangs(self, request: pytest.FixtureRequest) -> None:
        arguments, schema = json.dumps(self.llm_arguments(request)), json.dumps(HUGE_MAX_LENGTH)
        code = (
            "import json, sys\nfrom abstractllm import create_llm\n"
            f"llm = create_llm('huggingface', **json.loads({arguments!r}))\n"
            f"fmt = {{'type': 'json_schema', 'json_schema': {{'name': 'big', 'schema': json.loads({schema!r})}}}}\n"
            "reply = llm.generate('Reply in JSON.', response_format=fmt, temperature=0, max_tokens=200)\n"
            "print('FINISHED', reply.finish_reason)\n"
        )
        try:
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:  # pragma: no cover - the failure this test exists for
            pytest.fail("compiling or decoding a maxLength of 32767 did not finish within 240 s")
        assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr[-2000:]}"
        assert "FINISHED stop" in result.stdout or "FINISHED length" in result.stdout, result.stdout
