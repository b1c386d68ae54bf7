"""Deterministically build and train a tiny Llama-architecture test model.

Nothing is downloaded: a byte-level BPE tokenizer is trained with ``tokenizers``
on the corpus of :mod:`tinymodel.corpus`, a 2-layer :class:`~transformers.LlamaForCausalLM`
is initialised from a fixed seed and trained single-threaded for a few seconds
until it reproduces, under greedy decoding, every entry of
:data:`EXPECTED_COMPLETIONS`, :data:`EXPECTED_CHATS` and
:data:`EXPECTED_TOOL_CHATS`.

The result is meant for tests: it "knows" a handful of facts, answers a few
ChatML conversations (one of them with a system prompt, some as short JSON, one
as a ``<tool_call>``) and stops with ``</s>`` (plain text) or ``<|im_end|>``
(chat).  Everything else it produces is gibberish.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase

from .corpus import (
    BOS_TOKEN,
    CHATML_TEMPLATE,
    EOS_TOKEN,
    EXPECTED_CHATS,
    EXPECTED_COMPLETIONS,
    EXPECTED_TOOL_CHATS,
    IM_END_TOKEN,
    IM_START_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    TOKENIZER_EXTRA_TEXT,
    VOCAB_SIZE,
    Message,
)

__all__ = ["build_tiny_llama", "build_tiny_llama_pair"]

logger = logging.getLogger(__name__)

SEED = 20240611
TRAIN_STEPS = 500
LEARNING_RATE = 4e-3
WARMUP_STEPS = 25


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Example:
    """One training sequence: ``prompt`` is followed by ``target`` (which ends in a stop token)."""

    prompt: str
    target: str


def _render_chat(
    messages: Sequence[Message],
    *,
    tools: Sequence[dict[str, Any]] | None = None,
    add_generation_prompt: bool,
) -> str:
    """Render ``messages`` with :data:`CHATML_TEMPLATE` the way transformers does (sandboxed Jinja2)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    return env.from_string(CHATML_TEMPLATE).render(
        messages=list(messages),
        tools=list(tools) if tools else None,
        add_generation_prompt=add_generation_prompt,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
    )


def _examples() -> list[_Example]:
    """All training sequences (completions, chats, tool chats)."""
    out = [_Example(p, c + EOS_TOKEN) for p, c in EXPECTED_COMPLETIONS]
    for messages, reply in EXPECTED_CHATS:
        out.append(_Example(_render_chat(messages, add_generation_prompt=True), reply + IM_END_TOKEN))
    for messages, tools, reply in EXPECTED_TOOL_CHATS:
        out.append(_Example(_render_chat(messages, tools=tools, add_generation_prompt=True), reply + IM_END_TOKEN))
    return out


_SPECIAL_SPLIT = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))


def _tokenizer_corpus() -> list[str]:
    """Plain-text pieces for BPE training (special tokens cut out so they are not merged)."""
    pieces: list[str] = []
    for ex in _examples():
        pieces.extend(p for p in _SPECIAL_SPLIT.split(ex.prompt + ex.target) if p)
    pieces.extend(TOKENIZER_EXTRA_TEXT)
    return pieces


def _train_tokenizer() -> Tokenizer:
    """Train the byte-level BPE tokenizer (exactly :data:`VOCAB_SIZE` tokens, specials at ids 0..4)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=16,
    )
    tok.train_from_iterator(_tokenizer_corpus(), trainer=trainer)
    if tok.get_vocab_size() != VOCAB_SIZE:
        raise RuntimeError(
            f"BPE training produced {tok.get_vocab_size()} tokens, expected {VOCAB_SIZE}; enlarge TOKENIZER_EXTRA_TEXT"
        )
    for i, special in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(special) != i:
            raise RuntimeError(f"special token {special!r} did not get id {i}")
    return tok


def _wrap_tokenizer(tok: Tokenizer, *, chat_template: bool) -> PreTrainedTokenizerBase:
    """Wrap the raw tokenizer as a transformers fast tokenizer (no BOS/EOS added on encode)."""
    from transformers import PreTrainedTokenizerFast

    hf_tok = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=None,
        extra_special_tokens=[IM_START_TOKEN, IM_END_TOKEN],
        add_bos_token=False,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=512,
        padding_side="left",
    )
    if chat_template:
        hf_tok.chat_template = CHATML_TEMPLATE
    return hf_tok


def _make_config(vocab_size: int) -> Any:
    """The fixed :class:`~transformers.LlamaConfig` of the tiny model."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=16,
        hidden_act="silu",
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
        bos_token_id=SPECIAL_TOKENS.index(BOS_TOKEN),
        eos_token_id=SPECIAL_TOKENS.index(EOS_TOKEN),
        pad_token_id=SPECIAL_TOKENS.index(PAD_TOKEN),
        attention_bias=False,
        mlp_bias=False,
        use_cache=True,
        dtype="float32",
    )


