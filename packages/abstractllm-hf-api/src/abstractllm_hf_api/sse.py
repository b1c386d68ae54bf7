"""Server-sent events: a line-fed decoder and sync/async iterators over it.

Follows the SSE format: ``data:`` lines of one event are joined with ``\\n``; a blank line
ends an event; lines starting with ``:`` are comments; ``event:`` names the event; one
space after the colon is dropped. An event still incomplete when the input ends is not
dispatched (the caller decides whether the stream was complete).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "aiter_sse", "iter_sse"]


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its ``data`` (joined lines) and ``event`` name (``"message"`` by default)."""

    data: str
    event: str = "message"


class SSEDecoder:
    """Feed lines (without their line ending); ``feed`` returns an event when one completes."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""

    def feed(self, line: str) -> SSEEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            event = SSEEvent("\n".join(self._data), self._event or "message")
            self._data, self._event = [], ""
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    @property
    def pending(self) -> bool:
        """Whether an event was started but not ended by a blank line."""
        return bool(self._data or self._event)


def iter_sse(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """The events in ``lines``."""
    decoder = SSEDecoder()
    for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event


async def aiter_sse(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """The events in ``lines``, for asyncio."""
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
