"""One tool-call family: its markup, detection, forced-call shape and how calls render back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from abstractllm._private.tool_format import ToolMarkup, forced_call_schema
from abstractllm.tools import ToolDefinition

__all__ = ["ForcedCall", "ToolFamily", "arguments_as_objects", "named_forced_call"]

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class ForcedCall:
    """What a forced call must be: literal ``prefix``, one JSON value of ``schema``, literal ``suffix``; or
    any of ``others``, more ``(prefix, schema, suffix)`` choices (one per tool, for families that write
    the tool's name outside the JSON). ``syntax`` is how the value is written: ``"json"``, or a family's
    own (``"functiongemma"``: :mod:`abstractllm._private.functiongemma_syntax`)."""

    prefix: str
    schema: dict[str, Any]
    suffix: str
    others: tuple[tuple[str, dict[str, Any], str], ...] = ()
    syntax: str = "json"


def named_forced_call(tools: Sequence[ToolDefinition], choice: str, prefix: str, suffix: str, syntax: str = "json") -> ForcedCall:
    """A forced call for a family that writes ``prefix`` (with ``{name}`` for the tool's name), the
    arguments (in ``syntax``), then ``suffix``: one choice per tool ``choice`` allows."""
    shapes = [
        (prefix.format(name=tool.name), tool.input_schema or {"type": "object"}, suffix)
        for tool in tools
        if choice == "required" or tool.name == choice
    ]
    return ForcedCall(*shapes[0], others=tuple(shapes[1:]), syntax=syntax)


@dataclass(frozen=True)
class ToolFamily:
    """A tool-call format: ``name`` (the ``tool_format`` value), the ``markup`` its models write, and
    ``detect(template)``, whether a chat template's source is this family's.

    ``arguments_key`` and ``name_key`` name the arguments and the tool in a call's JSON; ``list_body``
    says the calls are one JSON list after the open marker (a forced call is then a one-item list);
    ``render_back(messages, template)`` adapts chat messages holding earlier calls and results to what
    the family's template reads (None: as they are).
    """

    name: str
    markup: ToolMarkup
    detect: Callable[[str], bool]
    arguments_key: str = "arguments"
    name_key: str = "name"
    list_body: bool = False
    render_back: Callable[[Messages, str], Messages] | None = None
    #: For families writing ``<prefix with the name><arguments JSON><suffix>``: ``(prefix, suffix)``, the
    #: prefix holding ``{name}`` (see :func:`named_forced_call`).
    named_call: tuple[str, str] | None = None
    #: How a forced call's arguments are written (see :class:`ForcedCall`).
    syntax: str = "json"

    def forced_call(self, tools: Sequence[ToolDefinition], choice: str) -> ForcedCall:
        """The shape of one call to ``choice`` (any of ``tools`` for ``"required"``) in this family's markup."""
        if self.named_call is not None:
            return named_forced_call(tools, choice, *self.named_call, syntax=self.syntax)
        schema = forced_call_schema(tools, choice, self.arguments_key, self.name_key)
        if self.list_body:
            schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": 1}
        return ForcedCall(self.markup.open if not self.markup.leading_json else "", schema, self.markup.close)

    def messages_for_template(self, messages: Messages, template: str) -> Messages:
        """``messages`` as this family's ``template`` reads earlier calls and their results."""
        return self.render_back(messages, template) if self.render_back is not None else messages

    def history_for_template(self, messages: Messages, template: str) -> Messages:
        """For a request offering no tools, to a template that renders tools: ``messages`` as
        :meth:`messages_for_template` gives them when they hold an earlier call or result (the template reads
        those the family's way with or without tools: a conversation is counted so), else unchanged."""
        if any(message.get("tool_calls") or message.get("role") == "tool" for message in messages):
            return self.messages_for_template(messages, template)
        return messages


def arguments_as_objects(messages: Messages, template: str = "") -> Messages:
    """Messages whose calls' ``arguments`` are JSON objects rather than JSON text (what templates that
    write ``arguments | tojson`` need, transformers' documented convention)."""
    result = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            message = {**message, "tool_calls": [_with_object_arguments(call) for call in calls]}
        result.append(message)
    return result


def _with_object_arguments(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    arguments: Any = function["arguments"]
    with contextlib.suppress(json.JSONDecodeError):  # otherwise left as the text it is
        arguments = json.loads(arguments)
    return {**call, "function": {**function, "arguments": arguments}}
