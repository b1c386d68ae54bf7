"""From generated token ids to reply text, one token at a time.

The same code builds streamed and non-streamed replies, so their texts are equal by
construction: :class:`IncrementalDecoder` turns ids into text pieces (holding back
incomplete UTF-8), which are fed to core's reply assembler
(``abstractllm.backend.ReplyAssembler``: stop sequences, tool-call blocks, finish reason).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase

__all__ = ["IncrementalDecoder"]

#: Prompt tokens decoded as context before the first generated token, so that tokenizers
#: that drop a leading space at the start of a decode (SentencePiece) keep it.
_CONTEXT_TOKENS = 4

#: Per tokenizer and decoding options, the text of each single id decoded on its own: ``push`` decodes the id it
#: just read on its own after every piece (half its tokenizer calls), and that text depends on the id alone.
_SINGLES: weakref.WeakKeyDictionary[Any, dict[tuple[tuple[str, bool], ...], dict[int, str]]] = weakref.WeakKeyDictionary()


class IncrementalDecoder:
    """Decodes a growing list of ids into text pieces whose concatenation is the reply.

    ``push(id)`` returns the new text (empty while a multi-byte character is
    incomplete); ``finish()`` returns whatever is still held back. With ``skip_special_tokens``,
    the special tokens in ``keep`` (a tool-call family's markers) are still decoded.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        prompt_ids: Sequence[int],
        *,
        skip_special_tokens: bool,
        clean_up_tokenization_spaces: bool | None,
        keep: frozenset[int] = frozenset(),
    ) -> None:
        self._decoder = _decoder(tokenizer)
        self._skipped: frozenset[int] = frozenset()
        if skip_special_tokens and keep:  # skip the special tokens here, all but ``keep``
            self._skipped = _special_ids(tokenizer) - keep
            skip_special_tokens = False
        self._ids = [token for token in prompt_ids[-_CONTEXT_TOKENS:] if token not in self._skipped]
        self._prefix = 0
        self._read = len(self._ids)
        self._kwargs: dict[str, bool] = {"skip_special_tokens": skip_special_tokens}
        if clean_up_tokenization_spaces is not None:
            self._kwargs["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        self._prefix_text = self._decode(self._prefix, self._read)
        self._singles = _singles(tokenizer, self._kwargs)

    def _decode(self, start: int, end: int | None = None) -> str:
        return str(self._decoder(self._ids[start:end], **self._kwargs))

    def _decode_one(self, token_id: int) -> str:
        """The text of ``token_id`` decoded on its own (remembered per tokenizer and options)."""
        text = self._singles.get(token_id)
        if text is None:
            text = self._singles[token_id] = str(self._decoder([token_id], **self._kwargs))
        return text

    def push(self, token_id: int) -> str:
        if token_id in self._skipped:
            return ""
        self._ids.append(token_id)
        text = self._decode(self._prefix)
        if len(text) > len(self._prefix_text) and not text.endswith("\ufffd"):
            piece = text[len(self._prefix_text) :]
            self._prefix, self._read = self._read, len(self._ids)
            read = len(self._ids) - self._prefix
            self._prefix_text = self._decode_one(token_id) if read == 1 else self._decode(self._prefix, self._read)
            return piece
        return ""

    def push_all(self, token_ids: Sequence[int]) -> str:
        """What ``push`` returns for each of ``token_ids`` in turn, joined."""
        return "".join([self.push(token) for token in token_ids])

    def finish(self) -> str:
        text = self._decode(self._prefix)
        self._prefix, self._read = len(self._ids), len(self._ids)
        piece = text[len(self._prefix_text) :] if len(text) > len(self._prefix_text) else ""
        self._prefix_text = ""
        return piece


def _decoder(tokenizer: PreTrainedTokenizerBase) -> Callable[..., Any]:
    """``tokenizer.decode`` for one list of ids, without its per-call conversions where that is the same function.

    transformers' ``decode`` converts its argument to Python lists (``to_py_obj`` looks at every id) and checks
    for a batch before it calls the tokenizer's ``_decode``: about two thirds of the time of decoding one or two
    ids, which the decoder does twice per generated token. Its ids are a list of ints already, so a tokenizer
    that keeps the base class's ``decode`` is called through ``_decode``; one that overrides ``decode`` keeps it.
    """
    if type(tokenizer).decode is PreTrainedTokenizerBase.decode:
        direct = getattr(tokenizer, "_decode", None)
        if callable(direct):
            return direct
    return tokenizer.decode


def _singles(tokenizer: PreTrainedTokenizerBase, kwargs: dict[str, bool]) -> dict[int, str]:
    """The remembered single-id texts of ``tokenizer`` decoded with ``kwargs`` (a tokenizer that cannot be
    weakly referenced gets a dictionary of the decoder's own)."""
    try:
        by_options = _SINGLES.setdefault(tokenizer, {})
    except TypeError:
        return {}
    return by_options.setdefault(tuple(sorted(kwargs.items())), {})


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    """Every id ``decode(skip_special_tokens=True)`` leaves out."""
    added = (index for index, token in tokenizer.added_tokens_decoder.items() if token.special)
    return frozenset((*tokenizer.all_special_ids, *added))
