"""Reusing the past key/values of earlier requests whose token ids start a new request.

Sessions, tool loops and repeated system prompts send the same growing prefix again
and again. :class:`PrefixCache` keeps, per finished row, the prompt and reply token
ids with their key/values as a one-row transformers ``DynamicCache``, bounded by a
byte budget with least-recently-used eviction. A new request looks up the entry that
shares the longest run of leading token ids with it; only the rest is prefilled.

Dynamic batching: every row of a batch reuses its own prefix. :func:`batch_cache`
lays the rows' reused key/values side by side, each right-aligned at column ``C``
(the longest reused length) with zeros to its left, and the batch's input ids become
``[padding, reused ids | padding, new ids]`` with an attention mask that is zero on
both paddings. ``generate`` then derives every position from the mask, so each row
sees exactly its own tokens at their own positions, as in a full prefill.

Only models whose cache is made of plain ``DynamicLayer`` s (full attention) take
part: sliding-window and linear-attention layers cannot be cut at an arbitrary token.
The cache belongs to one loaded model (weights and adapters), so it is never shared
between models.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

__all__ = ["MIN_REUSED_TOKENS", "PrefixCache", "batch_cache", "cacheable", "row_cache"]

logger = logging.getLogger(__name__)

#: Shorter common prefixes are not worth a lookup hit (a chat template's first few tokens are shared by all prompts).
MIN_REUSED_TOKENS = 8


@dataclass
class _Entry:
    ids: tuple[int, ...]
    cache: DynamicCache
    nbytes: int


def _common_length(left: tuple[int, ...], right: tuple[int, ...]) -> int:
    """Length of the longest common leading run of ``left`` and ``right`` (binary search over C-level slice compares)."""
    low, high = 0, min(len(left), len(right))
    while low < high:
        middle = (low + high + 1) // 2
        if left[:middle] == right[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def cacheable(cache: Any) -> bool:
    """True when ``cache`` (a ``generate`` result's ``past_key_values``) can be cut at any token and reused."""
    return isinstance(cache, DynamicCache) and bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _layers(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The keys and values of every layer of ``cache`` (a :func:`cacheable` one)."""
    pairs = []
    for layer in cache.layers:
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        if not isinstance(keys, torch.Tensor) or not isinstance(values, torch.Tensor):
            raise TypeError(f"a {type(layer).__name__} layer holds no key/value tensors")
        pairs.append((keys, values))
    return pairs


def _nbytes(cache: DynamicCache) -> int:
    return sum(int(keys.nbytes + values.nbytes) for keys, values in _layers(cache))


class PrefixCache:
    """Least-recently-used store of one-row ``DynamicCache`` s keyed by the token ids they encode.

    Thread-safe. ``budget_bytes`` 0 disables it. ``find`` never returns a whole prompt:
    at least its last token is left to prefill, since its logits start the reply.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._next_key = 0
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.reused_tokens = 0

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0

    def find(self, ids: Sequence[int], *, take: bool = False) -> tuple[int, DynamicCache | None, bool]:
        """The longest reusable prefix of ``ids``: its length, the entry holding it (at least that long), and
        whether the entry was taken out of the cache.

        With ``take``, an entry that ``ids`` extends whole is taken: the caller generates on from it in place
        (no copy) and stores the longer result, which would replace the entry anyway (see :meth:`add`).
        """
        wanted = tuple(ids)
        best_key, best_length = -1, 0
        with self._lock:
            for key, entry in self._entries.items():
                length = min(_common_length(entry.ids, wanted), len(wanted) - 1)
                if length > best_length:
                    best_key, best_length = key, length
            if best_length < MIN_REUSED_TOKENS:
                self.misses += 1
                return 0, None, False
            self.hits += 1
            self.reused_tokens += best_length
            logger.debug("prefix cache hit: %d of %d prompt tokens reused", best_length, len(wanted))
            entry = self._entries[best_key]
            if take and len(entry.ids) == best_length:
                del self._entries[best_key]
                self.bytes -= entry.nbytes
                return best_length, entry.cache, True
            self._entries.move_to_end(best_key)
            return best_length, entry.cache, False

    def add(self, ids: Sequence[int], make: Callable[[], DynamicCache]) -> None:
        """Remember the key/values of ``ids``, evicting least recently used entries. ``make()`` gives them (one row);
        it is called only when no entry holds them yet, so a repeated request's reply is not copied again."""
        stored = tuple(ids)
        if len(stored) < MIN_REUSED_TOKENS:
            return
        with self._lock:
            covered = []
            for key, entry in self._entries.items():
                if len(entry.ids) >= len(stored) and entry.ids[: len(stored)] == stored:
                    self._entries.move_to_end(key)  # already held, as part of a longer entry
                    return
                if entry.ids == stored[: len(entry.ids)]:  # the new entry covers this one
                    covered.append(key)
            cache = make()
            nbytes = _nbytes(cache)
            if nbytes > self.budget_bytes:
                return
            for key in covered:
                self.bytes -= self._entries.pop(key).nbytes
            self._entries[self._next_key] = _Entry(stored, cache, nbytes)
            self._next_key += 1
            self.bytes += nbytes
            while self.bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.nbytes
                logger.debug("prefix cache: evicted %d tokens (%d bytes)", len(evicted.ids), evicted.nbytes)
        logger.debug("prefix cache: stored %d tokens (%d bytes; %d held)", len(stored), nbytes, self.bytes)

    def clear(self) -> None:
        """Drop every entry (their tensors are freed once no batch uses them)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def info(self) -> dict[str, int]:
        """Counters: ``hits``, ``misses``, ``reused_tokens``, ``entries``, ``bytes`` held and ``budget_bytes``."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "reused_tokens": self.reused_tokens,
                "entries": len(self._entries),
                "bytes": self.bytes,
                "budget_bytes": self.budget_bytes,
            }


def batch_cache(reused: Sequence[tuple[int, DynamicCache | None]]) -> DynamicCache:
    """One ``DynamicCache`` for a batch: row ``i`` holds the first ``reused[i][0]`` key/values of its entry,
    right-aligned at the longest reused length, zeros (masked out by the caller) to their left."""
    width = max(length for length, _ in reused)
    rows = [(length, _layers(cache) if cache is not None and length > 0 else []) for length, cache in reused]
    template = next(layers for _, layers in rows if layers)
    batch = DynamicCache()
    if len(rows) == 1:  # one row: no padding, and ``update`` copies the entry's prefix (the entry stays intact)
        for index, (keys, values) in enumerate(template):
            batch.update(keys[:, :, :width], values[:, :, :width], index)
        return batch
    for index, (first_keys, first_values) in enumerate(template):
        heads, key_dim, value_dim = first_keys.shape[1], first_keys.shape[3], first_values.shape[3]
        keys = first_keys.new_zeros((len(rows), heads, width, key_dim))
        values = first_values.new_zeros((len(rows), heads, width, value_dim))
        for row, (length, layers) in enumerate(rows):
            if layers:
                keys[row, :, width - length :] = layers[index][0][0, :, :length]
                values[row, :, width - length :] = layers[index][1][0, :, :length]
        batch.update(keys, values, index)
    return batch


def row_cache(cache: DynamicCache, row: int, spans: Sequence[tuple[int, int]]) -> DynamicCache:
    """A one-row ``DynamicCache`` with ``row``'s key/values at the columns ``spans`` (start, end), in order:
    ``cache`` itself when it is that already (one row, every column), else a copy."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if start == end:
            continue
        if merged and merged[-1][1] == start:  # adjacent columns are one slice
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    merged = merged or [spans[0]]
    layers = _layers(cache)
    if merged == [(0, cache.get_seq_length())] and all(keys.shape[0] == 1 for keys, _ in layers):
        return cache  # the caller's batch is over: its one row is the entry, uncopied
    single = DynamicCache()
    for index, (keys, values) in enumerate(layers):
        parts = [(keys[row : row + 1, :, start:end], values[row : row + 1, :, start:end]) for start, end in merged]
        if len(parts) == 1:  # ``update`` copies a slice: one copy, not two
            single.update(parts[0][0], parts[0][1], index)
        else:
            single.update(torch.cat([k for k, _ in parts], dim=2), torch.cat([v for _, v in parts], dim=2), index)
    return single
