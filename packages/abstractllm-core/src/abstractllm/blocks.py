"""Core's building blocks for backend authors, built on the contract (:mod:`abstractllm.backend`).

- the reply: :class:`ReplyAssembler`, fed the model's text, cuts stop sequences, takes tool-call
  blocks out of the text, reads them and decides the finish reason, the same way in every mode
  (the rules are in its module, :mod:`abstractllm._private.reply`); :class:`Unmet` is what it
  finds a reply ignored; stop sequences alone: :class:`StopSequenceFilter`, :func:`truncate_at_stop`;
- several sequences: :func:`sequence_request` (the request of sequence ``i``: seed
  :func:`sequence_seed`, ``seed + i``) and :func:`join_streams` (what ``Backend.generate`` does
  by default); these three are the contract's, repeated here for one import line;
- prompts: :func:`plain_prompt_text` (a model without a chat template) and the one tool rule,
  :func:`messages_with_tool_prompt`, :func:`template_renders_tools`, :func:`render_chat`, :class:`ToolMarkup`,
  :data:`FALLBACK_MARKUP`, :data:`TOOL_CALL_OPEN`, :data:`TOOL_CALL_CLOSE`,
  :func:`forced_call_schema`;
- tool-call families (docs/tools.md): :class:`ToolFamily` (a family's markup, forced-call shape
  :class:`ForcedCall` and render-back), :func:`choose_family` (the option's, else the template's);
- reading replies: :func:`read_tool_calls`, :class:`ToolCallScan`, :func:`tool_call_from_data`,
  :func:`parse_structured`;
- sharing loaded models between objects: :class:`SharedModelCache`;
- constrained decoding (both local modes): :class:`JsonConstraint` compiles a schema, a
  :class:`ConstraintRun` masks one sequence's tokens;
- downloads and loading: :func:`progress_only_on_a_terminal`, :func:`hub_cache_miss` (what a
  missing model says offline), :func:`install_line` (the pip line for a missing dependency).

Their code lives under ``abstractllm._private`` and may change shape; these names stay.
"""

from __future__ import annotations

from abstractllm._private.download_progress import progress_only_on_a_terminal as progress_only_on_a_terminal
from abstractllm._private.hub_messages import hub_cache_miss as hub_cache_miss
from abstractllm._private.install_hint import install_line as install_line
from abstractllm._private.model_cache import SharedModelCache as SharedModelCache
from abstractllm._private.plain_prompt import plain_prompt_text as plain_prompt_text
from abstractllm._private.reply import ReplyAssembler as ReplyAssembler
from abstractllm._private.reply import Unmet as Unmet
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
from abstractllm._private.tool_format import render_chat as render_chat
from abstractllm._private.tool_format import template_renders_tools as template_renders_tools
from abstractllm._private.tool_format import tool_call_from_data as tool_call_from_data
from abstractllm.backend.sequences import join_streams as join_streams
from abstractllm.backend.sequences import sequence_request as sequence_request
from abstractllm.backend.sequences import sequence_seed as sequence_seed

__all__ = [
    "ConstraintRun",
    "FALLBACK_MARKUP",
    "ForcedCall",
    "JsonConstraint",
    "ReplyAssembler",
    "SharedModelCache",
    "StopSequenceFilter",
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "ToolCallScan",
    "ToolFamily",
    "ToolMarkup",
    "Unmet",
    "choose_family",
    "forced_call_schema",
    "hub_cache_miss",
    "install_line",
    "join_streams",
    "messages_with_tool_prompt",
    "parse_structured",
    "plain_prompt_text",
    "progress_only_on_a_terminal",
    "read_tool_calls",
    "render_chat",
    "sequence_request",
    "sequence_seed",
    "template_renders_tools",
    "tool_call_from_data",
    "truncate_at_stop",
]
