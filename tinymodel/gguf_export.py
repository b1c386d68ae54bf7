"""Export a saved Llama model directory (as written by :mod:`tinymodel.build`) to GGUF.

Uses only the ``gguf`` package's :class:`gguf.GGUFWriter` (llama.cpp's
``convert_hf_to_gguf.py`` is not needed).  The layout mirrors what that
converter produces for ``LlamaForCausalLM`` with a GPT-2 style byte-level BPE
tokenizer, so llama.cpp (and llama-cpp-python) tokenizes and computes exactly
like transformers does.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["write_gguf"]

logger = logging.getLogger(__name__)

_QuantName = Literal["f32", "q8_0"]


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """Reorder q/k projection rows from HF's rotate-half RoPE layout to llama.cpp's interleaved one.

    Same transform as llama.cpp's ``LlamaModel.permute`` in ``convert_hf_to_gguf.py``.
    """
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _load_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _chat_template(model_dir: Path) -> str | None:
    """The tokenizer's chat template (``chat_template.jinja`` or ``tokenizer_config.json``), if any."""
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg_path = model_dir / "tokenizer_config.json"
    if cfg_path.is_file():
        tmpl = _load_json(cfg_path).get("chat_template")
        if isinstance(tmpl, str):
            return tmpl
    return None


