"""Tool calls on local models (pipeline and gguf): one rule, one markup, one parser.

The rule:

- **native**: when the model's chat template renders the ``tools`` it is given (found by
  :func:`template_renders_tools`: a probe tool rendered with and without tools), the tools
  go to the template.
- **prompted**: otherwise (a template that drops ``tools``, or no template at all) the
  tools are described in the system message in the fallback format of
  :func:`tool_prompt`, which asks for calls as
  ``<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>``.
- A forced call (``tool_choice="required"`` or a tool's name) is constrained by grammar
  on both backends to exactly ``<open>`` + one JSON object of
  :func:`forced_call_schema` + ``<close>``, whichever way the tools were shown.
- Replies are read by :func:`read_tool_calls`: every ``<open>`` followed by one JSON
  value is a call, or several when the value is a list (``arguments`` may be a JSON string
  or be named ``parameters``; the ``<close>`` marker is optional). Other models' families
  (:mod:`abstractllm._private.tool_families`) write other markup, described by the same
  :class:`ToolMarkup` and read by the same function (or, for arguments that are not JSON, by the
  markup's own ``read``: FunctionGemma's). A block that is not a call is a ``ToolCall`` named
  :data:`UNPARSED_NAME` with ``error`` set, never dropped, except the last block of a
  reply cut short (its JSON incomplete and no ``<close>``): that one is ``truncated``
  and the reply's finish reason is ``"length"``, as in OpenAI's API.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from abstractllm._private.structured import json_error_text
from abstractllm.errors import InvalidArgumentError
from abstractllm.tools import ToolCall, ToolDefinition

_Rendered = TypeVar("_Rendered")

__all__ = [
    "FALLBACK_MARKUP",
    "PROBE_TOOL_NAME",
    "RECIPIENT",
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "UNPARSED_NAME",
    "ToolCallScan",
    "call_markup",
    "ToolMarkup",
    "forced_call_schema",
    "leading_call",
    "messages_with_tool_prompt",
    "named_tool",
    "read_tool_calls",
    "render_chat",
    "template_renders_tools",
    "tool_call_from_data",
    "tool_prompt",
]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
#: The ``name`` of a ``ToolCall`` whose block could not be read (its ``error`` says why).
UNPARSED_NAME = "<unparsed>"
#: The name of the tool :func:`template_renders_tools` renders to probe a template.
PROBE_TOOL_NAME = "abstractllm_probe_tool_5f3a"

_NAME = re.compile(r'"(?:tool_)?name"\s*:\s*"([^"\\]+)"')


#: A reply that starts with a JSON object whose first key is "name" (a bare call, Llama 3.x).
_LEADING_CALL = re.compile(r'\s*\{\s*"name"\s*:')
#: Everything that could still grow into :data:`_LEADING_CALL`.
_LEADING_PARTIAL = re.compile(r'\s*(?:\{\s*(?:"(?:n(?:a(?:m(?:e(?:"\s*)?)?)?)?)?)?)?')


@dataclass(frozen=True)
class ToolMarkup:
    """How a model writes tool calls around their ``{"name": ..., "arguments": ...}`` JSON.

    A block runs from ``open`` to ``close``; an empty ``close`` means to the end of the reply
    (several calls then follow each other, as a JSON list or values separated by ``;``).
    ``leading_json``: a reply that starts with ``{"name": ...`` is one such block too (the
    bare JSON calls of Llama 3.x). ``name_marker``: a call may also be written
    ``<name><name_marker>{arguments}`` after ``open`` (Mistral's v11 ``get_weather[ARGS]{...}``).
    ``item_open``/``item_close``: each call of a block may be wrapped in these (DeepSeek's
    ``<|tool_call_begin|>`` ... ``<|tool_call_end|>`` inside ``<|tool_calls_begin|>`` ..., fullwidth bars).
    ``recipient_text``: the reply is a series of segments ``<recipient>\\n<content>``, each after ``open``
    (the first after the ``open`` that ends the prompt); a segment to ``recipient_text`` is text to show,
    one to another recipient a call to that tool with the JSON content (Functionary v3.2's
    ``all\\nLet me check.>>>get_weather\\n{...}``). Text that starts no ``<recipient>\\n`` line is text.
    ``read``: the family's own reader of a reply's blocks, for arguments that are not JSON (FunctionGemma's
    ``call:get_weather{city:<escape>Paris<escape>}``), and ``write`` its writer of one call (the name and the
    arguments, between ``open`` and ``close``; for tools described in the prompt); ``quote``: a token its
    arguments wrap strings in, kept in the decoded text like the markers; ``stop``: a marker that ends the reply (what the model
    writes after its calls when it goes on to imagine their results), cut as a stop sequence.
    """

    open: str
    close: str
    leading_json: bool = False
    name_marker: str = ""
    item_open: str = ""
    item_close: str = ""
    recipient_text: str = ""
    read: Callable[[str, ToolMarkup], ToolCallScan] | None = None
    write: Callable[[str, Any], str] | None = None
    quote: str = ""
    stop: str = ""

    def markers(self) -> tuple[str, ...]:
        """Every marker text of this markup (to keep in decoded text when it is a special token)."""
        every = (self.open, self.close, self.name_marker, self.item_open, self.item_close, self.quote, self.stop)
        return tuple(m for m in every if m)

    def found_in(self, reply: str) -> bool:
        """Whether ``reply`` holds a block of this markup."""
        if self.recipient_text:  # every reply is segments; one may be a call
            return True
        return (bool(self.open) and self.open in reply) or (self.leading_json and leading_call(reply) is True)


def leading_call(text: str) -> bool | None:
    """Whether ``text`` (the start of a reply) starts with a bare JSON call; None while it cannot tell yet."""
    if _LEADING_CALL.match(text):
        return True
    return None if _LEADING_PARTIAL.fullmatch(text) else False


FALLBACK_MARKUP = ToolMarkup(TOOL_CALL_OPEN, TOOL_CALL_CLOSE)


def forced_call_schema(
    tools: Sequence[ToolDefinition], choice: str, arguments_key: str = "arguments", name_key: str = "name"
) -> dict[str, Any]:
    """The JSON schema of one call to the tool named ``choice`` (any of ``tools`` for ``"required"``),
    its name under ``name_key`` and its arguments under ``arguments_key`` (``"parameters"`` for Llama 3.x)."""
    options = [
        {
            "type": "object",
            "properties": {name_key: {"const": tool.name}, arguments_key: tool.input_schema or {"type": "object"}},
            "required": [name_key, arguments_key],
            "additionalProperties": False,
        }
        for tool in tools
        if choice == "required" or tool.name == choice
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def tool_prompt(tools: Sequence[ToolDefinition], markup: ToolMarkup = FALLBACK_MARKUP) -> str:
    """The fallback format: the tools as JSON lines and how to call them, for the system message."""
    lines = [
        json.dumps({"name": t.name, "description": t.description, "parameters": t.input_schema}, ensure_ascii=False)
        for t in tools
    ]
    example = call_markup("<tool name>", {"<argument>": "<value>"}, markup)
    return (
        "You can call these tools, one JSON object per tool:\n"
        + "\n".join(lines)
        + f"\nTo call a tool, reply with {example} (one block per call)."
        " When no tool is needed, answer normally."
    )


def messages_with_tool_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolDefinition], markup: ToolMarkup = FALLBACK_MARKUP
) -> list[dict[str, Any]]:
    """``messages`` (chat dicts) for a template that does not render tools.

    :func:`tool_prompt` is appended to the system message (added first if none), and an
    assistant turn's ``tool_calls`` become markup blocks after its content (see
    :func:`call_markup`), so the model sees its earlier calls the way it was asked to write them.
    """
    result = [_calls_in_content(dict(message), markup) for message in messages]
    text = tool_prompt(tools, markup)
    if result and result[0].get("role") == "system":
        existing = result[0].get("content") or ""
        result[0]["content"] = f"{existing}\n\n{text}" if existing else text
    else:
        result.insert(0, {"role": "system", "content": text})
    return result


def call_markup(name: str, arguments: Any, markup: ToolMarkup = FALLBACK_MARKUP) -> str:
    """One call written in the fallback format: ``<open>{"name": ..., "arguments": ...}<close>`` (or between
    ``<open>`` and ``<close>`` as the markup's ``write`` writes it)."""
    if markup.write is not None:
        return f"{markup.open}{markup.write(name, arguments)}{markup.close}"
    return f"{markup.open}{json.dumps({'name': name, 'arguments': arguments})}{markup.close}"


def _calls_in_content(message: dict[str, Any], markup: ToolMarkup) -> dict[str, Any]:
    calls = message.pop("tool_calls", None)
    if not calls:
        return message
    blocks = []
    for call in calls:
        function = call.get("function", call)
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            with contextlib.suppress(json.JSONDecodeError):  # otherwise shown as the string it is
                arguments = json.loads(arguments)
        blocks.append(call_markup(str(function.get("name")), arguments, markup))
    message["content"] = (message.get("content") or "") + "".join(blocks)
    return message


def render_chat(
    render: Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], _Rendered],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    *,
    refusal: type[BaseException] | None = None,
) -> _Rendered:
    """``render(messages, tools)`` (a chat template); with no tools, a template that fails on ``tools=None``
    (one that measures or iterates ``tools`` whenever it is defined: vLLM's FunctionGemma template) is
    rendered with an empty list, and fails as it first did when that fails too.

    ``refusal`` is the exception class (exactly) that the renderer's ``raise_exception`` raises: a
    template refusing the conversation (Mistral's "roles must alternate") is then the caller's
    ``InvalidArgumentError`` (parameter ``messages``) with the template's words, in every mode.
    """
    try:
        if tools is not None:
            return render(messages, tools)
        try:
            return render(messages, None)
        except Exception as exc:  # whatever the template raised; the same template is tried once more
            try:
                return render(messages, [])
            except Exception:
                raise exc from None
    except Exception as exc:
        if refusal is None or type(exc) is not refusal:
            raise
        raise InvalidArgumentError(
            f"the model's chat template refuses this conversation: {exc}",
            parameter="messages",
            value=None,
            allowed="a conversation the model's chat template accepts",
        ) from exc


