"""What a loaded model supports: one typed record with the same fields in every mode.

A backend returns a :class:`Capabilities` from ``Backend.capabilities()``; users read it from
``get_capabilities()`` as a dict keyed by :class:`~abstractllm.backend.enums.ModelCapability`
values, the original AbstractLLM's keys. Each field is one key (:data:`KEYS`); two keys of the
original API name one field (:data:`ALIASES`: ``supports_function_calling`` is
``supports_tool_use``, ``supports_json_mode`` is ``supports_structured_output``) and read the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from abstractllm.backend.enums import ModelCapability

__all__ = ["ALIASES", "KEYS", "Capabilities"]


@dataclass(frozen=True)
class Capabilities(Mapping[str, Any]):
    """What a loaded model supports, as its backend measured it (a claim the backend must keep).

    ``context_window`` is the tokens the model attends to (``max_tokens``, None when unknown).
    ``tool_rendering`` is ``"native"`` (the chat template renders tools) or ``"prompted"`` (core's
    tool prompt) in the local modes, None where a server renders them; ``tool_format`` the tool-call
    family the model writes (docs/tools.md), None where a server reads calls. ``chat_template`` is True,
    or ``"fallback"`` when the model has none and core's plain chat format is used (None: not known).
    ``chat_format`` names llama.cpp's chat format (GGUF). ``quantization`` names the weights'
    quantization, if any. ``multilingual`` and ``rag`` depend on the model, not the mode:
    None means not known. ``extra`` holds keys a plugin added that are not fields.

    It is a read-only mapping too: ``capabilities["supports_tool_use"]``,
    ``capabilities.get(ModelCapability.STREAMING)``, with every key of :data:`KEYS` and
    :data:`ALIASES` present.
    """

    context_window: int | None = None
    streaming: bool = True
    system_prompt: bool = True
    asynchronous: bool = True
    multi_turn: bool = True
    stop_sequences: bool = True
    seed: bool = False
    multiple_sequences: bool = False
    structured_output: bool = False
    tool_use: bool = False
    tool_rendering: str | None = None
    tool_format: str | None = None
    chat_template: bool | str | None = None
    chat_format: str | None = None
    quantization: str | None = None
    dynamic_batching: bool = False
    parallel_inference: bool = False
    vision: bool = False
    embeddings: bool = False
    fine_tuning: bool = False
    image_generation: bool = False
    audio_processing: bool = False
    multilingual: bool | None = None
    rag: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_mapping(cls, values: Mapping[Any, Any]) -> Capabilities:
        """A record read from ``ModelCapability`` keys (members or strings, aliases included);
        keys that are no field go to ``extra``. A :class:`Capabilities` is returned as it is."""
        if isinstance(values, Capabilities):
            return values
        return cls().updated(values)

    def updated(self, values: Mapping[Any, Any]) -> Capabilities:
        """This record with ``values`` (``ModelCapability`` keys, aliases included) written over it."""
        changes: dict[str, Any] = {}
        extra = dict(self.extra)
        for key, value in values.items():
            name = str(key)
            name = ALIASES.get(name, name)
            if name in _FIELD_OF:
                changes[_FIELD_OF[name]] = value
            else:
                extra[name] = value
        return dataclasses.replace(self, **changes, extra=extra)

    def __getitem__(self, key: Any) -> Any:
        name = str(key)
        name = ALIASES.get(name, name)
        if name in _FIELD_OF:
            return getattr(self, _FIELD_OF[name])
        return self.extra[name]

    def __iter__(self) -> Iterator[str]:
        yield from KEYS
        yield from ALIASES
        yield from (key for key in self.extra if key not in _FIELD_OF and key not in ALIASES)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        name = str(key)
        return name in _FIELD_OF or name in ALIASES or name in self.extra

    def to_dict(self) -> dict[str, Any]:
        """Every key (aliases included) to its value: what ``get_capabilities()`` returns."""
        return dict(self.items())


#: Field name -> its key in ``get_capabilities()`` (a ``ModelCapability`` value).
_KEY_OF: dict[str, str] = {
    "context_window": ModelCapability.MAX_TOKENS.value,
    "streaming": ModelCapability.STREAMING.value,
    "system_prompt": ModelCapability.SYSTEM_PROMPT.value,
    "asynchronous": ModelCapability.ASYNC.value,
    "multi_turn": ModelCapability.MULTI_TURN.value,
    "stop_sequences": ModelCapability.STOP_SEQUENCES.value,
    "seed": ModelCapability.SEED.value,
    "multiple_sequences": ModelCapability.MULTIPLE_SEQUENCES.value,
    "structured_output": ModelCapability.STRUCTURED_OUTPUT.value,
    "tool_use": ModelCapability.TOOL_USE.value,
    "tool_rendering": ModelCapability.TOOL_RENDERING.value,
    "tool_format": ModelCapability.TOOL_FORMAT.value,
    "chat_template": ModelCapability.CHAT_TEMPLATE.value,
    "chat_format": ModelCapability.CHAT_FORMAT.value,
    "quantization": ModelCapability.QUANTIZATION.value,
    "dynamic_batching": ModelCapability.DYNAMIC_BATCHING.value,
    "parallel_inference": ModelCapability.PARALLEL_INFERENCE.value,
    "vision": ModelCapability.VISION.value,
    "embeddings": ModelCapability.EMBEDDINGS.value,
    "fine_tuning": ModelCapability.FINE_TUNING.value,
    "image_generation": ModelCapability.IMAGE_GENERATION.value,
    "audio_processing": ModelCapability.AUDIO_PROCESSING.value,
    "multilingual": ModelCapability.MULTILINGUAL.value,
    "rag": ModelCapability.RAG.value,
}
_FIELD_OF = {key: name for name, key in _KEY_OF.items()}

#: Every key of ``get_capabilities()`` that is a field, in field order.
KEYS: tuple[str, ...] = tuple(_KEY_OF.values())

#: The original API's synonym keys -> the key they read.
ALIASES: dict[str, str] = {
    ModelCapability.FUNCTION_CALLING.value: ModelCapability.TOOL_USE.value,
    ModelCapability.JSON_MODE.value: ModelCapability.STRUCTURED_OUTPUT.value,
}
