"""llama.cpp grammars that constrain a reply: JSON schemas, forced tool calls, raw GBNF.

Schemas become GBNF through llama-cpp-python's ``json_schema_to_gbnf`` (its port of
llama.cpp's converter). Its numbers are bounded as in llama.cpp (at most 16 digits
before the point, 16 after it and 16 in the exponent), so constrained output always
ends; its string characters are narrowed to JSON's (no raw control characters, which
``json.loads`` rejects). Every grammar is compiled once per model and key, and checked
by building llama.cpp's grammar sampler, so a grammar llama.cpp cannot parse is an
``InvalidArgumentError`` before generation rather than a crash in it.

A forced tool call is core's :func:`abstractllm.backend.forced_call_schema`,
wrapped in ``<tool_call>...</tool_call>`` when ``tagged``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from abstractllm.backend import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, forced_call_schema
from abstractllm.errors import InvalidArgumentError
from abstractllm.request import ResponseFormat
from abstractllm.tools import ToolDefinition
from abstractllm_hf_gguf.model import LoadedModel

__all__ = ["JSON_CHAR_RULE", "TOOL_CALL_CLOSE", "TOOL_CALL_OPEN", "gbnf_grammar", "response_grammar", "tool_call_grammar"]

_MAX_CACHED = 128
_ROOT_RULE = re.compile(r"^root\s*::=", re.MULTILINE)
_CHAR_RULE = re.compile(r"^char ::= .*$", re.MULTILINE)
#: A JSON string character: anything but a quote, a backslash or a control character, or an escape.
JSON_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'


def response_grammar(model: LoadedModel, response_format: ResponseFormat) -> Any:
    """A grammar admitting exactly the JSON values ``response_format`` describes."""
    schema = response_format.json_schema()
    return _cached(
        model, "schema:" + _canonical(schema), lambda: _checked(model, _schema_gbnf(schema, "response_format"), "response_format")
    )


def tool_call_grammar(model: LoadedModel, tools: Sequence[ToolDefinition], choice: str, *, tagged: bool) -> Any:
    """A grammar for one call to the tool named ``choice`` (or any of ``tools`` for ``"required"``).

    The call is ``{"name": ..., "arguments": {...}}`` with the arguments following the
    tool's schema, wrapped in ``<tool_call>...</tool_call>`` when ``tagged``.
    """
    schema = forced_call_schema(tools, choice)
    key = f"tool:{int(tagged)}:" + _canonical(schema)

    def build() -> str:
        body = _schema_gbnf(schema, "tools")
        if not tagged:
            return body
        renamed = _ROOT_RULE.sub("tool-call-json ::=", body, count=1)
        return f"root ::= {json.dumps(TOOL_CALL_OPEN)} tool-call-json {json.dumps(TOOL_CALL_CLOSE)}\n{renamed}"

    return _cached(model, key, lambda: _checked(model, build(), "tools"))


def gbnf_grammar(model: LoadedModel, grammar: str) -> Any:
    """A caller's own GBNF grammar (its start rule is ``root``)."""
    return _cached(model, "gbnf:" + grammar, lambda: _checked(model, grammar, "grammar"))


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _cached(model: LoadedModel, key: str, build: Any) -> Any:
    grammar = model.grammars.get(key)
    if grammar is None:
        if len(model.grammars) >= _MAX_CACHED:
            model.grammars.pop(next(iter(model.grammars)))
        grammar = model.grammars[key] = build()
    return grammar


def _schema_gbnf(schema: dict[str, Any], parameter: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = str(json_schema_to_gbnf(json.dumps(schema)))
    except Exception as exc:  # the converter raises assorted errors for unsupported schemas
        raise InvalidArgumentError(
            f"{parameter}: llama.cpp cannot turn this JSON schema into a grammar: {type(exc).__name__}: {exc}",
            parameter=parameter,
            value=schema,
            allowed="a JSON schema llama.cpp's json_schema_to_grammar supports",
        ) from exc
    return _CHAR_RULE.sub(lambda _: JSON_CHAR_RULE, gbnf)


def _checked(model: LoadedModel, gbnf: str, parameter: str) -> Any:
    """Compile ``gbnf`` once through llama.cpp's own parser; reject it when that fails."""
    import llama_cpp
    from llama_cpp import LlamaGrammar

    sampler = llama_cpp.llama_sampler_init_grammar(model.llama._model.vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise InvalidArgumentError(
            f"{parameter}: llama.cpp could not parse the grammar (see the abstractllm_hf_gguf.llama_cpp log for why)",
            parameter=parameter,
            value=gbnf[:200],
            allowed="a GBNF grammar with a 'root' rule",
        )
    llama_cpp.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(gbnf, verbose=False)
