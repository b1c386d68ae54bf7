"""The contract between core and a backend.

A backend plugin declares what it serves with :class:`BackendInfo` (hook
``abstractllm_backends``) and, asked by ``abstractllm_load_model``, returns a loaded
:class:`Backend`. Core validates everything before a backend sees it, times calls,
maps exceptions and builds the user-facing responses; a backend only generates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from abstractllm.errors import AbstractLLMError
from abstractllm.options import Option
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta

__all__ = ["Backend", "BackendInfo"]


@dataclass(frozen=True)
class BackendInfo:
    """What a plugin serves: ``provider`` and ``mode`` (e.g. ``"huggingface"``, ``"gguf"``).

    ``load_options`` are the options ``create_llm`` accepts for this mode beyond core's
    common ones; ``generation_options`` the extra per-call options (validated values
    reach the backend in ``GenerationParams.extra``). ``aliases`` are other accepted
    ``model_type`` spellings. ``install`` is the pip line that installs this backend.
    """

    provider: str
    mode: str
    description: str
    install: str
    load_options: Mapping[str, Option] = field(default_factory=dict)
    generation_options: Mapping[str, Option] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


class Backend(ABC):
    """A loaded model of one mode.

    Contract:
    - ``generate`` returns one ``Choice`` per ``params.num_return_sequences`` with exact usage.
    - ``stream`` yields text deltas whose texts join to what ``generate`` returns under
      greedy decoding; the last delta carries ``finish_reason`` and ``usage``.
    - Stop sequences never appear in returned text; ``finish_reason`` is ``"stop"`` then.
    - The async variants never block the event loop; the defaults run the sync
      versions in a worker thread.
    - Exceptions may be the runtime's own: core passes them to ``map_error`` and the
      ``abstractllm_map_error`` hook and raises an ``abstractllm.errors`` class from them.
    - ``close`` frees the model; it is called once, by ``unload``.
    """

    info: BackendInfo
    model_name: str

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Completion: ...

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]: ...

    async def generate_async(self, request: GenerationRequest) -> Completion:
        import asyncio

        return await asyncio.to_thread(self.generate, request)

    def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        from abstractllm.threads import iterate_in_thread

        return iterate_in_thread(lambda: self.stream(request))

    @abstractmethod
    def capabilities(self) -> dict[str, Any]:
        """``ModelCapability`` values (strings) to what this loaded model really supports."""

    def context_window(self) -> int | None:
        """Tokens the model can attend to, or None when unknown."""
        value = self.capabilities().get("max_tokens")
        return value if isinstance(value, int) else None

    def count_tokens(self, request: GenerationRequest) -> int | None:
        """Exact prompt tokens ``request`` would use, or None when the backend cannot tell."""
        return None

    def map_error(self, error: BaseException) -> AbstractLLMError | None:
        """Translate a runtime exception into an ``abstractllm.errors`` class, or None."""
        return None

    def close(self) -> None:
        """Free the model's resources."""

    async def aclose(self) -> None:
        """``close`` from inside an event loop: what belongs to the running loop (async
        connections, say) is closed before this returns. Defaults to ``close()``."""
        self.close()
