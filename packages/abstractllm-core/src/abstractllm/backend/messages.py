"""Chat messages: the one message type used by prompts, backends and sessions."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from abstractllm.backend.enums import MessageRole
from abstractllm.backend.tools import ToolCall
from abstractllm.errors import InvalidArgumentError

__all__ = ["Message", "ChatMessage", "check_text", "normalize_messages"]

_ROLES = frozenset(role.value for role in MessageRole)
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count()


def _new_id() -> str:
    """A unique message id: a random per-process prefix and a counter (cheaper than uuid4)."""
    return f"msg_{_ID_PREFIX}_{next(_ID_COUNTER)}"


@dataclass
class Message:
    """One chat turn.

    ``role`` is one of ``system``, ``user``, ``assistant``, ``tool``. An assistant turn
    may carry ``tool_calls``; a ``tool`` turn answers the call whose id is ``tool_call_id``
    (``name`` is the tool's name). ``timestamp`` is seconds since the epoch (written as
    ISO 8601 by ``to_dict``, as the original library did). ``ChatMessage`` is an alias of this
    class (the original library's name).
    """

    role: str
    content: str | None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    timestamp: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=_new_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``from_dict`` reads it back unchanged."""
        from datetime import datetime, timezone  # on use: create_llm does not need it

        data: dict[str, Any] = {
            "id": self.id,
            "role": str(self.role),
            "content": self.content,
            "timestamp": datetime.fromtimestamp(self.timestamp, timezone.utc).isoformat(),
            "metadata": dict(self.metadata),
        }
        if self.name is not None:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build a message from ``to_dict`` output or an OpenAI-style message dict."""
        return _message_from_mapping(data, where="message")

    def to_chat_dict(self) -> dict[str, Any]:
        """The OpenAI chat-completions shape of this message (what chat templates expect)."""
        data: dict[str, Any] = {"role": str(self.role), "content": self.content or ""}
        if self.name is not None and self.role != MessageRole.TOOL:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.role == MessageRole.TOOL:
            if self.tool_call_id is not None:
                data["tool_call_id"] = self.tool_call_id
            if self.name is not None:
                data["name"] = self.name
        return data


#: Alias of :class:`Message`: the original library's name.
ChatMessage = Message


def _message_from_mapping(data: Mapping[str, Any], *, where: str) -> Message:
    role = data.get("role")
    role_value = role.value if isinstance(role, MessageRole) else role
    if role_value not in _ROLES:
        raise InvalidArgumentError(
            f"{where} has role {role!r}; use one of {sorted(_ROLES)}",
            parameter="messages",
            value=role,
            allowed=", ".join(sorted(_ROLES)),
        )
    content = data.get("content")
    if content is not None:
        check_text(content, f"{where} content", parameter="messages")
    calls = _tool_calls(data.get("tool_calls"), where)
    if content is None and not calls:
        raise InvalidArgumentError(f"{where} has no content", parameter="messages", value=None, allowed="a string")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f"{where} metadata must be a dict, got {type(metadata).__name__}",
            parameter="messages",
            value=type(metadata).__name__,
            allowed="a dict",
        )
    name, call_id, message_id = (_optional_str(data.get(key), f"{where} {key}") for key in ("name", "tool_call_id", "id"))
    return Message(
        role=str(role_value),
        content=content,
        name=name,
        tool_calls=calls,
        tool_call_id=call_id,
        timestamp=_timestamp(data.get("timestamp"), where),
        metadata=dict(metadata or {}),
        id=message_id or _new_id(),
    )


def check_text(value: Any, what: str, *, parameter: str) -> str:
    """``value`` when it is a ``str`` that UTF-8 can encode (no lone surrogates); raises
    ``InvalidArgumentError`` naming ``parameter`` otherwise."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{what} must be a string, got {type(value).__name__}", parameter=parameter, value=type(value).__name__, allowed="str"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{what} holds a lone surrogate {value[exc.start]!r} at index {exc.start}, which is not text;"
                " decode bytes with errors='replace' or remove it",
                parameter=parameter,
                value=value[max(exc.start - 20, 0) : exc.start + 20],
                allowed="valid Unicode text",
            ) from None
    return value


