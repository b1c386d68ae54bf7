"""Constrained decoding for transformers: structured output and forced tool calls, through core's llguidance glue.

- ``response_format`` (``json_object`` / ``json_schema``): the reply is one compact
  JSON value of the schema (``{"type": "object"}`` for ``json_object``).
- ``tool_choice="required"`` or a tool's name (with tools): the reply is one tool call in
  the model's tool-call family's markup (core's ``ToolFamily.forced_call``: a JSON schema
  between literal text; see :mod:`abstractllm_hf_pipeline.tool_calls`). A forced tool
  call takes precedence over ``response_format``.

The schema is compiled by :class:`abstractllm._private.token_constraint.JsonConstraint`, the
same compiler the GGUF mode uses, so both enforce the same subset (a keyword neither can
enforce raises ``UnsupportedFeatureError`` before generation; docs/structured-output.md).
Constraints are compiled once per constraint and cached for the loaded model
(:class:`GrammarCache`). :class:`GrammarLogitsProcessor` masks the logits of the
constrained rows of a batch only, so constrained and free requests share a batch;
after the value completes only the model's end-of-sequence tokens are allowed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from abstractllm.blocks import ConstraintRun, JsonConstraint, ToolFamily
from abstractllm.errors import UnsupportedFeatureError
from abstractllm.request import GenerationRequest

__all__ = ["GrammarCache", "GrammarLogitsProcessor", "constraint_key"]

MODE = "pipeline"


def constraint_key(request: GenerationRequest, family: ToolFamily) -> str | None:
    """A stable text naming the constraint ``request`` needs (its calls in ``family``'s markup), or None when
    decoding is free."""
    if request.forces_tool_call:
        forced = family.forced_call(request.tools, request.tool_choice)
        return json.dumps(
            {"tool_call": [forced.prefix, forced.schema, forced.suffix, forced.others, forced.syntax]}, sort_keys=True
        )
    if request.response_format is not None:
        return json.dumps({"json": request.response_format.json_schema()}, sort_keys=True)
    return None


class GrammarCache:
    """Compiled constraints of one loaded model, one per constraint, compiled on first use.

    ``compiles`` counts compilations and ``compile_seconds`` their total time (so a
    second request with the same schema is seen to pay nothing). The vocabulary is read
    for llguidance on the first constrained request, not at load.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_token_ids: Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._stop_ids = list(stop_token_ids)
        self._vocabulary: Any = None
        self._compiled: dict[str, JsonConstraint] = {}
        self._lock = threading.Lock()
        self.vocab_size = vocab_size
        self.compiles = 0
        self.compile_seconds = 0.0

    def grammar_for(self, request: GenerationRequest, family: ToolFamily) -> JsonConstraint | None:
        """The compiled constraint ``request`` needs (cached), or None for free decoding; a forced call
        is written in ``family``'s markup.

        Raises ``UnsupportedFeatureError`` naming the keyword when the schema cannot be enforced.
        """
        key = constraint_key(request, family)
        if key is None:
            return None
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is None:
                started = time.perf_counter()
                compiled = self._compile(request, family)
                self.compile_seconds += time.perf_counter() - started
                self.compiles += 1
                self._compiled[key] = compiled
            return compiled

    def _llguidance_vocabulary(self, parameter: str) -> Any:
        if self._vocabulary is None:
            import llguidance.hf

            try:
                self._vocabulary = llguidance.hf.from_tokenizer(
                    self._tokenizer,  # type: ignore[arg-type]  # a slow tokenizer raises the ValueError below
                    n_vocab=self.vocab_size,
                    eos_token=self._stop_ids or None,
                )
            except ValueError as exc:  # a slow (Python) tokenizer: llguidance reads fast tokenizers only
                raise UnsupportedFeatureError(
                    f"{parameter}: constrained decoding in {MODE} mode needs a fast tokenizer (tokenizer.json); "
                    f"this model's is {type(self._tokenizer).__name__}",
                    feature=parameter,
                    mode=MODE,
                ) from exc
        return self._vocabulary

    def _compile(self, request: GenerationRequest, family: ToolFamily) -> JsonConstraint:
        if request.forces_tool_call:
            forced = family.forced_call(request.tools, request.tool_choice)
            vocabulary = self._llguidance_vocabulary("tools")
            return JsonConstraint.compile(
                vocabulary,
                forced.schema,
                mode=MODE,
                parameter="tools",
                prefix=forced.prefix,
                suffix=forced.suffix,
                alternatives=forced.others,
                syntax=forced.syntax,
            )
        assert request.response_format is not None
        vocabulary = self._llguidance_vocabulary("response_format")
        return JsonConstraint.compile(vocabulary, request.response_format.json_schema(), mode=MODE, parameter="response_format")


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks, row by row, every token the row's constraint forbids (rows with no constraint are left alone).

    ``grammars`` has one entry per batch row (after expansion for several sequences);
    ``prompt_width`` is the padded prompt length. Use one instance per ``generate``.
    A row whose last token the constraint does not accept has been ended by another
    criterion (its tokens are padding) and is no longer masked.
    """

    def __init__(self, grammars: Sequence[JsonConstraint | None], prompt_width: int, vocab_size: int) -> None:
        self._runs: list[ConstraintRun | None] = [None if grammar is None else grammar.start() for grammar in grammars]
        self._prompt_width = prompt_width
        self._vocab_size = vocab_size

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        started = input_ids.shape[1] > self._prompt_width
        width = scores.shape[-1]
        for row, run in enumerate(self._runs):
            if run is None:
                continue
            if started and not run.advance(int(input_ids[row, -1])):
                self._runs[row] = None
                continue
            forbidden = torch.from_numpy(~run.allowed()[:width]).to(scores.device)
            scores[row, : forbidden.shape[0]].masked_fill_(forbidden, float("-inf"))
            scores[row, forbidden.shape[0] :] = float("-inf")  # logits past the tokenizer's vocabulary
        return scores

    def screen(self, row: int, pending: Sequence[int], draft: Sequence[int]) -> tuple[int, list[int]]:
        """For a speculative draft of ``row``, whose tokens ``pending`` were chosen after this processor's last call:
        how many leading tokens of ``draft`` its constraint allows and the tokens it forces next
        (:meth:`~abstractllm._private.token_constraint.ConstraintRun.screen`); ``(len(draft), [])`` for a row without
        a constraint. The row's state is left as it was."""
        run = self._runs[row]
        return (len(draft), []) if run is None else run.screen(pending, draft)
