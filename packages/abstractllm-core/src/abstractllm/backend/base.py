"""The two classes a backend plugin is: :class:`BackendInfo` (what it serves) and :class:`Backend` (a loaded model)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from abstractllm.backend.capabilities import Capabilities
from abstractllm.backend.options import Option
from abstractllm.backend.request import GenerationRequest
from abstractllm.backend.response import Completion, StreamDelta
from abstractllm.backend.sequences import join_streams
from abstractllm.errors import AbstractLLMError

if TYPE_CHECKING:
    from abstractllm.config import ConfigManager

__all__ = ["Backend", "BackendInfo"]


@dataclass(frozen=True)
class BackendInfo:
    """What a plugin serves: ``provider`` and ``mode`` (e.g. ``"huggingface"``, ``"gguf"``).

    ``load_options`` are the options ``create_llm`` accepts for this mode beyond core's
    common ones; ``generation_options`` the extra per-call options (validated values
    reach the backend in ``GenerationParams.extra``). ``aliases`` are other accepted
    ``model_type`` spellings (matched ignoring case; core knows none of them). ``install``
    is the pip line that installs this backend.

    ``load(info, config)`` loads a model for the validated ``config`` and returns its
    :class:`Backend` (heavy imports belong inside it, not at the plugin's module level).
    ``map_error(error)`` translates an exception of this mode's runtime, raised while loading
    or generating, into an ``abstractllm.errors`` instance, or returns None to leave it to
    core's generic rules; core sets ``__cause__``, provider, mode and model.
    """

    provider: str
    mode: str
    description: str
    install: str
    load_options: Mapping[str, Option] = field(default_factory=dict)
    generation_options: Mapping[str, Option] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    load: Callable[[BackendInfo, ConfigManager], Backend] | None = field(default=None, compare=False, repr=False)
    map_error: Callable[[BaseException], AbstractLLMError | None] | None = field(default=None, compare=False, repr=False)


class Backend(ABC):
    """A loaded model of one mode.

    Contract:
    - ``stream`` is the one generation method a backend must write: it yields text deltas
      for one sequence (``num_return_sequences`` is 1 there); the last delta carries
      ``finish_reason`` and ``usage``. Feeding the model's text to an
      :class:`abstractllm.blocks.ReplyAssembler` and ending with the delta its ``finish`` returns meets every rule below.
    - ``generate`` returns one ``Choice`` per ``params.num_return_sequences`` with exact usage.
      By default core joins ``stream``, one stream per sequence with seed ``seed + i``
      (greedy: one stream, returned ``n`` times). A backend overrides it where it does better
      (batched rows, ``n=`` sent to a server); its replies must then equal the joined streams
      under greedy decoding (the conformance kit checks it).
    - Stop sequences never appear in returned text; ``finish_reason`` is ``"stop"`` then.
    - The async variants never block the event loop; the defaults run the sync
      versions in a worker thread.
    - Exceptions may be the runtime's own: core passes them to ``BackendInfo.map_error``
      and raises an ``abstractllm.errors`` class from them.
    - ``close`` frees the model; it is called once, by ``unload``.
    """

    info: BackendInfo
    model_name: str

    def generate(self, request: GenerationRequest) -> Completion:
        """The reply to ``request`` with every sequence: by default its streams joined (see the contract)."""
        completion = join_streams(self.stream, request)
        completion.model = self.model_name
        return completion

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]: ...

    async def generate_async(self, request: GenerationRequest) -> Completion:
        import asyncio  # on use: create_llm in API mode does not import asyncio

        return await asyncio.to_thread(self.generate, request)

    def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        from abstractllm.backend.threads import iterate_in_thread  # on use: it imports asyncio

        return iterate_in_thread(lambda: self.stream(request))

    @abstractmethod
    def capabilities(self) -> Capabilities | Mapping[str, Any]:
        """What this loaded model really supports, as a :class:`Capabilities` (a mapping of
        ``ModelCapability`` values, the older form, is read into one by core)."""

    def context_window(self) -> int | None:
        """Tokens the model can attend to, or None when unknown."""
        return Capabilities.from_mapping(self.capabilities()).context_window

    def encode(self, request: GenerationRequest) -> Sized | None:
        """``request``'s prompt in this backend's own form (rendered and tokenized), whose
        ``len()`` is its exact token count, or None when the backend cannot tell.

        Core encodes each call once: it checks the context window with this value and hands
        it back as ``request.encoded``, so ``generate`` and ``stream`` use
        ``request.encoded`` when it is not None instead of encoding again.
        """
        return None

    def count_tokens(self, request: GenerationRequest) -> int | None:
        """Exact prompt tokens ``request`` would use, or None when the backend cannot tell."""
        encoded = self.encode(request)
        return None if encoded is None else len(encoded)

    def cache_info(self) -> dict[str, int] | None:
        """Counters of the backend's prefix cache (at least ``hits``, ``misses`` and ``bytes``
        held), or None when the mode keeps none."""
        return None

    def close(self) -> None:
        """Free the model's resources."""

    async def aclose(self) -> None:
        """``close`` from inside an event loop: what belongs to the running loop (async
        connections, say) is closed before this returns. Defaults to ``close()``."""
        self.close()