def _optional_str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidArgumentError(
        f"{what} must be a string, got {type(value).__name__}", parameter="messages", value=type(value).__name__, allowed="str"
    )


def _tool_calls(value: Any, where: str) -> list[ToolCall] | None:
    if not value:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise InvalidArgumentError(
            f"{where} tool_calls must be a list of tool calls, got {type(value).__name__}",
            parameter="messages",
            value=type(value).__name__,
            allowed="a list of ToolCall objects or dicts with 'name' and 'arguments'",
        )
    calls = []
    for index, call in enumerate(value):
        if isinstance(call, ToolCall):
            calls.append(call)
        elif isinstance(call, Mapping):
            try:
                calls.append(ToolCall.from_dict(call))
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(
                    f"{where} tool_calls[{index}]: {exc.message}", parameter="messages", value=exc.value, allowed=exc.allowed
                ) from exc
        else:
            raise InvalidArgumentError(
                f"{where} tool_calls[{index}] is a {type(call).__name__}; pass a ToolCall or a dict with 'name' and 'arguments'",
                parameter="messages",
                value=type(call).__name__,
                allowed="ToolCall or dict",
            )
    return calls


def _timestamp(value: Any, where: str) -> float:
    """Epoch seconds of an ISO 8601 string or a number, within the years 1 to 9999."""
    from datetime import datetime, timezone  # on use: create_llm does not need it

    seconds: float | None = None
    if value is None:
        return time.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e300 else None
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            try:
                seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
            except (OverflowError, ValueError):
                seconds = None
    if seconds is not None:
        try:
            datetime.fromtimestamp(seconds, timezone.utc)  # what to_dict will need
        except (OverflowError, OSError, ValueError):
            pass
        else:
            return seconds
    raise InvalidArgumentError(
        f"{where} has an unreadable timestamp {value!r}; give an ISO 8601 time or epoch seconds between the years 1 and 9999",
        parameter="messages",
        value=value,
        allowed="ISO 8601 or epoch seconds",
    )


def _fields(message: Message) -> dict[str, Any]:
    """A message's fields as a mapping (tool calls copied) for validation."""
    data = {item.name: getattr(message, item.name) for item in fields(message)}
    calls = message.tool_calls
    if isinstance(calls, list):
        data["tool_calls"] = [call.to_dict() if isinstance(call, ToolCall) else call for call in calls]
    return data


def normalize_messages(messages: Iterable[Message | Mapping[str, Any]]) -> list[Message]:
    """Validate and copy a list of ``Message`` objects or message dicts.

    Raises ``InvalidArgumentError`` (parameter ``messages``) naming the bad item.
    """
    if isinstance(messages, (str, bytes, bytearray, Mapping)) or not isinstance(messages, Iterable):
        raise InvalidArgumentError(
            f"messages must be a list of messages, got {type(messages).__name__}; wrap one message in a list",
            parameter="messages",
            value=type(messages).__name__,
            allowed="a list of dicts with 'role' and 'content' or Message objects",
        )
    result: list[Message] = []
    for index, item in enumerate(messages):
        where = f"message {index}"
        if isinstance(item, Message):
            result.append(_message_from_mapping(_fields(item), where=where))
        elif isinstance(item, Mapping):
            result.append(_message_from_mapping(item, where=where))
        else:
            raise InvalidArgumentError(
                f"{where} is a {type(item).__name__}; pass a dict with 'role' and 'content' or a Message",
                parameter="messages",
                value=type(item).__name__,
                allowed="dict or Message",
            )
    if not result:
        raise InvalidArgumentError(
            "messages is empty; pass at least one message", parameter="messages", value=[], allowed="non-empty list"
        )
    return result
