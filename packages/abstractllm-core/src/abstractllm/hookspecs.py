"""The hooks a plugin implements. Each docstring is the contract.

A plugin is a module (or object) registered under the ``abstractllm`` entry-point
group whose functions carry ``@abstractllm.hookimpl``. Core calls the generation
hooks for every call, so a plugin can observe or change all of them with a wrapper
(``@hookimpl(wrapper=True)``); core's own implementations run last and delegate to
the loaded :class:`~abstractllm.backend.Backend`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from abstractllm.backend import (
        Backend,
        BackendInfo,
        Completion,
        FinishedCall,
        GenerationRequest,
        StreamDelta,
        ToolCallContext,
    )

__all__ = ["hookimpl", "hookspec"]

#: Marks the functions of a plugin that implement these hooks (``@hookimpl``, ``@hookimpl(wrapper=True)``).
hookimpl = pluggy.HookimplMarker("abstractllm")
#: Marks the hook specifications below.
hookspec = pluggy.HookspecMarker("abstractllm")


@hookspec
def abstractllm_backends() -> list[BackendInfo]:
    """Declare the (provider, mode) pairs this plugin can load: their options, and the
    ``load`` and ``map_error`` functions core calls for them directly.

    Called once when plugins are discovered. Two plugins declaring the same pair, or a
    ``BackendInfo`` without ``load``, is an error reported for the later plugin.
    """


@hookspec(firstresult=True)
def abstractllm_resolve_mode(provider: str, config: Mapping[str, Any]) -> str | None:
    """Claim a configuration for a mode: return the mode name, or None to pass.

    ``config`` holds the raw ``create_llm`` keyword arguments (not yet validated). The
    first non-None answer wins; core's rules for ``"huggingface"`` run last, so a
    plugin can claim configurations before them.
    """


@hookspec(firstresult=True)
def abstractllm_generate(backend: Backend, request: GenerationRequest) -> Completion:
    """Generate a complete answer. Core's implementation calls ``backend.generate``."""


@hookspec(firstresult=True)
def abstractllm_generate_stream(backend: Backend, request: GenerationRequest) -> Iterator[StreamDelta]:
    """Return an iterator of deltas. Core's implementation calls ``backend.stream``."""


@hookspec(firstresult=True)
def abstractllm_generate_async(backend: Backend, request: GenerationRequest) -> Awaitable[Completion]:
    """Return an awaitable of the answer. Core's implementation calls ``backend.generate_async``."""


@hookspec(firstresult=True)
def abstractllm_generate_stream_async(backend: Backend, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
    """Return an async iterator of deltas. Core's implementation calls ``backend.stream_async``."""


@hookspec
def abstractllm_call_finished(call: FinishedCall) -> None:
    """Observe a call that ended: called exactly once per ``generate`` or ``generate_async``
    call, streamed or not, after it completed, failed or was abandoned (a stream closed early).

    ``call`` carries the request, the completion or the error, and the timing (with
    ``first_token`` for streams). For logging, metrics and tracing: the return value is
    ignored, and an exception raised here is logged and does not reach the caller. To change
    requests or results, wrap the generation hooks instead.
    """


@hookspec
def abstractllm_capabilities(backend: Backend) -> Mapping[str, Any] | None:
    """Report capabilities of a loaded model as ``ModelCapability`` values to values.

    Every plugin's answer is written over core's (``backend.capabilities()``, a
    :class:`~abstractllm.backend.Capabilities`) key by key, synonyms included
    (``supports_function_calling`` sets ``supports_tool_use``); a plugin that claims a
    capability must make it work.
    """


@hookspec(firstresult=True)
def abstractllm_before_tool_call(context: ToolCallContext) -> str | None:
    """Called before a tool the caller passed is run for a model's tool call.

    Return None to let it run, or a string to refuse: the string is given back to the
    model as that tool's result and the tool is not run. Plugins may also just log.
    """


@hookspec
def abstractllm_after_tool_call(context: ToolCallContext, result: Any, error: BaseException | None) -> None:
    """Called after a tool ran (or failed: ``error`` is set). For logging and metrics."""
