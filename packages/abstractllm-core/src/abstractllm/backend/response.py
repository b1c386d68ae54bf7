"""What a backend returns: ``Completion`` (one ``Choice`` per sequence) or ``StreamDelta`` pieces, with ``Usage``."""

from __future__ import annotations

from dataclasses import dataclass, field

from abstractllm.backend.tools import ToolCall

__all__ = ["Choice", "Completion", "StreamDelta", "Timing", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Exact token counts as the backend measured them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class Choice:
    """One generated sequence. ``finish_reason`` is ``"stop"``, ``"length"`` or ``"tool_calls"``."""

    text: str
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class Completion:
    """A backend's answer to a non-streamed request: one choice per requested sequence."""

    choices: list[Choice]
    usage: Usage
    model: str | None = None


@dataclass
class StreamDelta:
    """One piece of a streamed answer. The backend's last delta sets ``finish_reason`` and
    ``usage`` (its text may be empty); ``tool_calls`` are complete calls, on the last delta.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[ToolCall] | None = None


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds: ``total`` for the call, ``first_token`` until the first text (streams)."""

    total: float
    first_token: float | None = None
