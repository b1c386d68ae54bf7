"""A loaded llama.cpp model, shared by every ``create_llm`` of the same file and settings.

llama.cpp contexts are not thread-safe and keep the KV cache of the last generation,
so the model's :class:`~abstractllm_hf_gguf.guard.ModelGuard` serialises every
generation (threads, async tasks and open streams alike) and frees llama.cpp only
when no call runs on it.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from abstractllm.providers.huggingface import DEFAULT_PREFIX_CACHE_BYTES
from abstractllm_hf_gguf.chat import ChatFormat, make_chat_format
from abstractllm_hf_gguf.gguf_file import GGUFInfo
from abstractllm_hf_gguf.guard import ModelGuard
from abstractllm_hf_gguf.prefix_cache import PrefixCache

__all__ = ["LoadedModel"]

#: Tokens beyond one per byte that a text may take (BOS, EOS, a leading space).
_TOKENIZE_SLACK = 8


class LoadedModel:
    """A ``llama_cpp.Llama`` with what generation needs around it.

    ``tokenize`` parses special tokens (as llama-cpp-python does for text prompts),
    ``piece`` gives a token's bytes (cached), ``is_end`` tells end-of-generation tokens.
    ``chat_format(name)`` builds each chat format once. ``grammars`` caches compiled
    grammars by key (see :mod:`abstractllm_hf_gguf.grammars`); ``prefix_cache`` keeps
    the KV states of past prompts (:mod:`abstractllm_hf_gguf.prefix_cache`). Callers use these
    inside ``guard.reading()`` or ``guard.generation()``.
    """

    def __init__(self, llama: Any, path: Path, info: GGUFInfo, prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES) -> None:
        import llama_cpp

        self.llama = llama
        self.path = path
        self.info = info
        self.guard = ModelGuard(self._free)
        self.prefix_cache = PrefixCache(llama, prefix_cache_bytes)
        self.n_ctx: int = llama.n_ctx()
        self.grammars: dict[str, Any] = {}
        self._vocab = llama._model.vocab
        self._pieces: dict[int, bytes] = {}
        self._ends: dict[int, bool] = {}
        self._single: dict[str, int | None] = {}
        self._formats: dict[str | None, ChatFormat | None] = {}
        self._llama_cpp = llama_cpp
        self._native_tokenizer = type(llama.tokenizer_) is llama_cpp.llama_tokenizer.LlamaTokenizer
        bos, eos = llama.token_bos(), llama.token_eos()
        self.bos_text = llama._model.token_get_text(bos) if bos != -1 else ""
        self.eos_text = llama._model.token_get_text(eos) if eos != -1 else ""

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.llama.metadata)

    def quantization(self) -> str:
        """The file's weight type as llama.cpp describes it (e.g. ``"F32"``, ``"Q8_0"``)."""
        buffer = ctypes.create_string_buffer(256)
        self._llama_cpp.llama_model_desc(self.llama._model.model, buffer, len(buffer))
        description = buffer.value.decode("utf-8", errors="replace").split()
        return description[-1] if description else "unknown"

    def chat_format(self, name: str | None) -> ChatFormat | None:
        """The chat format ``name`` of this file (None: the file's own template, if any)."""
        if name not in self._formats:
            self._formats[name] = make_chat_format(name, self.llama.metadata, self.bos_text, self.eos_text)
        return self._formats[name]

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        """Token ids of ``text``; ``add_bos`` adds the BOS token only where the model asks for one.

        The ids are those of ``Llama.tokenize``. With llama.cpp's own tokenizer the buffer is
        sized to the text (llama-cpp-python's is the training context, zeroed on every call,
        which cost more than the tokenizing of a short prompt); too small, llama.cpp says how
        many tokens there are, and the call is made again with that size.
        """
        data = text.encode("utf-8")
        if not self._native_tokenizer:  # a tokenizer given through model_kwargs
            return list(self.llama.tokenize(data, add_bos=add_bos, special=True))
        size = len(data) + _TOKENIZE_SLACK
        while True:
            buffer = (self._llama_cpp.llama_token * size)()
            count = self._llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, size, add_bos, True)
            if count >= 0:
                return buffer[:count]
            if -count <= size:
                raise RuntimeError(f"llama.cpp could not tokenize {len(data)} bytes (it returned {count})")
            size = -count

    def single_token(self, text: str) -> int | None:
        """The id of ``text`` when it is exactly one (special) token (cached)."""
        if text not in self._single:
            ids = self.tokenize(text, add_bos=False) if text else []
            self._single[text] = ids[0] if len(ids) == 1 else None
        return self._single[text]

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes ``token`` stands for (special tokens render as nothing, unless ``special``: as their text)."""
        if special:
            return self._render_piece(token, True)
        cached = self._pieces.get(token)
        if cached is None:
            cached = self._pieces[token] = self._render_piece(token, False)
        return cached

    def _render_piece(self, token: int, special: bool) -> bytes:
        size = 64
        buffer = ctypes.create_string_buffer(size)
        length = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, special)
        if length < 0:
            buffer = ctypes.create_string_buffer(-length)
            length = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -length, 0, special)
        return bytes(buffer.raw[:length])

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends generation (EOS, end-of-turn and the like)."""
        cached = self._ends.get(token)
        if cached is None:
            cached = self._ends[token] = bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))
        return cached

    @property
    def closed(self) -> bool:
        return self.guard.closed

    def close(self) -> None:
        """Free the llama.cpp model and context once no call runs on it (see ``ModelGuard.close``). Idempotent."""
        self.guard.close()

    def _free(self) -> None:
        self.grammars.clear()
        self.prefix_cache.clear()
        self.llama.close()
