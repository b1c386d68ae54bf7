"""Tool calls in OpenAI-shaped replies: whole ones, and ones streamed as deltas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from abstractllm.errors import InvalidArgumentError, ProviderAPIError
from abstractllm.tools import ToolCall

__all__ = ["ToolCallAssembler", "parse_tool_calls"]


def parse_tool_calls(raw: Any) -> list[ToolCall]:
    """``message.tool_calls`` of an OpenAI reply as ``ToolCall`` objects (bad arguments recorded in ``error``)."""
    if not raw or not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return []
    return [_server_call(item) for item in raw if isinstance(item, Mapping)]


def _server_call(data: Mapping[str, Any]) -> ToolCall:
    """A tool call the server sent; one ``ToolCall`` cannot represent (no function name) is
    the server's fault, so ``ProviderAPIError``, not the caller's ``InvalidArgumentError``."""
    try:
        return ToolCall.from_dict(data)
    except InvalidArgumentError as exc:
        raise ProviderAPIError(
            f"the server sent a tool call without a function name ({dict(data)!r}); the server or its model"
            " produced it, not the request: retry, or use a server whose tool calling works for this model",
            original_exception=exc,
        ) from exc


class ToolCallAssembler:
    """Joins streamed ``delta.tool_calls`` pieces (by ``index``) into complete calls.

    The first piece of a call carries its ``id`` and ``function.name``; later pieces append
    to ``function.arguments`` (a JSON string split anywhere). A name repeated whole in later
    pieces (llama-cpp-python's server does this) is taken once.
    """

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, Any]] = {}

    def feed(self, pieces: Any) -> None:
        if not isinstance(pieces, Sequence) or isinstance(pieces, (str, bytes)):
            return
        for position, piece in enumerate(pieces):
            if not isinstance(piece, Mapping):
                continue
            index = piece.get("index", position)
            key = index if isinstance(index, int) else position
            part = self._parts.setdefault(key, {"id": None, "name": "", "arguments": ""})
            if piece.get("id"):
                part["id"] = piece["id"]
            function = piece.get("function")
            if isinstance(function, Mapping):
                name = str(function.get("name") or "")
                if name and name != part["name"]:  # some servers (llama.cpp) repeat the whole name in every piece
                    part["name"] += name
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    part["arguments"] += arguments
                elif isinstance(arguments, Mapping):
                    part["arguments"] = dict(arguments)

    def calls(self) -> list[ToolCall]:
        """The assembled calls, in index order."""
        result = []
        for _, part in sorted(self._parts.items()):
            data: dict[str, Any] = {"function": {"name": part["name"], "arguments": part["arguments"]}}
            if part["id"]:
                data["id"] = part["id"]
            result.append(_server_call(data))
        return result
