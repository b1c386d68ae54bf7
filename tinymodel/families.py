"""Tiny models of other tool-call families: the project's tiny model with a family's chat template and
special tokens (added to its tokenizer, the embeddings grown to match), as a transformers folder and a GGUF.

The weights are the tiny model's, so what such a model writes is scripted by the tests; the point is
the tokenizer (the family's markers are single special tokens, as in the real models) and the template
(the family's published one, ``tests/data/tool_templates``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

__all__ = ["CONTEXT", "FAMILY_TOKENS", "build_family_model"]

#: The context window of a family model (the tiny model's 512 tokens hold no published tool template).
CONTEXT = 4096
_VERSION = 3  # of how a family model is built (part of its folder's name)


def _deepseek_tokens(*words: str) -> tuple[str, ...]:
    """DeepSeek's special tokens named by ``words``: ``"tool sep"`` is ``<\uff5ctool\u2581sep\uff5c>`` (fullwidth
    bars U+FF5C around the words, joined by U+2581)."""
    return tuple("<\uff5c" + name.replace(" ", "\u2581") + "\uff5c>" for name in words)


#: DeepSeek's tool-call markers (before its tool-output ones) and its turn markers (after them).
_DEEPSEEK_CALLS = ("tool calls begin", "tool calls end", "tool call begin", "tool call end", "tool sep")
_DEEPSEEK_TURNS = ("User", "Assistant", "end of sentence")
#: Mistral's special tokens for tools and turns, besides its tool-call markers.
_MISTRAL = ("[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[INST]", "[/INST]")
#: Llama 3.1's special tokens (Functionary's models are Llama 3.1 fine-tunes).
_LLAMA31 = ("<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>")

#: The special tokens each family's real tokenizer has (its tool-call markers first).
FAMILY_TOKENS: dict[str, tuple[str, ...]] = {
    "llama3": _LLAMA31,
    "functionary": _LLAMA31,
    "functionary_v32": _LLAMA31,
    "mistral": ("[TOOL_CALLS]", *_MISTRAL),
    "mistral_v11": ("[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", *_MISTRAL, "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"),
    "phi4_mini": (
        "<|tool_call|>",
        "<|/tool_call|>",
        "<|tool|>",
        "<|/tool|>",
        "<|tool_response|>",
        "<|system|>",
        "<|user|>",
        "<|assistant|>",
        "<|end|>",
    ),
    "granite": ("<|tool_call|>", "<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>"),
    "command_r": (
        "<|START_ACTION|>",
        "<|END_ACTION|>",
        "<|START_THINKING|>",
        "<|END_THINKING|>",
        "<|START_RESPONSE|>",
        "<|END_RESPONSE|>",
        "<|START_OF_TURN_TOKEN|>",
        "<|END_OF_TURN_TOKEN|>",
        "<|CHATBOT_TOKEN|>",
        "<|SYSTEM_TOKEN|>",
        "<|USER_TOKEN|>",
        "<|START_TOOL_RESULT|>",
        "<|END_TOOL_RESULT|>",
    ),
    "deepseek_v3": _deepseek_tokens(
        *_DEEPSEEK_CALLS, "tool outputs begin", "tool outputs end", "tool output begin", "tool output end", *_DEEPSEEK_TURNS
    ),
    "deepseek": (
        *_deepseek_tokens(*_DEEPSEEK_CALLS, "tool output begin", "tool output end", *_DEEPSEEK_TURNS),
        "<think>",
        "</think>",
    ),
}


def build_family_model(tiny_dir: Path, out_root: Path, family: str, template: str) -> tuple[Path, Path]:
    """``(transformers folder, GGUF file)`` of the tiny model in ``tiny_dir`` with ``family``'s special
    tokens and chat ``template``, built once under ``out_root`` (keyed by the template's text)."""
    from tokenizers import AddedToken
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .gguf_export import write_gguf

    digest = hashlib.sha256(f"{_VERSION}\0{family}\0{template}".encode()).hexdigest()[:12]
    folder = out_root / f"{family}-{digest}"
    gguf = folder / "model-f32.gguf"
    if gguf.is_file():
        return folder, gguf
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    tokenizer.add_tokens(
        [AddedToken(token, special=True, normalized=False) for token in FAMILY_TOKENS[family]], special_tokens=True
    )
    tokenizer.chat_template = template
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.max_position_embeddings = CONTEXT  # published tool templates are long (rotary positions extend)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    tokenizer.save_pretrained(partial)
    model.save_pretrained(partial)
    write_gguf(partial, partial / gguf.name, name=f"tiny-{family}")
    try:
        partial.rename(folder)
    except OSError:  # another process built it first
        shutil.rmtree(partial, ignore_errors=True)
    return folder, gguf


# FunctionGemma (Gemma-3-270M based): its function-calling tokens, string delimiter and Gemma's turn tokens.
FAMILY_TOKENS["functiongemma"] = (
    "<start_function_call>",
    "<end_function_call>",
    "<escape>",
    "<start_function_response>",
    "<end_function_response>",
    "<start_function_declaration>",
    "<end_function_declaration>",
    "<start_of_turn>",
    "<end_of_turn>",
)
