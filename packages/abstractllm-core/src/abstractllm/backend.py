"""What a backend author imports: the contract between core and a backend, and core's building blocks.

A backend plugin hands core what it serves, with :class:`BackendInfo` values returned by its
``abstractllm_backends`` hook; each carries the mode's ``load`` and ``map_error`` functions, so
core calls the right plugin directly. ``load`` returns a loaded :class:`Backend`. Core
validates everything before a backend sees it, times calls, maps exceptions and builds the
user-facing responses; a backend only generates.

The plugin-author surface is this module with :mod:`abstractllm.request`,
:mod:`abstractllm.response`, :mod:`abstractllm.options`, :mod:`abstractllm.errors`,
:mod:`abstractllm.hookspecs` (the hooks, and ``hookimpl``) and :mod:`abstractllm.testing`.
Everything under ``abstractllm._private`` may change without notice. The building blocks
below are imported on first use, so a plugin pays only for what it uses:

- sharing loaded models between objects: :class:`SharedModelCache`;
- the reply: :class:`ReplyAssembler`, fed the model's text, cuts stop sequences, takes tool-call
  blocks out of the text, reads them and decides the finish reason, the same way in every mode
  (the rules are in its module, :mod:`abstractllm._private.reply`); :class:`Unmet` is what it
  finds a reply ignored; stop sequences alone: :class:`StopSequenceFilter`, :func:`truncate_at_stop`;
- several sequences: :func:`sequence_request` (the request of sequence ``i``: seed
  :func:`sequence_seed`, ``seed + i``) and
  :func:`join_streams` (what ``Backend.generate`` does by default);
- prompts: :func:`plain_prompt_text` (a model without a chat template) and the one tool rule,
  :func:`messages_with_tool_prompt`, :func:`template_renders_tools`, :class:`ToolMarkup`,
  :data:`FALLBACK_MARKUP`, :data:`TOOL_CALL_OPEN`, :data:`TOOL_CALL_CLOSE`,
  :func:`forced_call_schema`;
- tool-call families (docs/tools.md): :class:`ToolFamily` (a family's markup, forced-call shape
  :class:`ForcedCall` and render-back), :func:`choose_family` (the option's, else the template's);
- reading replies: :func:`read_tool_calls`, :class:`ToolCallScan`, :func:`tool_call_from_data`,
  :func:`parse_structured`;
- constrained decoding, the one JSON-schema compiler of both local modes: :class:`JsonConstraint`
  (compiled once per schema) and :class:`ConstraintRun` (one reply's token mask);
- downloads and the hub: :func:`progress_only_on_a_terminal`, :func:`hub_cache_miss` (the one
  wording of "not in the cache" and offline mode), :func:`install_line` (the pip line that installs a
  distribution, from a checkout or an index);
- observing calls: :class:`FinishedCall` (the argument of ``abstractllm_call_finished``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from abstractllm._private.lazy_names import lazy_names
from abstractllm.errors import AbstractLLMError
from abstractllm.options import Option
from abstractllm.request import GenerationRequest
from abstractllm.response import Completion, StreamDelta

if TYPE_CHECKING:
    # The building blocks, explicitly re-exported for type checkers (imported on first use at run time).
    from abstractllm._private.download_progress import progress_only_on_a_terminal as progress_only_on_a_terminal
    from abstractllm._private.hub_messages import hub_cache_miss as hub_cache_miss
    from abstractllm._private.install_hint import install_line as install_line
    from abstractllm._private.model_cache import SharedModelCache as SharedModelCache
    from abstractllm._private.observe import FinishedCall as FinishedCall
    from abstractllm._private.plain_prompt import plain_prompt_text as plain_prompt_text
    from abstractllm._private.reply import ReplyAssembler as ReplyAssembler
    from abstractllm._private.reply import Unmet as Unmet
    from abstractllm._private.sequences import join_streams as join_streams
    from abstractllm._private.sequences import sequence_request as sequence_request
    from abstractllm._private.sequences import sequence_seed as sequence_seed
    from abstractllm._private.stops import StopSequenceFilter as StopSequenceFilter
    from abstractllm._private.stops import truncate_at_stop as truncate_at_stop
    from abstractllm._private.structured import parse_structured as parse_structured
    from abstractllm._private.token_constraint import ConstraintRun as ConstraintRun
    from abstractllm._private.token_constraint import JsonConstraint as JsonConstraint
    from abstractllm._private.tool_families import ToolFamily as ToolFamily
    from abstractllm._private.tool_families import choose_family as choose_family
    from abstractllm._private.tool_families.family import ForcedCall as ForcedCall
    from abstractllm._private.tool_format import FALLBACK_MARKUP as FALLBACK_MARKUP
    from abstractllm._private.tool_format import TOOL_CALL_CLOSE as TOOL_CALL_CLOSE
    from abstractllm._private.tool_format import TOOL_CALL_OPEN as TOOL_CALL_OPEN
    from abstractllm._private.tool_format import ToolCallScan as ToolCallScan
    from abstractllm._private.tool_format import ToolMarkup as ToolMarkup
    from abstractllm._private.tool_format import forced_call_schema as forced_call_schema
    from abstractllm._private.tool_format import messages_with_tool_prompt as messages_with_tool_prompt
    from abstractllm._private.tool_format import read_tool_calls as read_tool_calls
    from abstractllm._private.tool_format import template_renders_tools as template_renders_tools
    from abstractllm._private.tool_format import tool_call_from_data as tool_call_from_data
    from abstractllm.config import ConfigManager

_BUILDING_BLOCKS = {
    "SharedModelCache": "model_cache",
    "ReplyAssembler": "reply",
    "Unmet": "reply",
    "join_streams": "sequences",
    "sequence_request": "sequences",
    "sequence_seed": "sequences",
    "StopSequenceFilter": "stops",
    "truncate_at_stop": "stops",
    "plain_prompt_text": "plain_prompt",
    "messages_with_tool_prompt": "tool_format",
    "template_renders_tools": "tool_format",
    "ToolMarkup": "tool_format",
    "FALLBACK_MARKUP": "tool_format",
    "TOOL_CALL_OPEN": "tool_format",
    "TOOL_CALL_CLOSE": "tool_format",
    "forced_call_schema": "tool_format",
    "read_tool_calls": "tool_format",
    "ToolCallScan": "tool_format",
    "tool_call_from_data": "tool_format",
    "ToolFamily": "tool_families",
    "ForcedCall": "tool_families.family",
    "choose_family": "tool_families",
    "parse_structured": "structured",
    "progress_only_on_a_terminal": "download_progress",
    "FinishedCall": "observe",
    "JsonConstraint": "token_constraint",
    "ConstraintRun": "token_constraint",
    "hub_cache_miss": "hub_messages",
    "install_line": "install_hint",
}

__all__ = ["Backend", "BackendInfo", *sorted(_BUILDING_BLOCKS)]


__getattr__, __dir__ = lazy_names(
    globals(), {name: f"abstractllm._private.{module}" for name, module in _BUILDING_BLOCKS.items()}
)


@dataclass(frozen=True)
class BackendInfo:
    """What a plugin serves: ``provider`` and ``mode`` (e.g. ``"huggingface"``, ``"gguf"``).

    ``load_options`` are the options ``create_llm`` accepts for this mode beyond core's
    common ones; ``generation_options`` the extra per-call options (validated values
    reach the backend in ``GenerationParams.extra``). ``aliases`` are other accepted
    ``model_type`` spellings. ``install`` is the pip line that installs this backend.

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
      ``finish_reason`` and ``usage``. Feeding the model's text to a :class:`ReplyAssembler`
      and ending with the delta its ``finish`` returns meets every rule below.
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
        from abstractllm._private.sequences import join_streams

        completion = join_streams(self.stream, request)
        completion.model = self.model_name
        return completion

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]: ...

    async def generate_async(self, request: GenerationRequest) -> Completion:
        import asyncio

        return await asyncio.to_thread(self.generate, request)

    def stream_async(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        from abstractllm._private.threads import iterate_in_thread

        return iterate_in_thread(lambda: self.stream(request))

    @abstractmethod
    def capabilities(self) -> dict[str, Any]:
        """``ModelCapability`` values (strings) to what this loaded model really supports."""

    def context_window(self) -> int | None:
        """Tokens the model can attend to, or None when unknown."""
        value = self.capabilities().get("max_tokens")
        return value if isinstance(value, int) else None

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