def _tokenizer_metadata(model_dir: Path, vocab_size: int) -> dict[str, Any]:
    """Collect the GGUF tokenizer fields from ``tokenizer.json`` plus the transformers tokenizer."""
    from transformers import AutoTokenizer

    tj = _load_json(model_dir / "tokenizer.json")
    model = tj["model"]
    if model.get("type") != "BPE":
        raise NotImplementedError(f"only BPE tokenizers are supported, got {model.get('type')!r}")
    pre = tj.get("pre_tokenizer") or {}
    if not (pre.get("type") == "ByteLevel" and pre.get("use_regex", True) and not pre.get("add_prefix_space", False)):
        # Only the plain GPT-2 byte-level pre-tokenizer maps onto llama.cpp's "gpt-2" pre-type.
        raise NotImplementedError(f"unsupported pre-tokenizer for GGUF export: {pre!r}")
    if tj.get("normalizer") is not None:
        raise NotImplementedError("tokenizers with a normalizer are not supported")

    from gguf import TokenType

    id_to_tok: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    types: dict[int, int] = {i: int(TokenType.NORMAL) for i in id_to_tok}
    for added in tj.get("added_tokens", []):
        id_to_tok[added["id"]] = added["content"]
        types[added["id"]] = int(TokenType.CONTROL if added.get("special") else TokenType.USER_DEFINED)
    if sorted(id_to_tok) != list(range(len(id_to_tok))):
        raise ValueError("tokenizer ids are not contiguous")
    if len(id_to_tok) != vocab_size:
        raise ValueError(f"tokenizer has {len(id_to_tok)} tokens but the model vocab_size is {vocab_size}")
    tokens = [id_to_tok[i] for i in range(vocab_size)]
    token_types = [types[i] for i in range(vocab_size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    hf_tok = AutoTokenizer.from_pretrained(model_dir)
    probe = hf_tok.encode("a")
    add_bos = hf_tok.bos_token_id is not None and len(probe) > 0 and probe[0] == hf_tok.bos_token_id
    add_eos = hf_tok.eos_token_id is not None and len(probe) > 0 and probe[-1] == hf_tok.eos_token_id
    im_end = hf_tok.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in hf_tok.get_vocab() else None
    return {
        "tokens": tokens,
        "token_types": token_types,
        "merges": merges,
        "bos": hf_tok.bos_token_id,
        "eos": hf_tok.eos_token_id,
        "pad": hf_tok.pad_token_id,
        "eot": im_end,
        "add_bos": add_bos,
        "add_eos": add_eos,
        "chat_template": _chat_template(model_dir),
    }


def _layer_sort_key(name: str) -> tuple[int, int, str]:
    """Order tensors like the converter: embeddings, blocks in order, then the rest."""
    m = re.search(r"\.layers\.(\d+)\.", name)
    if m:
        return (1, int(m.group(1)), name)
    return (0 if "embed_tokens" in name else 2, 0, name)


def write_gguf(model_dir: Path, out_path: Path, *, quant: _QuantName = "f32", name: str = "tiny-llama") -> Path:
    """Write the Llama model in ``model_dir`` to a GGUF file at ``out_path``.

    Contract:

    * ``model_dir`` holds ``config.json`` (``LlamaForCausalLM``),
      ``model.safetensors`` and a transformers byte-level BPE tokenizer
      (``tokenizer.json`` with a plain ``ByteLevel`` pre-tokenizer); anything
      else raises ``NotImplementedError``/``ValueError``.
    * Metadata: ``general.architecture = llama``, context length =
      ``max_position_embeddings``, head counts, RMS-norm eps, RoPE base;
      tokenizer ``gpt2`` with ``tokenizer.ggml.pre = gpt-2`` (the GPT-2 split
      regex, the one HF's ``ByteLevel(use_regex=True)`` uses), byte-level token
      strings, merges, token types (special added tokens are CONTROL), bos/eos/
      pad ids, ``<|im_end|>`` as EOT when present, ``add_bos_token`` /
      ``add_eos_token`` as the HF tokenizer behaves, and
      ``tokenizer.chat_template`` when the tokenizer has one.
    * Tensors use llama.cpp names (``token_embd``, ``blk.N.attn_q`` ...,
      ``output_norm``, ``output``); q/k weights are permuted like llama.cpp's
      converter.  ``quant="q8_0"`` stores 2-D weights as Q8_0 (via
      ``gguf.quants.quantize``) and keeps 1-D tensors (norms) in F32.
    * ``general.name`` is ``name`` (not derived from paths, to keep output
      independent of where ``model_dir`` lives).
    * The file is written to a temporary sibling and renamed, so ``out_path``
      is either absent/old or complete.  Output is deterministic.  Returns
      ``out_path``.
    """
    import gguf
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    out_path = Path(out_path)
    if quant not in ("f32", "q8_0"):
        raise ValueError(f"unsupported quant {quant!r}")
    cfg = _load_json(model_dir / "config.json")
    if cfg.get("model_type") != "llama":
        raise NotImplementedError(f"only llama models are supported, got {cfg.get('model_type')!r}")

    n_layers = int(cfg["num_hidden_layers"])
    n_head = int(cfg["num_attention_heads"])
    n_head_kv = int(cfg.get("num_key_value_heads") or n_head)
    hidden = int(cfg["hidden_size"])
    head_dim = int(cfg.get("head_dim") or hidden // n_head)
    vocab_size = int(cfg["vocab_size"])
    rope = cfg.get("rope_parameters") or {}
    rope_theta = float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    if rope.get("rope_type", "default") != "default" or cfg.get("rope_scaling"):
        raise NotImplementedError("RoPE scaling is not supported")

    tok = _tokenizer_metadata(model_dir, vocab_size)
    tensors = load_file(str(model_dir / "model.safetensors"))
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    q8 = quant == "q8_0"

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = gguf.GGUFWriter(tmp, "llama")
        writer.add_type("model")
        writer.add_name(name)
        writer.add_context_length(int(cfg["max_position_embeddings"]))
        writer.add_embedding_length(hidden)
        writer.add_block_count(n_layers)
        writer.add_feed_forward_length(int(cfg["intermediate_size"]))
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_head_kv)
        writer.add_rope_dimension_count(head_dim)
        if head_dim != hidden // n_head:
            writer.add_key_length(head_dim)
            writer.add_value_length(head_dim)
        writer.add_rope_freq_base(rope_theta)
        writer.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
        writer.add_vocab_size(vocab_size)
        writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q8_0 if q8 else gguf.LlamaFileType.ALL_F32))
        if q8:
            writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        writer.add_token_list(tok["tokens"])
        writer.add_token_types(tok["token_types"])
        writer.add_token_merges(tok["merges"])
        if tok["bos"] is not None:
            writer.add_bos_token_id(tok["bos"])
        if tok["eos"] is not None:
            writer.add_eos_token_id(tok["eos"])
        if tok["pad"] is not None:
            writer.add_pad_token_id(tok["pad"])
        if tok["eot"] is not None:
            writer.add_eot_token_id(tok["eot"])
        writer.add_add_bos_token(bool(tok["add_bos"]))
        writer.add_add_eos_token(bool(tok["add_eos"]))
        if tok["chat_template"]:
            writer.add_chat_template(tok["chat_template"])

        for hf_name in sorted(tensors, key=_layer_sort_key):
            if hf_name.endswith("rotary_emb.inv_freq"):
                continue
            data = np.ascontiguousarray(tensors[hf_name].astype(np.float32))
            if hf_name.endswith("self_attn.q_proj.weight"):
                data = _permute(data, n_head, n_head)
            elif hf_name.endswith("self_attn.k_proj.weight"):
                data = _permute(data, n_head, n_head_kv)
            new_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if new_name is None:
                raise ValueError(f"cannot map tensor {hf_name!r} to a llama.cpp name")
            if q8 and data.ndim == 2 and data.shape[-1] % 32 == 0:
                qdata = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
                writer.add_tensor(new_name, qdata, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            else:
                writer.add_tensor(new_name, data)
            logger.debug("gguf tensor %s -> %s %s", hf_name, new_name, data.shape)

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        tmp.chmod(0o644)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("wrote %s GGUF %s", quant, out_path)
    return out_path
