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

#: The special tokens each family's real tokenizer has (its tool-call markers first).
FAMILY_TOKENS: dict[str, tuple[str, ...]] = {
    "llama3": ("<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"),
    "functionary": ("<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"),
    "functionary_v32": ("<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"),
    "mistral": (
        "[TOOL_CALLS]",
        "[AVAILABLE_TOOLS]",
        "[/AVAILABLE_TOOLS]",
        "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]",
        "[INST]",
        "[/INST]",
    ),
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
    "deepseek_v3": (
        *(
            "<\uff5c" + words.replace(" ", "\u2581") + "\uff5c>"  # <|tool_sep|> and the like, with U+FF5C and U+2581
            for words in (
                "tool calls begin",
                "tool calls end",
                "tool call begin",
                "tool call end",
                "tool sep",
                "tool outputs begin",
                "tool outputs end",
                "tool output begin",
                "tool output end",
                "User",
                "Assistant",
                "end of sentence",
            )
        ),
    ),
    "deepseek": (
        *(
            "<\uff5c" + words.replace(" ", "\u2581") + "\uff5c>"  # <|tool_sep|> and the like, with U+FF5C and U+2581
            for words in (
                "tool calls begin",
                "tool calls end",
                "tool call begin",
                "tool call end",
                "tool sep",
                "tool output begin",
                "tool output end",
                "User",
                "Assistant",
                "end of sentence",
            )
        ),
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
