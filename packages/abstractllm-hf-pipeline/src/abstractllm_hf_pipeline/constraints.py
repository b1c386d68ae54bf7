"""Constrained decoding with xgrammar: structured output and forced tool calls.

- ``response_format`` (``json_object`` / ``json_schema``): the reply is one compact
  JSON value of the schema (``{"type": "object"}`` for ``json_object``).
- ``tool_choice="required"`` or a tool's name (with tools): the reply is one tool call,
  ``<open>`` + core's :func:`abstractllm.backend.forced_call_schema` + ``<close>`` in
  the model's tool markup (see :mod:`abstractllm_hf_pipeline.tool_calls`). A forced tool
  call takes precedence over ``response_format``.

Constrained output always ends: every run of digits in a number is at most 16 long
(integer part, fraction and exponent, as llama.cpp's converter bounds them), and
strings never contain raw control characters (xgrammar's own rule).

Grammars are compiled once per constraint and cached for the loaded model
(:class:`GrammarCache`). :class:`GrammarLogitsProcessor` masks the logits of the
constrained rows of a batch only, so constrained and free requests share a batch;
after the grammar completes only the model's end-of-sequence tokens are allowed.

xgrammar is imported, and the model's tokenizer described to it, on the first constrained
request: a model that only generates free text never pays for them (0.6 s of import here).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from abstractllm.backend import ToolMarkup, forced_call_schema
from abstractllm.errors import InvalidArgumentError
from abstractllm.request import GenerationRequest

if TYPE_CHECKING:
    import xgrammar as xgr

__all__ = ["MAX_DIGITS", "GrammarCache", "GrammarLogitsProcessor", "bounded_json_grammar", "constraint_key"]


MAX_DIGITS = 16
_DIGIT_RULE = re.compile(r"^(\w+) ::= \(\(\[0-9\]\)\)$", re.MULTILINE)


def _tool_call_schema(request: GenerationRequest) -> dict[str, Any]:
    return forced_call_schema(request.tools, request.tool_choice)


def bounded_json_grammar(schema: dict[str, Any]) -> xgr.Grammar:
    """xgrammar's compact JSON grammar for ``schema`` with every run of digits at most :data:`MAX_DIGITS` long.

    xgrammar writes unbounded digit runs as ``[0-9]*`` or as ``<digit rule>{1, -1}``
    (``Regex(...)`` rules of string patterns are left alone); both are bounded here.
    """
    import xgrammar as xgr

    text = str(xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False))
    digits = _DIGIT_RULE.findall(text)
    rest = MAX_DIGITS - 1
    lines = []
    for line in text.splitlines():
        if "Regex(" not in line:
            line = line.replace("[0-9]*", f"[0-9]{{0, {rest}}}")
            for digit in digits:
                line = line.replace(f"[1-9] {digit}{{1, -1}}", f"[1-9] {digit}{{1, {rest}}}")
                line = line.replace(f"{digit}{{1, -1}}", f"{digit}{{1, {MAX_DIGITS}}}")
        lines.append(line)
    return xgr.Grammar.from_ebnf("\n".join(lines))


def constraint_key(request: GenerationRequest) -> str | None:
    """A stable text naming the constraint ``request`` needs, or None when decoding is free."""
    if request.tools and request.tool_choice not in ("auto", "none"):
        return json.dumps({"tool_call": _tool_call_schema(request)}, sort_keys=True)
    if request.response_format is not None:
        return json.dumps({"json": request.response_format.json_schema()}, sort_keys=True)
    return None


class GrammarCache:
    """Compiled grammars of one loaded model, one per constraint, compiled on first use.

    ``compiles`` counts compilations and ``compile_seconds`` their total time (so a
    second request with the same schema is seen to pay nothing).
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_token_ids: Sequence[int], markup: ToolMarkup
    ) -> None:
        self._tokenizer = tokenizer
        self._stop_token_ids = list(stop_token_ids)
        self._compiler: xgr.GrammarCompiler | None = None  # made by the first compilation
        self._markup = markup
        self._compiled: dict[str, xgr.CompiledGrammar] = {}
        self._lock = threading.Lock()
        self.vocab_size = vocab_size
        self.compiles = 0
        self.compile_seconds = 0.0

    def grammar_for(self, request: GenerationRequest) -> xgr.CompiledGrammar | None:
        """The compiled grammar ``request`` needs (cached), or None for free decoding."""
        key = constraint_key(request)
        if key is None:
            return None
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is None:
                started = time.perf_counter()
                try:
                    compiled = self._compile(request)
                except Exception as exc:  # xgrammar rejects the schema: the caller's input is at fault
                    forced = bool(request.tools) and request.tool_choice not in ("auto", "none")
                    parameter = "tools" if forced else "response_format"
                    raise InvalidArgumentError(
                        f"{parameter}: the JSON schema cannot be used for constrained decoding: {exc}",
                        parameter=parameter,
                        value=None,
                        allowed="a JSON schema xgrammar supports",
                    ) from exc
                self.compile_seconds += time.perf_counter() - started
                self.compiles += 1
                self._compiled[key] = compiled
            return compiled

    def _compile(self, request: GenerationRequest) -> xgr.CompiledGrammar:
        import xgrammar as xgr

        if self._compiler is None:
            info = xgr.TokenizerInfo.from_huggingface(
                self._tokenizer, vocab_size=self.vocab_size, stop_token_ids=self._stop_token_ids
            )
            self._compiler = xgr.GrammarCompiler(info, cache_enabled=False)
        if request.tools and request.tool_choice not in ("auto", "none"):
            body = bounded_json_grammar(_tool_call_schema(request))
            grammar = xgr.Grammar.concat(_literal(self._markup.open), body, _literal(self._markup.close))
            return self._compiler.compile_grammar(grammar)
        assert request.response_format is not None
        return self._compiler.compile_grammar(bounded_json_grammar(request.response_format.json_schema()))


def _literal(text: str) -> xgr.Grammar:
    import xgrammar as xgr

    return xgr.Grammar.from_ebnf("root ::= " + json.dumps(text))


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks, row by row, every token the row's grammar forbids (rows with no grammar are left alone).

    ``grammars`` has one entry per batch row (after expansion for several sequences);
    ``prompt_width`` is the padded prompt length. Use one instance per ``generate``.
    A row whose last token the grammar does not accept has been ended by another
    criterion (its tokens are padding) and is no longer masked.
    """

    def __init__(self, grammars: Sequence[xgr.CompiledGrammar | None], prompt_width: int, vocab_size: int) -> None:
        import xgrammar as xgr

        self._matchers = [None if grammar is None else xgr.GrammarMatcher(grammar) for grammar in grammars]
        self._bitmask = xgr.allocate_token_bitmask(len(self._matchers), vocab_size)
        self._apply = xgr.apply_token_bitmask_inplace
        self._prompt_width = prompt_width
        self._vocab_size = vocab_size

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        started = input_ids.shape[1] > self._prompt_width
        active = []
        for row, matcher in enumerate(self._matchers):
            if matcher is None or matcher.is_terminated():
                continue
            if started and not matcher.accept_token(int(input_ids[row, -1])):
                self._matchers[row] = None
                continue
            if matcher.is_terminated():
                continue
            matcher.fill_next_token_bitmask(self._bitmask, row)
            active.append(row)
        if active:
            native = scores.device.type in ("cpu", "cuda")
            target = scores if native else scores.to("cpu")
            bitmask = self._bitmask.to(target.device)
            self._apply(target, bitmask, vocab_size=self._vocab_size, indices=active)
            if not native:
                scores.copy_(target.to(scores.device))
        return scores
