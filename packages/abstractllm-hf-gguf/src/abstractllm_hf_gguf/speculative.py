"""Speculative decoding in gguf mode: refused, because llama.cpp cannot verify a draft exactly.

The ``speculative`` option is declared for every local mode (see :mod:`abstractllm.speculative`);
this mode accepts only its off values. Verifying a draft means evaluating several tokens in one
``llama_decode``; llama.cpp computes a batch of tokens with other kernels than one token, and its
logits are not those of single steps. Measured on SmolLM2-135M-Instruct Q4_1 (CPU build of
llama-cpp-python 0.3.36): the first token of an 8-token batch matches a single step bit for bit,
the next seven differ by 0.50 to 0.83 in their logits, while the gap between the two best tokens
is below that in many positions (0.13 and 0.24 among these eight). A verified draft would then
change replies (the raw library's ``LlamaPromptLookupDecoding`` does: its story differs from
plain greedy decoding's), and re-checking every such position with a single step would cost
more than the draft saves. Nor would an exact verification pay much on a CPU: a quantized model's
``llama_decode`` of k tokens costs nearly k single steps, so raw llama-cpp-python's prompt lookup
gains 1.09-1.18x on an edit (SmolLM2, Qwen2.5-Coder-0.5B) and runs a story at 0.35-0.52x (issue
28's measurements), short of the 1.3x a re-checking scheme would need to be worth building. Rather
than silently change replies, the option is refused.

How much the batch differs depends on the weights' type (same build, same 8 tokens): the project's
tiny model in Q8_0 gives bit-identical logits, in F32 they differ by up to 2e-5, in SmolLM2's Q4_1
by up to 0.83 (with one thread too, so it is the kernels, not the threads' split). A speculation
gated on a load-time probe showing bit-identical batches could be exact for some files; it is not
built yet.
"""

from __future__ import annotations

from typing import Any

from abstractllm.errors import InvalidArgumentError

__all__ = ["refuse_speculation"]

WHY = (
    "speculative decoding is not available in gguf mode: llama.cpp evaluates a draft of several tokens with other"
    " kernels than a single token, and its logits then differ by up to 0.8 from single steps (measured on SmolLM2"
    " Q4_1), so a verified draft would change replies where two tokens nearly tie; and on CPU checking k drafted"
    " tokens of a quantized model costs nearly k single steps, so it would gain little (raw llama-cpp-python's prompt"
    " lookup: 1.09-1.18x on an edit, 0.35-0.52x on a story, replies not identical); use speculative=None in gguf mode,"
    " or the pipeline mode (transformers) for speculative decoding"
)


def refuse_speculation(value: Any) -> None:
    """Raise ``InvalidArgumentError`` (parameter ``speculative``) when ``value``, the validated option, turns it on."""
    if value is not None:
        raise InvalidArgumentError(WHY, mode="gguf", parameter="speculative", value=None, allowed="None in gguf mode")
