"""Greedy decoding with prompt-lookup drafts, in place of ``model.generate`` for one row.

:meth:`Speculator.generate` takes the keyword arguments the engine would give ``generate``
(one row, no padding, greedy) and returns what ``generate`` returns: the sequences, and
with ``return_dict_in_generate`` the key/values of every token but the last. In between it
runs its own loop on the model's forward pass and key/value cache:

1. prefill the uncached prompt and choose the first token, as ``generate`` does;
2. at every step, draft up to :class:`~abstractllm.speculative.DraftPolicy`'s length of tokens
   from the sequence's n-grams (:class:`~abstractllm.speculative.NgramIndex`) and feed the last
   token with the draft in one forward pass (under a grammar the draft is cut where the grammar
   forbids it, or is the grammar's forced tokens; see ``_Run._draft``);
3. walk the draft: at each position the logits processors (grammar, repetition penalty) and the
   argmax choose the token exactly as greedy ``generate`` would, the stopping criteria see it,
   and the walk goes on while the choice equals the drafted token;
4. cut the cache back to the accepted tokens.

The processors and stopping criteria are called once per generated token, in order, with
the sequence up to that token, as in ``generate``: a grammar never sees a rejected draft
token, and a draft token the grammar forbids is never chosen. A position decided in a
forward pass of several tokens has the same math as one decided alone; only float rounding
differs (about 3e-5 in SmolLM2's logits, as between a prefilled and a decoded prompt token),
so replies equal plain greedy decoding's unless two tokens tie to that precision.

Models whose cache cannot be cut at any token (sliding-window or linear-attention layers) and
models whose generation config adds logits processors this loop does not build decode one
token per forward pass (``generate`` itself for the latter).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, cast

import torch
from transformers import DynamicCache, LogitsProcessorList, RepetitionPenaltyLogitsProcessor
from transformers.generation.utils import GenerateDecoderOnlyOutput

from abstractllm.speculative import DraftPolicy, NgramIndex, SpeculationStats, SpeculativeSettings
from abstractllm_hf_pipeline.constraints import GrammarLogitsProcessor
from abstractllm_hf_pipeline.prefix_cache import cacheable

__all__ = ["Speculator"]

logger = logging.getLogger(__name__)

#: Generation-config fields that add logits processors to greedy ``generate``, with their neutral values.
_PROCESSOR_FIELDS: dict[str, Any] = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "sequence_bias": (None,),
    "exponential_decay_length_penalty": (None,),
    "guidance_scale": (None, 1.0),
    "renormalize_logits": (None, False),
}


class Speculator:
    """Speculative greedy decoding on one loaded model; ``stats`` counts its drafts (thread-safe)."""

    def __init__(self, model: Any, cache_field: str) -> None:
        self._model = model
        self._cache_field = cache_field
        config = model.generation_config
        extra = [name for name, neutral in _PROCESSOR_FIELDS.items() if getattr(config, name, None) not in neutral]
        #: Why this model decodes plainly even when asked to speculate, or None.
        self.unsupported = f"its generation config sets {', '.join(extra)}" if extra else None
        self.stats = SpeculationStats()

    def generate(self, kwargs: dict[str, Any], settings: SpeculativeSettings | None) -> Any:
        """What ``model.generate(**kwargs)`` returns: computed with drafts for greedy one-row ``kwargs`` and
        ``settings``, by ``generate`` itself when ``settings`` is None."""
        if settings is None or self.unsupported is not None:
            if settings is not None:
                logger.debug("speculation off for this model: %s", self.unsupported)
            return self._model.generate(**kwargs)
        input_ids: torch.Tensor = kwargs["input_ids"]
        cache = kwargs.get(self._cache_field)
        if cache is None:
            cache = DynamicCache(config=self._model.config)
        processors = LogitsProcessorList()
        if kwargs.get("repetition_penalty") is not None:
            processors.append(RepetitionPenaltyLogitsProcessor(kwargs["repetition_penalty"]))
        processors.extend(kwargs.get("logits_processor") or [])
        run = _Run(self._model, cache, self._cache_field, processors, kwargs, settings)
        sequences = run.decode(input_ids)
        self.stats.add(requests=1, drafted=run.drafted, accepted=run.accepted, verifications=run.verifications)
        if not kwargs.get("return_dict_in_generate"):
            return sequences
        output = GenerateDecoderOnlyOutput(sequences=cast(torch.LongTensor, sequences))
        setattr(output, self._cache_field, run.cache)
        return output


class _Run:
    """One request's decoding loop (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        cache: Any,
        cache_field: str,
        processors: LogitsProcessorList,
        kwargs: dict[str, Any],
        settings: SpeculativeSettings,
    ) -> None:
        self._model = model
        self.cache = cache
        self._cache_field = cache_field
        self._processors = processors
        self._stopping: Callable[..., Any] = kwargs["stopping_criteria"]
        self._eos = set(kwargs.get("eos_token_id") or ())
        self._budget = int(kwargs["max_new_tokens"])
        self._settings = settings
        self._policy = DraftPolicy(settings.draft_tokens)
        self.drafted = self.accepted = self.verifications = 0
        self._keeps = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._sequence = self._mask = torch.empty(0)
        #: The grammar of a constrained reply, which screens the drafts (one row: row 0), or None.
        self._grammar = next((each for each in processors if isinstance(each, GrammarLogitsProcessor)), None)
        self._heard = True  # whether the policy hears how the current draft fares

    def decode(self, input_ids: torch.Tensor) -> torch.Tensor:
        device = input_ids.device
        ids: list[int] = input_ids[0].tolist()
        width = len(ids)
        longest = width + self._budget + self._settings.draft_tokens + 1
        # the sequence so far as the processors and stopping criteria see it (views of one buffer, no copies)
        self._sequence = torch.zeros((1, longest), dtype=torch.long, device=device)
        self._sequence[0, :width] = input_ids[0]
        self._mask = torch.ones((1, longest), dtype=torch.long, device=device)
        index = NgramIndex(ids, self._settings.ngram_size)
        if self.cache.get_seq_length() >= width:  # at least the last prompt token is fed
            self._cut(width - 1)
        logits = self._forward(ids[self.cache.get_seq_length() :], device, keep=1)
        cuttable = cacheable(self.cache)
        position = 0  # which row of ``logits`` decides the next token
        draft: list[int] = []
        while True:
            token, done = self._choose(len(ids), logits[position])
            ids.append(token)
            index.extend((token,))
            made = len(ids) - width
            hit = position < len(draft) and token == draft[position]
            if hit and not done:
                position += 1  # the drafted token is greedy decoding's choice: its logits are already computed
                continue
            if draft:
                self._record(len(draft), position + hit, heard=self._heard)
                self._cut(len(ids) - 1)  # drop the key/values of the rejected draft tokens
            if done or made >= self._budget:
                break
            room = self._budget - made - 1  # the pass after the draft yields one token more than it accepts
            draft, self._heard = self._draft(index, token, room) if cuttable and room > 0 else ([], True)
            logits = self._forward([token, *draft], device, keep=len(draft) + 1)
            position = 0
        return self._sequence[:, : len(ids)].clone()

    def _draft(self, index: NgramIndex, token: int, room: int) -> tuple[list[int], bool]:
        """The draft to check after ``token`` (at most ``room`` tokens), and whether the policy hears how it fares.

        Free decoding drafts the policy's length of n-gram tokens. Under a grammar the n-gram draft is cut at its
        first token the grammar forbids (it could not be chosen); when none of it is allowed, the grammar's forced
        tokens (a key's name, say) are drafted, continued by the n-gram draft after them. Forced tokens are drafted
        even while the policy pauses (they are nearly always chosen), and such drafts do not count for the policy.
        """
        length = min(self._policy.length(), room)
        if self._grammar is None:
            return index.draft(length), True
        draft = index.draft(length)
        allowed, forced = self._grammar.screen(0, [token], draft)
        if allowed or not forced:
            return draft[:allowed], True
        forced = forced[: min(self._settings.draft_tokens, room)]
        more = index.draft(length - len(forced), after=forced)
        allowed, _ = self._grammar.screen(0, [token, *forced], more)
        return [*forced, *more[:allowed]], length > 0

    def _choose(self, length: int, logits: torch.Tensor) -> tuple[int, bool]:
        """Greedy ``generate``'s next token after the first ``length`` tokens of the sequence, from this position's
        ``logits``, and whether to stop; the token is written into the sequence."""
        sequence = cast(torch.LongTensor, self._sequence[:, :length])
        scores = logits[None].to(dtype=torch.float32, copy=True)
        if self._processors:
            scores = self._processors(sequence, scores)
        token = int(torch.argmax(scores, dim=-1))
        self._sequence[0, length] = token
        stopped = bool(torch.as_tensor(self._stopping(self._sequence[:, : length + 1], scores)).all())
        return token, stopped or token in self._eos

    def _forward(self, tokens: list[int], device: torch.device, *, keep: int) -> torch.Tensor:
        """Feed ``tokens`` after the cached ones; the logits of the last ``keep`` positions, one row each."""
        total = self.cache.get_seq_length() + len(tokens)
        extra = {"logits_to_keep": keep} if self._keeps else {}
        output = self._model(
            input_ids=torch.tensor([tokens], dtype=torch.long, device=device),
            attention_mask=self._mask[:, :total],
            use_cache=True,
            **{self._cache_field: self.cache},
            **extra,
        )
        return output.logits[0, -keep:]

    def _record(self, drafted: int, accepted: int, *, heard: bool) -> None:
        if heard:
            self._policy.record(drafted, accepted)
        self.drafted += drafted
        self.accepted += accepted
        self.verifications += 1

    def _cut(self, length: int) -> None:
        """Keep the key/values of the first ``length`` tokens."""
        for layer in self.cache.layers:
            if layer.keys is not None and layer.keys.shape[-2] > length:
                layer.keys = layer.keys[..., :length, :]
                layer.values = layer.values[..., :length, :]
