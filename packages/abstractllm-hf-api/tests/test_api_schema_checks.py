"""Schemas through an endpoint: the reply check never loses a valid reply, and a schema that
cannot be checked (too deep, a ``$ref`` cycle) is refused before any request is sent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.json_schema.patterns import compile_pattern

LETTERS = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^\\p{L}+$"}}, "required": ["name"]}
TREE = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}


def fmt(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}


@pytest.fixture(params=["regex", "re"])
def pattern_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Patterns compiled with the ``regex`` module, or with ``re`` alone (``\\p{L}`` then unchecked)."""
    if request.param == "re":
        monkeypatch.setitem(sys.modules, "regex", None)
    else:
        pytest.importorskip("regex")
    compile_pattern.cache_clear()
    yield str(request.param)
    compile_pattern.cache_clear()


@pytest.mark.parametrize("checker", ["jsonschema", "builtin"])
@pytest.mark.parametrize("how", ["sync", "stream", "async"])
def test_a_unicode_property_pattern_never_loses_a_valid_reply(
    fake: Any, monkeypatch: pytest.MonkeyPatch, pattern_engine: str, checker: str, how: str
) -> None:
    if checker == "builtin":
        monkeypatch.setitem(sys.modules, "jsonschema", None)
    else:
        pytest.importorskip("jsonschema")
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    options: dict[str, Any] = {"response_format": fmt(LETTERS), "temperature": 0, "max_tokens": 16}
    if how == "sync":
        text = llm.generate("A name?", **options).text
    elif how == "stream":
        text = "".join(str(chunk) for chunk in llm.generate("A name?", stream=True, **options))
    else:
        text = asyncio.run(llm.generate_async("A name?", **options)).text
    assert json.loads(text) == {"name": "x"}  # the server's valid reply, not ProviderAPIError: bad escape \p
    reply = llm.generate("A name?", **options)
    assert reply.parsed == {"name": "x"}
    assert len(fake.posts("/chat/completions")) == 2


_REFUSED = textwrap.dedent(
    """
    import json, sys
    from abstractllm import create_llm
    from abstractllm.errors import InvalidArgumentError
    deep = {"type": "string"}
    for _ in range(400):
        deep = {"type": "object", "properties": {"a": deep}}
    cycle = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    llm = create_llm("huggingface", inference_api_url=sys.argv[1], protocol="openai", max_retries=0)
    answers = {}
    for name, schema in (("deep", deep), ("cycle", cycle)):
        fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
        try:
            llm.generate("Hi", response_format=fmt, max_tokens=8)
            answers[name] = "sent"
        except InvalidArgumentError as exc:
            answers[name] = [exc.parameter, str(exc)]
    print(json.dumps(answers))
    """
)


def test_a_deep_schema_or_a_ref_cycle_is_refused_before_the_request_is_sent(fake: Any) -> None:
    done = subprocess.run([sys.executable, "-c", _REFUSED, fake.url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout)
    assert answers["deep"][0] == "response_format" and "nested more than 100 levels deep (the limit)" in answers["deep"][1]
    assert answers["cycle"][0] == "response_format" and "a $ref cycle" in answers["cycle"][1]
    assert fake.posts("/chat/completions") == []  # nothing was sent
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai", max_retries=0)
    reply = llm.generate("Hi", response_format=fmt(TREE), max_tokens=8)  # a recursive schema that is legal
    assert reply.parsed == {"children": [{}]} and len(fake.posts("/chat/completions")) == 1
