"""What constrains a reply in the GGUF mode: JSON schemas and forced tool calls (llguidance), raw GBNF (llama.cpp).

Schemas and forced tool calls are compiled by core's
:class:`abstractllm._private.token_constraint.JsonConstraint`, the same compiler the pipeline
mode uses, so both modes enforce the same subset (a keyword neither can enforce raises
``UnsupportedFeatureError`` before generation; docs/structured-output.md). It runs inside
llama.cpp's sampling as a logits processor (:func:`sampling_constraint`) that masks, before every
token, what the schema forbids: numbers are bounded (no exponent, at most 15 digits before the
point when the schema gives no bound), strings hold no raw control characters, and once the value
is complete only end-of-generation tokens remain. The vocabulary is read for llguidance once per
loaded model (about a second for a 50k vocabulary), on the first constrained request.

A caller's own GBNF (the ``grammar`` option) stays llama.cpp's: compiled once per model and checked
by building llama.cpp's grammar sampler, so one llama.cpp cannot parse is an
``InvalidArgumentError`` before generation rather than a crash in it.

A forced tool call is the shape the model's tool-call family gives (core's ``ToolFamily.forced_call``:
a JSON schema between literal text, e.g. ``<tool_call>...</tool_call>``).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Collection
from typing import Any

from abstractllm.blocks import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, ConstraintRun, ForcedCall, JsonConstraint
from abstractllm.errors import InvalidArgumentError
from abstractllm.request import ResponseFormat
from abstractllm_hf_gguf.model import LoadedModel

__all__ = [
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "gbnf_grammar",
    "response_grammar",
    "sampling_constraint",
    "tool_call_grammar",
]

MODE = "gguf"
_MAX_CACHED = 128
_VOCABULARIES: weakref.WeakKeyDictionary[LoadedModel, Any] = weakref.WeakKeyDictionary()


def response_grammar(model: LoadedModel, response_format: ResponseFormat) -> JsonConstraint:
    """The constraint admitting exactly the JSON values ``response_format`` describes (bounded as above)."""
    schema = response_format.json_schema()
    return _cached(
        model,
        "schema:" + _canonical(schema),
        lambda: JsonConstraint.compile(_vocabulary(model), schema, mode=MODE, parameter="response_format"),
    )


def tool_call_grammar(model: LoadedModel, forced: ForcedCall, markers: Collection[int] = ()) -> JsonConstraint:
    """The constraint for one forced call: ``forced.prefix``, one value of ``forced.schema`` (written in
    ``forced.syntax``), ``forced.suffix`` (or one of ``forced.others``); the special tokens ``markers`` are written as
    those tokens, not spelled out."""
    specials = {model.piece(token, special=True).decode("utf-8", "replace"): token for token in markers}
    return _cached(
        model,
        "tool:"
        + _canonical([forced.prefix, forced.schema, forced.suffix, forced.others, forced.syntax, sorted(specials.items())]),
        lambda: JsonConstraint.compile(
            _vocabulary(model),
            forced.schema,
            mode=MODE,
            parameter="tools",
            prefix=forced.prefix,
            suffix=forced.suffix,
            alternatives=forced.others,
            specials=specials,
            syntax=forced.syntax,
        ),
    )


def gbnf_grammar(model: LoadedModel, grammar: str) -> Any:
    """A caller's own GBNF grammar (its start rule is ``root``), as llama.cpp runs it."""
    return _cached(model, "gbnf:" + grammar, lambda: _checked(model, grammar, "grammar"))


def sampling_constraint(grammar: Any, prompt_length: int) -> dict[str, Any]:
    """``Llama.generate`` keyword arguments applying ``grammar`` (one of this module's, or None) to one run."""
    if grammar is None:
        return {}
    if isinstance(grammar, JsonConstraint):
        return {"logits_processor": [_MaskLogits(grammar.start(), prompt_length)]}
    return {"grammar": grammar}


class _MaskLogits:
    """llama-cpp-python logits processor: follows the sampled tokens and masks what the constraint forbids."""

    def __init__(self, run: ConstraintRun, prompt_length: int) -> None:
        self._run = run
        self._seen = prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for token in input_ids[self._seen :]:  # the tokens sampled since the last call (one, in practice)
            self._run.advance(int(token))
        self._seen = len(input_ids)
        allowed = self._run.allowed()
        shared = min(len(scores), len(allowed))
        scores[:shared][~allowed[:shared]] = float("-inf")
        scores[shared:] = float("-inf")
        return scores


def _vocabulary(model: LoadedModel) -> Any:
    """The model's vocabulary for llguidance (built once per loaded model; end-of-generation tokens end a value)."""
    vocabulary = _VOCABULARIES.get(model)
    if vocabulary is None:
        import llama_cpp
        from llguidance.llamacpp import lltokenizer_from_vocab

        vocab = model.llama._model.vocab
        size = llama_cpp.llama_vocab_n_tokens(vocab)
        ends = [token for token in range(size) if model.is_end(token)] or None
        vocabulary = _VOCABULARIES[model] = lltokenizer_from_vocab(vocab, n_vocab=model.llama.n_vocab(), eos_token=ends)
    return vocabulary


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _cached(model: LoadedModel, key: str, build: Any) -> Any:
    grammar = model.grammars.get(key)
    if grammar is None:
        if len(model.grammars) >= _MAX_CACHED:
            model.grammars.pop(next(iter(model.grammars)))
        grammar = model.grammars[key] = build()
    return grammar


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
