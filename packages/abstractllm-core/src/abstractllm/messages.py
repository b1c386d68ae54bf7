"""Chat messages: the one message type used by prompts, backends and sessions."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from abstractllm.enums import MessageRole
from abstractllm.errors import InvalidArgumentError
from abstractllm.tools import ToolCall

__all__ = ["Message", "ChatMessage", "normalize_messages"]

_ROLES = frozenset(role.value for role in MessageRole)
_ID_PREFIX = uuid.uuid4().hex[:12]
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
    ISO 8601 by ``to_dict``, as the original library did).
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
    if content is not None and not isinstance(content, str):
        raise InvalidArgumentError(
            f"{where} content must be a string, got {type(content).__name__}",
            parameter="messages",
            value=type(content).__name__,
            allowed="str",
        )
    raw_calls = data.get("tool_calls") or None
    calls = [call if isinstance(call, ToolCall) else ToolCall.from_dict(call) for call in raw_calls] if raw_calls else None
    if content is None and not calls:
        raise InvalidArgumentError(f"{where} has no content", parameter="messages", value=None, allowed="a string")
    return Message(
        role=str(role_value),
        content=content,
        name=data.get("name"),
        tool_calls=calls,
        tool_call_id=data.get("tool_call_id"),
        timestamp=_timestamp(data.get("timestamp"), where),
        metadata=dict(data.get("metadata") or {}),
        id=str(data.get("id") or _new_id()),
    )


def _timestamp(value: Any, where: str) -> float:
    if value is None:
        return time.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    raise InvalidArgumentError(
        f"{where} has an unreadable timestamp {value!r}", parameter="messages", value=value, allowed="ISO 8601 or epoch seconds"
    )


def normalize_messages(messages: Iterable[Message | Mapping[str, Any]]) -> list[Message]:
    """Validate and copy a list of ``Message`` objects or message dicts.

    Raises ``InvalidArgumentError`` (parameter ``messages``) naming the bad item.
    """
    result: list[Message] = []
    for index, item in enumerate(messages):
        where = f"message {index}"
        if isinstance(item, Message):
            result.append(_message_from_mapping(item.to_dict(), where=where))
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
