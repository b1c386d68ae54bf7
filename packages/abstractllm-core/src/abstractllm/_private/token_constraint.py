"""Constrained decoding for the local modes: one JSON-schema compiler (llguidance) and its token masks.

Both local backends (transformers and llama.cpp) constrain a structured reply or a forced tool
call through this module, so a schema gets the same enforced subset in both
(:mod:`abstractllm._private.schema_support` lists it). A backend builds an ``LLTokenizer`` of
its vocabulary once per loaded model (``llguidance.hf.from_tokenizer`` or
``llguidance.llamacpp.lltokenizer_from_vocab``), compiles each constraint once with
:meth:`JsonConstraint.compile` (a schema the compiler cannot enforce raises
``UnsupportedFeatureError`` naming the keyword and the mode, before any token is decoded), and
per decoding run calls :meth:`JsonConstraint.start`: the :class:`ConstraintRun` follows the
sampled tokens and says which tokens may come next (only end-of-sequence tokens once the value
is complete).

The schema is compiled as :func:`abstractllm._private.schema_bounds.bounded_schema` returns it,
in compact form (no whitespace between tokens), so every number, and the reply, ends.
llguidance and numpy are imported when first used: the local backends install both; core
itself does not depend on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from abstractllm._private.schema_bounds import bounded_schema
from abstractllm._private.schema_support import refusal

if TYPE_CHECKING:
    import numpy as np
    from llguidance import LLMatcher, LLTokenizer

__all__ = ["ConstraintRun", "JsonConstraint", "json_grammar"]

_COMPACT = {"whitespace_pattern": " ?"}


def json_grammar(
    schema: dict[str, Any],
    *,
    prefix: str = "",
    suffix: str = "",
    free_values: bool = True,
    tokenizer: LLTokenizer | None = None,
    alternatives: Sequence[tuple[str, dict[str, Any], str]] = (),
    specials: Mapping[str, int] | None = None,
    syntax: str = "json",
) -> str:
    """The llguidance grammar for one compact JSON value of ``schema``, between the literal ``prefix`` and ``suffix``
    (``free_values``: see :func:`abstractllm._private.schema_bounds.bounded_schema`), or any of the
    ``alternatives`` (more ``(prefix, schema, suffix)`` choices). With ``tokenizer``, a special token of it
    written in a prefix or suffix (a tool-call marker such as ``[TOOL_CALLS]``) must be that token, as the
    model writes it, rather than its text spelled in other tokens (``specials`` maps such tokens' text to
    their ids when the tokenizer cannot tell, as llama.cpp's). ``syntax="functiongemma"``: the value is
    written in FunctionGemma's syntax instead of JSON (:mod:`abstractllm._private.functiongemma_syntax`)."""
    from llguidance import LLMatcher

    def prepared(value: dict[str, Any]) -> str:
        return json.dumps({**bounded_schema(value, free_values=free_values), "x-guidance": _COMPACT})

    if not prefix and not suffix and not alternatives and syntax == "json":
        return LLMatcher.grammar_from_json_schema(prepared(schema))
    choices = [(prefix, schema, suffix), *alternatives]
    lines = ["start: " + " | ".join(f"call{index}" for index in range(len(choices)))]
    for index, (before, value, after) in enumerate(choices):
        parts = [*_literal(before, tokenizer, specials), f"body{index}", *_literal(after, tokenizer, specials)]
        lines.append(f"call{index}: " + " ".join(parts))
        if syntax == "json":
            lines.append(f"body{index}: %json {prepared(value)}")
        else:
            lines.extend(_value_rules(syntax, value, f"body{index}", tokenizer, specials))
    return LLMatcher.grammar_from_lark("\n".join(lines) + "\n")


def _value_rules(
    syntax: str, schema: dict[str, Any], start: str, tokenizer: LLTokenizer | None, specials: Mapping[str, int] | None
) -> list[str]:
    """The rules of one value of ``schema`` written in a family's own ``syntax``."""
    from abstractllm._private.functiongemma_syntax import ESCAPE, SYNTAX, value_rules

    if syntax != SYNTAX:
        raise ValueError(f"unknown value syntax {syntax!r}")
    return value_rules(schema, start, " ".join(_literal(ESCAPE, tokenizer, specials)))


def _literal(text: str, tokenizer: LLTokenizer | None, specials: Mapping[str, int] | None = None) -> list[str]:
    """Lark items matching ``text``: its special tokens by id (those of ``specials``, the text of each to its
    id, when given; else those ``tokenizer`` finds in it), the rest as quoted text."""
    if not text:
        return []
    if specials:
        pattern = "(" + "|".join(re.escape(marker) for marker in sorted(specials, key=len, reverse=True)) + ")"
        return [f"<[{specials[part]}]>" if part in specials else json.dumps(part) for part in re.split(pattern, text) if part]
    if tokenizer is None:
        return [json.dumps(text)]
    items: list[str] = []
    plain: list[int] = []
    for token in [*tokenizer.tokenize_str(text), None]:
        if token is not None and not tokenizer.is_special_token(token):
            plain.append(token)
            continue
        if plain:
            items.append(json.dumps(tokenizer.decode_str(plain)))
            plain = []
        if token is not None:
            items.append(f"<[{token}]>")
    return items


class JsonConstraint:
    """A compiled constraint for one tokenizer; :meth:`start` it once per decoding run (thread-safe to share)."""

    def __init__(self, matcher: LLMatcher, tokenizer: LLTokenizer) -> None:
        self._matcher = matcher
        self._tokenizer = tokenizer
        self.vocab_size: int = tokenizer.vocab_size

    @classmethod
    def compile(
        cls,
        tokenizer: LLTokenizer,
        schema: dict[str, Any],
        *,
        mode: str,
        parameter: str,
        prefix: str = "",
        suffix: str = "",
        alternatives: Sequence[tuple[str, dict[str, Any], str]] = (),
        specials: Mapping[str, int] | None = None,
        syntax: str = "json",
    ) -> JsonConstraint:
        """Compile ``schema`` (wrapped in ``prefix``/``suffix``, or any of ``alternatives``; its value written in
        ``syntax``, see :func:`json_grammar`) for ``tokenizer``.

        Raises ``UnsupportedFeatureError`` (``feature=parameter``) naming the keyword and
        ``mode`` when the schema cannot be enforced while decoding.
        """
        from llguidance import LLMatcher

        error = ""
        for free_values in (True, False):  # bounded free values can make a recursive schema too deep to intersect
            try:
                grammar = json_grammar(
                    schema,
                    prefix=prefix,
                    suffix=suffix,
                    free_values=free_values,
                    tokenizer=tokenizer,
                    alternatives=alternatives,
                    specials=specials,
                    syntax=syntax,
                )
            except ValueError as exc:  # not a JSON object: core checks schemas first, so this is a compiler limit
                raise refusal(str(exc), mode=mode, parameter=parameter) from exc
            matcher = LLMatcher(tokenizer, grammar, log_level=0)
            if not matcher.is_error():
                return cls(matcher, tokenizer)
            error = error or matcher.get_error()
        raise refusal(error, mode=mode, parameter=parameter)

    def start(self) -> ConstraintRun:
        """A fresh run at the start of the value."""
        return ConstraintRun(self._matcher.deep_copy(), self.vocab_size)

    def accepts(self, text: str) -> bool:
        """Whether decoding could produce exactly ``text`` (as the model's tokenizer splits it) and stop there."""
        matcher = self._matcher.deep_copy()
        return bool(matcher.consume_tokens(self._tokenizer.tokenize_str(text)) and matcher.is_accepting())


class ConstraintRun:
    """One decoding run: :meth:`advance` with each sampled token, :meth:`allowed` before sampling the next."""

    def __init__(self, matcher: LLMatcher, vocab_size: int) -> None:
        import numpy

        self._matcher = matcher
        self._vocab_size = vocab_size
        self._words = numpy.full((vocab_size + 31) // 32, -1, dtype=numpy.int32)

    def advance(self, token: int) -> bool:
        """Follow ``token``; False when the constraint does not allow it (the run is then over)."""
        return bool(self._matcher.consume_token(token))

    @property
    def finished(self) -> bool:
        """The value is complete (or the run failed): only end-of-sequence may follow."""
        return bool(self._matcher.is_stopped())

    def screen(self, pending: Sequence[int], draft: Sequence[int]) -> tuple[int, list[int]]:
        """For a speculative draft, with the run left as it was: once the tokens ``pending`` followed (chosen but not
        yet passed to :meth:`advance`), how many leading tokens of ``draft`` the constraint allows, and the tokens it forces
        next (its fast-forward tokens: the canonical tokens of the text every continuation starts with; may be
        empty). ``(0, [])`` when it does not allow ``pending``."""
        consumed = self._matcher.try_consume_tokens(list(pending))
        try:
            if consumed < len(pending):
                return 0, []
            return self._matcher.validate_tokens(list(draft)), list(self._matcher.compute_ff_tokens())
        finally:
            if consumed:
                self._matcher.rollback(consumed)

    def allowed(self) -> np.ndarray:
        """A boolean array over the vocabulary: True where the token may come next."""
        import numpy

        self._matcher.unsafe_compute_mask_ptr(self._words.ctypes.data, self._words.nbytes)
        bits = numpy.unpackbits(self._words.view(numpy.uint8), bitorder="little")
        return bits[: self._vocab_size].astype(bool)
