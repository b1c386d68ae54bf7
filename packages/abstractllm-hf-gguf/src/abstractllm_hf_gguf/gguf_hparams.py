"""The hyperparameter values llama.cpp asserts on (aborting the process) instead of reporting.

llama.cpp's loader (``llama_model::load_hparams`` in ``llama-model.cpp``) checks these
with ``GGML_ASSERT``, which aborts the process; the tokenizer asserts when it must add a
BOS/EOS token that does not exist. :func:`check_hparams` refuses such files first, naming
the field. Wrong *types* are not checked here: llama.cpp reports those as errors itself.
Normalisation epsilons are checked too (ggml asserts on them in every forward pass), and
a file without a tokenizer is refused (llama.cpp asserts when asked to tokenize).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_CONTEXT_LENGTH", "MAX_EXPERTS", "MAX_LAYERS", "check_hparams"]

MAX_LAYERS = 512  # LLAMA_MAX_LAYERS
MAX_EXPERTS = 1024  # LLAMA_MAX_EXPERTS
#: The largest training context accepted: far above any real model, far below llama.cpp's int32 positions.
MAX_CONTEXT_LENGTH = 2**27
ROPE_SCALING_TYPES = ("none", "linear", "yarn", "longrope")
#: Architectures whose expert counts llama.cpp rewrites before checking them.
_EXPERT_RULES_DIFFER = ("hunyuan-vl", "hunyuan-dense")
#: Architectures llama.cpp loads without text hyperparameters.
_NO_HPARAMS = ("clip",)


class HparamError(ValueError):
    """A hyperparameter llama.cpp would abort on; ``field`` is its metadata key."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


def check_hparams(metadata: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
    """Raise :class:`HparamError` for a value llama.cpp would abort on.

    ``metadata`` holds scalar values, ``arrays`` the :class:`~abstractllm_hf_gguf.gguf_file.GGUFArray`
    values (``count``, and ``values`` for short numeric arrays).
    """
    arch = metadata.get("general.architecture")
    if isinstance(arch, str) and arch not in _NO_HPARAMS:
        _check_layers(arch, metadata)
        _check_context(arch, metadata)
        if arch not in _EXPERT_RULES_DIFFER:
            _check_experts(arch, metadata, arrays)
        _check_rope(arch, metadata)
        _check_epsilons(arch, metadata)
    _check_tokenizer(metadata, arrays)


def _int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_layers(arch: str, metadata: Mapping[str, Any]) -> None:
    key = f"{arch}.block_count"
    layers = _int(metadata, key)
    if layers is None:
        return  # absent or mistyped: llama.cpp reports it
    if not 0 < layers <= MAX_LAYERS:
        raise HparamError(key, f"is {layers}; llama.cpp needs 1 to {MAX_LAYERS} layers")
    for sub in ("nextn_predict_layers", "posnet.block_count", "convnext.block_count"):
        count = _int(metadata, f"{arch}.{sub}")
        if count is not None and count > layers:
            raise HparamError(f"{arch}.{sub}", f"is {count}, more than {key}={layers}")


def _check_context(arch: str, metadata: Mapping[str, Any]) -> None:
    key = f"{arch}.context_length"
    length = _int(metadata, key)
    if length is not None and not 0 < length <= MAX_CONTEXT_LENGTH:
        raise HparamError(key, f"is {length}; a usable training context is 1 to {MAX_CONTEXT_LENGTH} tokens")


def _check_experts(arch: str, metadata: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
    count_key, used_key = f"{arch}.expert_count", f"{arch}.expert_used_count"
    groups_key, group_used_key = f"{arch}.expert_group_count", f"{arch}.expert_group_used_count"
    experts = _int(metadata, count_key) or 0
    groups = _int(metadata, groups_key) or 0
    group_used = _int(metadata, group_used_key) or 0
    used = _int(metadata, used_key) or 0
    per_layer = arrays.get(used_key)
    if per_layer is not None and per_layer.values:
        used = max(int(value) for value in per_layer.values)
    if experts > MAX_EXPERTS:
        raise HparamError(count_key, f"is {experts}; llama.cpp supports at most {MAX_EXPERTS} experts")
    if used > experts:
        raise HparamError(used_key, f"is {used}, more than {count_key}={experts}")
    if experts > 0:
        if used <= 0:
            raise HparamError(used_key, f"is {used}; a model with {experts} experts must use at least one")
        if groups >= experts:
            raise HparamError(groups_key, f"is {groups}; it must be below {count_key}={experts}")
        if groups > 1:
            if experts % groups:
                raise HparamError(groups_key, f"is {groups}, which does not divide {count_key}={experts}")
            if not 0 < group_used < groups:
                raise HparamError(group_used_key, f"is {group_used}; it must be 1 to {groups - 1}")
    elif groups:
        raise HparamError(groups_key, f"is {groups} but the model has no experts")


def _check_rope(arch: str, metadata: Mapping[str, Any]) -> None:
    key = f"{arch}.rope.scaling.type"
    value = metadata.get(key)
    if isinstance(value, str) and value not in ROPE_SCALING_TYPES:
        raise HparamError(key, f"is {value[:40]!r}; llama.cpp knows {', '.join(ROPE_SCALING_TYPES)}")


def _check_epsilons(arch: str, metadata: Mapping[str, Any]) -> None:
    """Normalisation epsilons: ggml asserts ``eps >= 0`` in every forward pass."""
    for key, value in metadata.items():
        numeric = isinstance(value, int | float)
        if key.startswith(f"{arch}.") and key.endswith("epsilon") and numeric and not (math.isfinite(value) and value >= 0):
            raise HparamError(key, f"is {value}; it must be a finite number >= 0")


def _check_tokenizer(metadata: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
    model = metadata.get("tokenizer.ggml.model")
    if model in ("none", "no"):
        raise HparamError("tokenizer.ggml.model", f"is {model!r}: the file has no tokenizer, and text generation needs one")
    tokens = arrays.get("tokenizer.ggml.tokens")
    n_tokens = tokens.count if tokens is not None else None
    for which in ("bos", "eos"):
        if metadata.get(f"tokenizer.ggml.add_{which}_token") is not True:
            continue
        key = f"tokenizer.ggml.{which}_token_id"
        token = _int(metadata, key)
        if token is not None and (token < 0 or (n_tokens is not None and token >= n_tokens)):
            raise HparamError(
                key,
                f"is {metadata.get(key)!r} but tokenizer.ggml.add_{which}_token is true; llama.cpp needs a token id"
                f" below the vocabulary size ({n_tokens})",
            )