def template_renders_tools(render: Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], str]) -> bool:
    """Whether ``render(messages, tools)`` (a chat template) shows the tools it is given.

    A probe tool is rendered with and without ``tools``, after a user turn, and if it is not shown,
    after a system turn and a user turn (FunctionGemma's templates show tools in the system turn only);
    the template renders tools when the probe's name appears only in the first. A template that raises
    on tools does not; one that raises only without them (Phi-4-mini's iterates ``tools`` whenever it is
    defined, even as None) does.
    """
    probe = {"type": "function", "function": {"name": PROBE_TOOL_NAME, "description": "probe", "parameters": {}}}
    user = {"role": "user", "content": "hi"}
    return any(_shows_probe(render, messages, probe) for messages in ([user], [{"role": "system", "content": "probe"}, user]))


def _shows_probe(
    render: Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], str],
    messages: list[dict[str, Any]],
    probe: dict[str, Any],
) -> bool:
    try:
        with_tools = render(messages, [probe])
    except Exception:  # a template that refuses tools (or this probe) raises: it does not render them
        return False
    try:
        without = render(messages, None)
    except Exception:  # a template that needs tools to render at all
        without = ""
    return PROBE_TOOL_NAME in with_tools and PROBE_TOOL_NAME not in without


def tool_call_from_data(data: Any) -> ToolCall:
    """A ``ToolCall`` from one decoded JSON call (``{"name", "arguments"}``, OpenAI's ``{"function": ...}``)."""
    if not isinstance(data, Mapping):
        return ToolCall(name=UNPARSED_NAME, arguments={}, error=f"the tool call is not a JSON object: {json.dumps(data)[:200]}")
    nested = data.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
    name = function.get("name", function.get("tool_name"))  # Command R writes "tool_name"
    if not isinstance(name, str) or not name:
        return ToolCall(name=UNPARSED_NAME, arguments={}, error=f"the tool call names no tool: {json.dumps(data)[:200]}")
    arguments = function.get("arguments", function.get("parameters"))
    return ToolCall.from_dict(
        {"name": name, "arguments": {} if arguments is None else arguments, **({"id": data["id"]} if "id" in data else {})}
    )


