"""Saved KV states of one llama.cpp model, so many conversations keep their prefixes.

llama.cpp keeps one KV cache per context and ``Llama.generate`` reuses its common
prefix with the next prompt: one conversation costs only its new tokens, but two
interleaved ones evict each other. :class:`PrefixCache` saves the KV state of the
sequence (``llama_state_seq_get_data``, the KV only, not the logits) before a
generation would overwrite a long part of it, and restores the saved state that
shares the longest prefix with a new prompt when that beats what the context holds.
``Llama.generate`` then trims the restored KV to the common prefix and decodes the
rest, so the reply is the one a full prefill gives.

States are kept by token sequence, bounded by ``budget`` bytes, least recently used
evicted first; a state whose tokens are a prefix of a newer one is dropped (the newer
serves every prompt it would). One cache per loaded model (never shared across
models); every call runs under the model's guard. Recurrent and hybrid models, whose
state cannot be trimmed to a prefix, do not use it.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PrefixCache"]

logger = logging.getLogger(__name__)

#: A state is saved or restored only when that keeps or wins at least this many tokens.
MIN_TOKENS = 16


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """The length of the common prefix of two token arrays."""
    import numpy as np

    size = min(len(a), len(b))
    if size == 0:
        return 0
    differ = np.flatnonzero(a[:size] != b[:size])
    return int(differ[0]) if len(differ) else size


class PrefixCache:
    """Saved sequence states of one ``llama_cpp.Llama`` (see module doc). ``budget`` 0 disables it."""

    def __init__(self, llama: Any, budget: int) -> None:
        import llama_cpp

        self._llama = llama
        self._lib = llama_cpp
        self.budget = budget if not (llama._is_recurrent or llama._is_hybrid) else 0
        self._states: OrderedDict[tuple[int, ...], tuple[np.ndarray, ctypes.Array[ctypes.c_uint8]]] = OrderedDict()
        self._bytes = 0
        self._counts = {"hits": 0, "live_hits": 0, "misses": 0, "saves": 0, "evictions": 0}

    def info(self) -> dict[str, int]:
        """``hits`` (prompts served from a saved state), ``live_hits`` (from what the context held),
        ``misses``, ``saves``, ``evictions``, ``entries``, ``bytes`` held and ``budget_bytes``."""
        return {**self._counts, "entries": len(self._states), "bytes": self._bytes, "budget_bytes": self.budget}

    def prepare(self, prompt: Sequence[int]) -> None:
        """Before generating ``prompt``: save the context's state if the prompt would overwrite a long
        part of it, and restore the saved state with the longest common prefix if it beats the context."""
        llama = self._llama
        if llama.n_tokens < MIN_TOKENS and (len(prompt) < MIN_TOKENS or not self._states):
            # nothing worth saving, and no saved state can add MIN_TOKENS to what the context matches
            self._counts["misses"] += 1
            return
        import numpy as np

        wanted = np.asarray(prompt, dtype=np.intc)
        live = llama.input_ids[: llama.n_tokens]
        live_match = _common_prefix(live, wanted)
        if self.budget and llama.n_tokens - live_match >= MIN_TOKENS:
            self._save(live)
        best: tuple[int, ...] | None = None
        best_match = live_match
        for tokens, (array, _) in self._states.items():
            match = _common_prefix(array, wanted)
            if match > best_match:
                best, best_match = tokens, match
        if best is not None and best_match >= live_match + MIN_TOKENS and self._restore(best):
            self._counts["hits"] += 1
            logger.debug("prefix cache hit: %d of %d prompt tokens restored", best_match, len(wanted))
        elif live_match >= MIN_TOKENS:
            self._counts["live_hits"] += 1
        else:
            self._counts["misses"] += 1

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0

    def _save(self, live: np.ndarray) -> None:
        import numpy as np

        tokens = tuple(int(token) for token in live)
        if tokens in self._states:
            self._states.move_to_end(tokens)
            return
        ctx = self._llama._ctx.ctx
        size = int(self._lib.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self.budget:
            return
        buffer = (ctypes.c_uint8 * size)()
        written = int(self._lib.llama_state_seq_get_data(ctx, buffer, size, 0))
        if written != size:
            return
        for older in [saved for saved in self._states if len(saved) < len(tokens) and tokens[: len(saved)] == saved]:
            self._drop(older)
        self._states[tokens] = (np.array(tokens, dtype=np.intc), buffer)
        self._bytes += size
        self._counts["saves"] += 1
        while self._bytes > self.budget:
            self._drop(next(iter(self._states)))
            self._counts["evictions"] += 1
        logger.debug("prefix cache saved %d tokens (%d bytes; %d bytes held)", len(tokens), size, self._bytes)

    def _restore(self, tokens: tuple[int, ...]) -> bool:
        llama = self._llama
        array, buffer = self._states[tokens]
        self._states.move_to_end(tokens)
        ctx = llama._ctx.ctx
        self._lib.llama_memory_clear(self._lib.llama_get_memory(ctx), True)
        if not self._lib.llama_state_seq_set_data(ctx, buffer, len(buffer), 0):
            llama.n_tokens = 0
            self._drop(tokens)
            return False
        llama.input_ids[: len(array)] = array
        llama.n_tokens = len(array)
        llama._requires_eval = True  # the logits are not restored: generate decodes at least one token
        return True

    def _drop(self, tokens: tuple[int, ...]) -> None:
        _, buffer = self._states.pop(tokens)
        self._bytes -= len(buffer)
