"""Speculative (prompt-lookup) decoding, the parts every local mode shares.

- :data:`SPECULATIVE_OPTION`: the ``speculative`` option, accepted by ``create_llm`` (the
  model's default) and by each call of the local modes. ``None`` (the default) or ``False``
  decodes plainly; ``"prompt_lookup"`` (or ``True``) drafts from the prompt; a dict
  ``{"method": "prompt_lookup", "draft_tokens": 1..64, "ngram_size": 1..8}`` sets the most
  tokens drafted at once (default :data:`DEFAULT_DRAFT_TOKENS`) and the longest n-gram
  looked up (default :data:`DEFAULT_NGRAM_SIZE`). Draft models are not supported.
- :func:`speculative_settings`: a request's settings, refusing sampling (speculation is
  exact under greedy decoding, and is not offered for sampling).
- :class:`NgramIndex`: drafts the tokens that followed the latest earlier occurrence of the
  sequence's last n-gram (prompt and reply so far).
- :class:`DraftPolicy`: how many tokens to draft next, adapted to how the drafts fared: it
  grows while drafts are accepted whole, shrinks to what was accepted, and stops drafting
  for a growing number of steps while drafts keep failing to pay, so open text runs at plain
  decoding's speed.
- :class:`SpeculationStats`: drafted and accepted token counts, for ``cache_info()``.

A backend verifies a draft in one forward pass and keeps the longest prefix that greedy
decoding itself would have chosen, plus the token the model chose after it; so the reply is
plain greedy decoding's, token for token.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abstractllm.errors import InvalidArgumentError
from abstractllm.options import Option, check_int, check_nested
from abstractllm.request import GenerationRequest

__all__ = [
    "DEFAULT_DRAFT_TOKENS",
    "DEFAULT_NGRAM_SIZE",
    "MAX_DRAFT_TOKENS",
    "SPECULATIVE_OPTION",
    "DraftPolicy",
    "NgramIndex",
    "SpeculationStats",
    "SpeculativeSettings",
    "check_speculative",
    "speculative_settings",
]

#: The most tokens drafted at once unless ``draft_tokens`` says otherwise.
DEFAULT_DRAFT_TOKENS = 10
#: The longest n-gram looked up unless ``ngram_size`` says otherwise.
DEFAULT_NGRAM_SIZE = 3
#: The largest ``draft_tokens`` accepted.
MAX_DRAFT_TOKENS = 64
#: The only drafting method.
PROMPT_LOOKUP = "prompt_lookup"
#: Steps without drafting after a draft that did not pay (see :class:`DraftPolicy`); doubled at each further
#: miss in a row, up to :data:`MAX_PAUSE`.
FIRST_PAUSE = 1
MAX_PAUSE = 64

_KEYS = ("method", "draft_tokens", "ngram_size")


@dataclass(frozen=True)
class SpeculativeSettings:
    """Validated ``speculative`` option: drafts of at most ``draft_tokens`` tokens, looked up by n-grams of
    at most ``ngram_size`` tokens."""

    method: str = PROMPT_LOOKUP
    draft_tokens: int = DEFAULT_DRAFT_TOKENS
    ngram_size: int = DEFAULT_NGRAM_SIZE


_ALLOWED = (
    "None or False (off), 'prompt_lookup' or True, or a dict with 'method' ('prompt_lookup'),"
    f" 'draft_tokens' (1..{MAX_DRAFT_TOKENS}) and 'ngram_size' (1..8)"
)


def check_speculative(value: Any) -> SpeculativeSettings | None:
    """The ``speculative`` option's check (see the module docstring); raises ``ValueError`` saying what is
    allowed, or ``InvalidArgumentError`` naming a bad key (``speculative['draft_tokens']``)."""
    if value is None or value is False:
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() == PROMPT_LOOKUP):
        return SpeculativeSettings()
    if isinstance(value, SpeculativeSettings):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(_ALLOWED)
    for key in value:
        if key == "draft_model":
            raise InvalidArgumentError(
                "speculative['draft_model'] is not supported: speculation drafts from the prompt only"
                " (speculative='prompt_lookup'); drop 'draft_model'",
                parameter="speculative['draft_model']",
                value=value[key],
                allowed=", ".join(_KEYS),
            )
        if key not in _KEYS:
            raise InvalidArgumentError(
                f"speculative[{key!r}] is not a known key; known keys: {', '.join(_KEYS)}",
                parameter=f"speculative[{key!r}]",
                value=value[key],
                allowed=", ".join(_KEYS),
            )
    method = value.get("method", PROMPT_LOOKUP)
    if not isinstance(method, str) or method.strip().lower() != PROMPT_LOOKUP:
        raise InvalidArgumentError(
            f"speculative['method']={method!r} is invalid; the one method is 'prompt_lookup'",
            parameter="speculative['method']",
            value=method,
            allowed="'prompt_lookup'",
        )
    draft = check_nested(check_int(1, MAX_DRAFT_TOKENS), value.get("draft_tokens"), "speculative['draft_tokens']")
    ngram = check_nested(check_int(1, 8), value.get("ngram_size"), "speculative['ngram_size']")
    return SpeculativeSettings(
        draft_tokens=DEFAULT_DRAFT_TOKENS if draft is None else draft,
        ngram_size=DEFAULT_NGRAM_SIZE if ngram is None else ngram,
    )


SPECULATIVE_OPTION = Option(
    "speculative",
    None,
    check_speculative,
    "Greedy decoding: 'prompt_lookup' drafts tokens from the prompt and checks them in one forward pass (same reply,"
    " faster when the reply copies its input); a dict sets 'draft_tokens' and 'ngram_size'. gguf refuses it (inexact).",
)


def speculative_settings(request: GenerationRequest, mode: str) -> SpeculativeSettings | None:
    """The ``speculative`` settings of ``request``, or None when off.

    Raises ``InvalidArgumentError`` (parameter ``speculative``) for a sampled request: speculation is exact
    under greedy decoding and is not offered for sampling.
    """
    settings = request.params.extra.get("speculative")
    if not isinstance(settings, SpeculativeSettings):
        return None
    if not request.params.greedy:
        raise InvalidArgumentError(
            "speculative decoding runs under greedy decoding only (its replies equal plain greedy decoding's);"
            " pass temperature=0 with it, or speculative=None to sample",
            mode=mode,
            parameter="speculative",
            value=settings.method,
            allowed="temperature=0 (or do_sample=False) with speculative; speculative=None when sampling",
        )
    return settings


class NgramIndex:
    """The token sequence so far (prompt and reply) and where each of its n-grams (n = 1..``size``) last ended.

    :meth:`draft` returns up to ``count`` tokens that followed the latest earlier occurrence of the longest
    n-gram ending the sequence. Adding a token costs ``size`` dictionary updates.
    """

    def __init__(self, ids: Sequence[int], size: int) -> None:
        self._size = size
        self._ids: list[int] = []
        self._ends: list[dict[tuple[int, ...], int]] = [{} for _ in range(size)]
        self.extend(ids)

    def extend(self, ids: Sequence[int]) -> None:
        """Append ``ids``; every n-gram ending before the last token is indexed."""
        for token in ids:
            end = len(self._ids) - 1  # the n-grams ending at the token before this one become findable
            if end >= 0:
                self._index(end)
            self._ids.append(token)

    def _index(self, end: int) -> None:
        ids = self._ids
        for n in range(1, min(self._size, end + 1) + 1):
            self._ends[n - 1][tuple(ids[end - n + 1 : end + 1])] = end

    def draft(self, count: int, after: Sequence[int] = ()) -> list[int]:
        """Up to ``count`` tokens that followed the last n-gram of the sequence (with ``after`` appended, for a draft
        that continues other drafted tokens) before (longest n first); [] if none."""
        if count <= 0:
            return []
        ids = self._ids
        tail = [*ids[-self._size :], *after] if after else ids
        for n in range(min(self._size, len(tail)), 0, -1):
            end = self._ends[n - 1].get(tuple(tail[len(tail) - n :]))
            if end is not None:
                return ids[end + 1 : end + 1 + count]
        return []


class DraftPolicy:
    """How many tokens to draft at each step of one request (at least 2, at most ``most``).

    A draft *pays* when at least 2 of its tokens, and more than half of them, were accepted: the pass that
    checked it then made 3 or more tokens. After a draft accepted whole, the next may be twice as long; after
    a partial one that paid, one token longer than what was accepted. A draft that did not pay counts as a
    miss: drafting pauses for :data:`FIRST_PAUSE` steps, doubled at each further miss in a row (up to
    :data:`MAX_PAUSE`), and restarts at 2 tokens. Open text, where drafts rarely pay, thus decodes one
    token per pass almost always.
    """

    def __init__(self, most: int) -> None:
        self._most = most
        self._length = min(2, most)
        self._pause = 0
        self._misses = 0

    def length(self) -> int:
        """Tokens to draft at this step (0: decode one token plainly); call once per decoding step."""
        if self._pause:
            self._pause -= 1
            return 0
        return self._length

    def record(self, drafted: int, accepted: int) -> None:
        """How a draft of ``drafted`` tokens fared: its first ``accepted`` were the model's choice."""
        if drafted <= 0:
            return
        if accepted >= 2 and accepted * 2 > drafted:
            self._misses = 0
            grown = max(self._length, drafted) * 2 if accepted >= drafted else accepted + 1
            self._length = min(self._most, grown)
        else:
            self._misses += 1
            self._length = min(2, self._most)
            self._pause = min(MAX_PAUSE, FIRST_PAUSE << min(self._misses - 1, 16))


class SpeculationStats:
    """Counts over a loaded model's speculative requests (thread-safe): ``drafted`` tokens, ``accepted`` ones
    (drafted tokens that greedy decoding chose too), ``verifications`` (forward passes that checked a draft)
    and ``requests``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.drafted = 0
        self.accepted = 0
        self.verifications = 0

    def add(self, *, requests: int = 0, drafted: int = 0, accepted: int = 0, verifications: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.drafted += drafted
            self.accepted += accepted
            self.verifications += verifications

    def info(self) -> dict[str, int]:
        """``speculative_requests``, ``drafted_tokens``, ``accepted_tokens`` and ``verifications``."""
        with self._lock:
            return {
                "speculative_requests": self.requests,
                "drafted_tokens": self.drafted,
                "accepted_tokens": self.accepted,
                "verifications": self.verifications,
            }