def named_tool(body: str) -> str:
    """The tool a block that is not valid JSON names (its ``"name": "..."``), else :data:`UNPARSED_NAME`."""
    found = _NAME.search(body)
    return found.group(1) if found else UNPARSED_NAME


#: A segment's recipient line (``<recipient>\n``), for :attr:`ToolMarkup.recipient_text` markups.
RECIPIENT = re.compile(r"([A-Za-z0-9_.\-]+)\n")


@dataclass
class ToolCallScan:
    """What :func:`read_tool_calls` found: the ``calls``, whether the last block was cut short, and the
    tool that block names when its markup says so outside the JSON (``cut_name``; empty otherwise)."""

    calls: list[ToolCall] = field(default_factory=list)
    truncated: bool = False
    cut_name: str = ""


def read_tool_calls(reply: str, markup: ToolMarkup = FALLBACK_MARKUP) -> ToolCallScan:
    """Every tool-call block of ``reply`` (see the module docstring and :class:`ToolMarkup`).

    Each JSON value is read with ``raw_decode``, so markup inside JSON strings is harmless.
    """
    if markup.read is not None:
        return markup.read(reply, markup)
    if markup.recipient_text:
        return _read_segments(reply, markup)
    scan = ToolCallScan()
    if markup.leading_json and leading_call(reply) is True:
        position: int | None = _read_block(reply, len(reply) - len(reply.lstrip()), markup, scan)
    else:
        position = reply.find(markup.open) if markup.open else -1
        position = None if position < 0 else position + len(markup.open)
    while position is not None and not scan.truncated:
        position = _read_block(reply, position, markup, scan)
    return scan


