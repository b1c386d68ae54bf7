"""Stop sequences for runtimes that leave them in their output."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopSequenceFilter", "truncate_at_stop"]


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop sequence, and whether one was found."""
    cut = min((index for index in (text.find(stop) for stop in stops) if index >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class StopSequenceFilter:
    """Feeds streamed text and releases only text that cannot be part of a stop sequence.

    ``feed(piece)`` returns the text now safe to emit; once a stop sequence is seen,
    ``stopped`` is True and nothing more is emitted. ``flush()`` returns what was held
    back when the stream ends without a stop.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(stops)
        firsts = {stop[0] for stop in self._stops if stop}
        #: The first character every stop sequence starts with, when they share one (text without it holds none).
        self._first = firsts.pop() if len(firsts) == 1 and all(self._stops) else None
        self._held = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        text = self._held + piece
        if not self._stops or (self._first is not None and self._first not in text):
            self._held = ""
            return text
        cut, found = truncate_at_stop(text, self._stops)
        if found:
            self.stopped = True
            self._held = ""
            return cut
        keep = self._longest_stop_prefix_suffix(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_stop_prefix_suffix(self, text: str) -> int:
        """The length of the longest end of ``text`` that starts a stop sequence (only where its first character is)."""
        best = 0
        for stop in self._stops:
            if not stop:
                continue
            at = text.find(stop[0], max(0, len(text) - len(stop) + 1))
            while at >= 0 and len(text) - at > best:
                if stop.startswith(text[at:]):
                    best = len(text) - at
                    break
                at = text.find(stop[0], at + 1)
        return best