@contextmanager
def _deterministic_torch(num_threads: int = 1) -> Iterator[None]:
    """Temporarily force single-threaded, deterministic torch execution."""
    import torch

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def _encode_examples(hf_tok: PreTrainedTokenizerBase) -> list[tuple[list[int], int]]:
    """Token ids of every example and the length of its prompt part.

    The prompt's ids must be a prefix of the full sequence's ids (true because
    every prompt ends at a pre-tokenizer boundary); this is checked.
    """
    out: list[tuple[list[int], int]] = []
    for ex in _examples():
        p_ids = hf_tok.encode(ex.prompt, add_special_tokens=False)
        full = hf_tok.encode(ex.prompt + ex.target, add_special_tokens=False)
        if full[: len(p_ids)] != p_ids:
            raise RuntimeError(f"prompt tokens are not a prefix for {ex.prompt!r}")
        out.append((full, len(p_ids)))
    return out


def _batch(seqs: Sequence[tuple[list[int], int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (pads ignored)."""
    import torch

    width = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, (s, _) in enumerate(seqs):
        ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[row, : len(s)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels


def _train_model(hf_tok: PreTrainedTokenizerBase) -> LlamaForCausalLM:
    """Initialise from :data:`SEED` and train on the built-in examples (caller sets threads)."""
    import torch
    from transformers import LlamaForCausalLM

    encoded = _encode_examples(hf_tok)
    pad_id = SPECIAL_TOKENS.index(PAD_TOKEN)
    # Two length buckets keep padding (and therefore time) low.
    encoded.sort(key=lambda e: len(e[0]))
    cut = next((i for i, (s, _) in enumerate(encoded) if len(s) > 48), len(encoded))
    buckets = [b for b in (encoded[:cut], encoded[cut:]) if b]
    batches = [_batch(b, pad_id) for b in buckets]
    n_tokens = sum(len(s) for s, _ in encoded)

    torch.manual_seed(SEED)
    model = LlamaForCausalLM(_make_config(len(hf_tok)))
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < WARMUP_STEPS:
            return (step + 1) / WARMUP_STEPS
        progress = (step - WARMUP_STEPS) / max(1, TRAIN_STEPS - WARMUP_STEPS)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_at)
    loss_val = float("nan")
    for step in range(TRAIN_STEPS):
        optim.zero_grad(set_to_none=True)
        total = 0.0
        for ids, mask, labels in batches:
            n = int((labels[:, 1:] != -100).sum())
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            loss = out.loss * n / n_tokens  # token-weighted mean over buckets
            loss.backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        loss_val = total
        if step % 100 == 0 or step == TRAIN_STEPS - 1:
            logger.debug("tiny llama train step %d loss %.4f", step, loss_val)
    logger.info("tiny llama trained %d steps, final loss %.4f", TRAIN_STEPS, loss_val)
    model.eval()  # type: ignore[no-untyped-call]
    return model


def _greedy(model: LlamaForCausalLM, ids: list[int], max_new_tokens: int, stop_ids: Sequence[int]) -> list[int]:
    """Plain greedy decoding (full recompute each step; the model is tiny) used for verification."""
    import torch

    seq = list(ids)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=torch.tensor([seq], dtype=torch.long), use_cache=False).logits
            nxt = int(logits[0, -1].argmax())
            out.append(nxt)
            seq.append(nxt)
            if nxt in stop_ids:
                break
    return out


def _verify(model: LlamaForCausalLM, hf_tok: PreTrainedTokenizerBase) -> None:
    """Raise ``RuntimeError`` unless greedy decoding reproduces every expected example exactly."""
    stop_ids = [SPECIAL_TOKENS.index(EOS_TOKEN), SPECIAL_TOKENS.index(IM_END_TOKEN)]
    failures: list[str] = []
    for ex in _examples():
        p_ids = hf_tok.encode(ex.prompt, add_special_tokens=False)
        want = hf_tok.encode(ex.target, add_special_tokens=False)
        got = _greedy(model, p_ids, len(want) + 4, stop_ids)
        if got != want:
            failures.append(f"{ex.prompt[-40:]!r}: want {ex.target!r}, got {hf_tok.decode(got)!r}")
    if failures:
        raise RuntimeError("tiny model does not reproduce its training targets:\n" + "\n".join(failures))


def _save(
    model: LlamaForCausalLM,
    tok: Tokenizer,
    out_dir: Path,
    *,
    chat_template: bool,
) -> Path:
    """Save model (safetensors), tokenizer and generation config into ``out_dir``."""
    from transformers import GenerationConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=SPECIAL_TOKENS.index(BOS_TOKEN),
        eos_token_id=[SPECIAL_TOKENS.index(EOS_TOKEN), SPECIAL_TOKENS.index(IM_END_TOKEN)],
        pad_token_id=SPECIAL_TOKENS.index(PAD_TOKEN),
        do_sample=False,
    )
    model.save_pretrained(out_dir, safe_serialization=True)
    _wrap_tokenizer(tok, chat_template=chat_template).save_pretrained(out_dir)
    for f in out_dir.iterdir():
        if f.is_file():
            f.chmod(0o644)  # save_pretrained may create some files 0600
    return out_dir


def _build(out_dirs: Sequence[tuple[Path, bool]]) -> list[Path]:
    """Train once and save the same weights into each ``(dir, chat_template)`` target."""
    t0 = time.perf_counter()
    with _deterministic_torch(1):
        tok = _train_tokenizer()
        hf_tok = _wrap_tokenizer(tok, chat_template=True)
        model = _train_model(hf_tok)
        _verify(model, hf_tok)
        paths = [_save(model, tok, d, chat_template=ct) for d, ct in out_dirs]
    logger.info("built tiny llama in %.1fs -> %s", time.perf_counter() - t0, ", ".join(map(str, paths)))
    return paths


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def build_tiny_llama(out_dir: Path, *, chat_template: bool = True) -> Path:
    """Build, train and save the tiny Llama test model into ``out_dir``.

    Contract:

    * ``out_dir`` is created if needed; existing files with the same names are
      overwritten (other files are left alone).  Returns ``out_dir``.
    * Writes ``config.json``, ``generation_config.json``, ``model.safetensors``,
      ``tokenizer.json``, ``tokenizer_config.json`` and, when ``chat_template``
      is true, ``chat_template.jinja`` (:data:`CHATML_TEMPLATE`).  With
      ``chat_template=False`` the tokenizer has no chat template at all.
    * ``LlamaForCausalLM``: hidden 64, intermediate 256, 2 layers, 4 heads,
      4 KV heads (head_dim 16), 512 positions, untied embeddings, float32,
      ``vocab_size == len(tokenizer) ==`` :data:`VOCAB_SIZE`.
    * Tokenizer: byte-level BPE, ``<s>``=0, ``</s>``=1, ``<pad>``=2,
      ``<|im_start|>``=3, ``<|im_end|>``=4; encoding adds no BOS/EOS.
    * ``generation_config.eos_token_id == [1, 4]``, ``pad_token_id == 2``.
    * Deterministic: fixed seed, single-threaded deterministic torch during the
      build (the caller's thread count is restored afterwards); same machine and
      library versions give byte-identical files.
    * Raises ``RuntimeError`` if the trained model does not reproduce every
      expected example under greedy decoding.
    """
    out_dir = Path(out_dir)
    return _build([(out_dir, chat_template)])[0]


def build_tiny_llama_pair(with_template: Path, without_template: Path) -> tuple[Path, Path]:
    """Train once and save the model twice: with and without chat template.

    Equivalent to ``build_tiny_llama(with_template)`` plus
    ``build_tiny_llama(without_template, chat_template=False)`` at half the cost.
    """
    a, b = _build([(Path(with_template), True), (Path(without_template), False)])
    return a, b