def _read_block(reply: str, start: int, markup: ToolMarkup, scan: ToolCallScan) -> int | None:
    """Read the block whose body starts at ``start`` into ``scan``; the body start of the next block, or None."""
    decoder = json.JSONDecoder()
    while True:
        start = _after(reply, _skip_space(reply, start), markup.item_open)
        named = _named_call_at(reply, start, markup.name_marker)
        try:
            if named is not None:
                arguments, end = decoder.raw_decode(reply, _skip_space(reply, named[1]))
                scan.calls.append(tool_call_from_data({"name": named[0], "arguments": arguments}))
            else:
                data, end = decoder.raw_decode(reply, start)
                scan.calls.extend(tool_call_from_data(item) for item in (data if isinstance(data, list) else [data]))
        except json.JSONDecodeError as exc:
            stops = [
                at for at in (reply.find(marker, start) for marker in (markup.item_close, markup.close) if marker) if at >= 0
            ]
            if not stops:
                scan.truncated, scan.cut_name = True, named[0] if named is not None else ""
                return None
            end = min(stops)
            body = reply[start:end]
            scan.calls.append(
                ToolCall(
                    name=named[0] if named is not None else named_tool(body),
                    arguments={},
                    error=f"the tool call is not valid JSON ({json_error_text(exc)}): {body[:200]!r}",
                )
            )
        end = _after(reply, _skip_space(reply, end), markup.item_close)
        if markup.item_open and reply.startswith(markup.item_open, _skip_space(reply, end)):
            start = end  # the next call of the same block
            continue
        if markup.close:
            following = reply.find(markup.open, end) if markup.open else -1
            return None if following < 0 else following + len(markup.open)
        # no close marker: the block runs on; more calls may follow (separated by ``;`` or ``,``, or a repeated ``open``)
        start = _skip_space(reply, end)
        while start < len(reply) and reply[start] in ";,":
            start = _skip_space(reply, start + 1)
        if markup.open and reply.startswith(markup.open, start):
            start += len(markup.open)
        elif start >= len(reply) or not (reply[start] in "{[" or _named_call_at(reply, start, markup.name_marker)):
            return None


def _read_segments(reply: str, markup: ToolMarkup) -> ToolCallScan:
    """The calls of a reply of recipient segments (see :attr:`ToolMarkup.recipient_text`)."""
    scan = ToolCallScan()
    decoder = json.JSONDecoder()
    position: int | None = 0
    while position is not None:
        head = RECIPIENT.match(reply, position)
        name = head.group(1) if head else markup.recipient_text  # a segment with no recipient line is text
        end = head.end() if head else position
        if name != markup.recipient_text:
            try:
                arguments, end = decoder.raw_decode(reply, _skip_space(reply, end))
                scan.calls.append(tool_call_from_data({"name": name, "arguments": arguments}))
            except json.JSONDecodeError as exc:
                following = reply.find(markup.open, end)
                if following < 0:
                    scan.truncated, scan.cut_name = True, name
                    return scan
                body = reply[end:following]
                error = f"the tool call is not valid JSON ({json_error_text(exc)}): {body[:200]!r}"
                scan.calls.append(ToolCall(name=name, arguments={}, error=error))
        following = reply.find(markup.open, end)
        position = None if following < 0 else following + len(markup.open)
    return scan


def _after(text: str, start: int, marker: str) -> int:
    """``start``, moved past ``marker`` when ``text`` has it there."""
    return start + len(marker) if marker and text.startswith(marker, start) else start


def _skip_space(text: str, start: int) -> int:
    while start < len(text) and text[start].isspace():
        start += 1
    return start


def _named_call_at(reply: str, start: int, marker: str) -> tuple[str, int] | None:
    """``(name, index after the marker)`` when ``reply`` has ``<name><marker>`` at ``start`` (never for no marker)."""
    at = reply.find(marker, start) if marker else -1
    if at < 0:
        return None
    name = reply[start:at].strip()
    if not name or not all(char.isalnum() or char in "_-." for char in name):
        return None
    return name, at + len(marker)
