"""The contract between core and a backend plugin: every type a plugin author codes against.

A backend plugin hands core what it serves, with :class:`BackendInfo` values returned by its
``abstractllm_backends`` hook; each carries the mode's ``load`` and ``map_error`` functions, so
core calls the right plugin directly. ``load`` returns a loaded :class:`Backend`, whose
``stream`` is the one generation method it must write. Core validates everything before a
backend sees it (a :class:`GenerationRequest` with its :class:`GenerationParams`), times calls,
maps exceptions and builds the user-facing responses from what a backend returns
(:class:`Completion` of :class:`Choice` values, or :class:`StreamDelta` pieces, with
:class:`Usage`). A backend reports what its model supports as :class:`Capabilities`.

This package imports only :mod:`abstractllm.errors` and the standard library, and every name
below is re-exported statically from one of its submodules (``tests/test_import_layers.py``
checks both); ``abstractllm._private`` depends on it, never the reverse. Core's building blocks
built on this contract (the reply assembler, tool prompts, the shared model cache...) are in
:mod:`abstractllm.blocks`; the names they had here keep working, imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from abstractllm.backend.base import Backend as Backend
from abstractllm.backend.base import BackendInfo as BackendInfo
from abstractllm.backend.calls import CallKind as CallKind
from abstractllm.backend.calls import CallOutcome as CallOutcome
from abstractllm.backend.calls import FinishedCall as FinishedCall
from abstractllm.backend.calls import ToolCallContext as ToolCallContext
from abstractllm.backend.capabilities import Capabilities as Capabilities
from abstractllm.backend.enums import MessageRole as MessageRole
from abstractllm.backend.enums import ModelCapability as ModelCapability
from abstractllm.backend.enums import ModelParameter as ModelParameter
from abstractllm.backend.messages import ChatMessage as ChatMessage
from abstractllm.backend.messages import Message as Message
from abstractllm.backend.options import Check as Check
from abstractllm.backend.options import Option as Option
from abstractllm.backend.request import GenerationParams as GenerationParams
from abstractllm.backend.request import GenerationRequest as GenerationRequest
from abstractllm.backend.request import PromptEncoding as PromptEncoding
from abstractllm.backend.request import ResponseFormat as ResponseFormat
from abstractllm.backend.response import Choice as Choice
from abstractllm.backend.response import Completion as Completion
from abstractllm.backend.response import StreamDelta as StreamDelta
from abstractllm.backend.response import Timing as Timing
from abstractllm.backend.response import Usage as Usage
from abstractllm.backend.sequences import join_streams as join_streams
from abstractllm.backend.sequences import sequence_request as sequence_request
from abstractllm.backend.sequences import sequence_seed as sequence_seed
from abstractllm.backend.tools import ToolCall as ToolCall
from abstractllm.backend.tools import ToolChoice as ToolChoice
from abstractllm.backend.tools import ToolDefinition as ToolDefinition

if TYPE_CHECKING:
    # The building blocks' former home, typed for checkers (at run time ``__getattr__`` serves them).
    from abstractllm.blocks import FALLBACK_MARKUP as FALLBACK_MARKUP
    from abstractllm.blocks import TOOL_CALL_CLOSE as TOOL_CALL_CLOSE
    from abstractllm.blocks import TOOL_CALL_OPEN as TOOL_CALL_OPEN
    from abstractllm.blocks import ConstraintRun as ConstraintRun
    from abstractllm.blocks import ForcedCall as ForcedCall
    from abstractllm.blocks import JsonConstraint as JsonConstraint
    from abstractllm.blocks import ReplyAssembler as ReplyAssembler
    from abstractllm.blocks import SharedModelCache as SharedModelCache
    from abstractllm.blocks import StopSequenceFilter as StopSequenceFilter
    from abstractllm.blocks import ToolCallScan as ToolCallScan
    from abstractllm.blocks import ToolFamily as ToolFamily
    from abstractllm.blocks import ToolMarkup as ToolMarkup
    from abstractllm.blocks import Unmet as Unmet
    from abstractllm.blocks import choose_family as choose_family
    from abstractllm.blocks import forced_call_schema as forced_call_schema
    from abstractllm.blocks import hub_cache_miss as hub_cache_miss
    from abstractllm.blocks import install_line as install_line
    from abstractllm.blocks import messages_with_tool_prompt as messages_with_tool_prompt
    from abstractllm.blocks import parse_structured as parse_structured
    from abstractllm.blocks import plain_prompt_text as plain_prompt_text
    from abstractllm.blocks import progress_only_on_a_terminal as progress_only_on_a_terminal
    from abstractllm.blocks import read_tool_calls as read_tool_calls
    from abstractllm.blocks import render_chat as render_chat
    from abstractllm.blocks import template_renders_tools as template_renders_tools
    from abstractllm.blocks import tool_call_from_data as tool_call_from_data
    from abstractllm.blocks import truncate_at_stop as truncate_at_stop
    from abstractllm.hookspecs import hookimpl as hookimpl

__all__ = [
    "Backend",
    "BackendInfo",
    "CallKind",
    "CallOutcome",
    "Capabilities",
    "ChatMessage",
    "Check",
    "Choice",
    "Completion",
    "FinishedCall",
    "GenerationParams",
    "GenerationRequest",
    "Message",
    "MessageRole",
    "ModelCapability",
    "ModelParameter",
    "Option",
    "PromptEncoding",
    "ResponseFormat",
    "StreamDelta",
    "Timing",
    "ToolCall",
    "ToolCallContext",
    "ToolChoice",
    "ToolDefinition",
    "Usage",
    "join_streams",
    "sequence_request",
    "sequence_seed",
]


def __getattr__(name: str) -> Any:
    """``hookimpl`` (the marker of :mod:`abstractllm.hookspecs`, so that a plugin needs one import),
    and the building blocks that were served here before :mod:`abstractllm.blocks` existed
    (``from abstractllm.backend import ReplyAssembler`` keeps working; new code imports them from
    :mod:`abstractllm.blocks`, where they are typed). Imported on first use, by name, so the
    contract itself never imports pluggy or core's internals."""
    if name == "hookimpl":
        value = importlib.import_module("abstractllm.hookspecs").hookimpl
    else:
        blocks = None if name.startswith("__") else importlib.import_module("abstractllm.blocks")
        if blocks is None or name not in blocks.__all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(blocks, name)
    globals()[name] = value
    return value
