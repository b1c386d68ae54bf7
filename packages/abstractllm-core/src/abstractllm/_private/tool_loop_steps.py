"""The steps of a Session tool loop without its I/O: each request to send (:class:`Ask`) and each
round of tool calls to run (:class:`RunTools`), and the rules on rounds and later ``tool_choice``."""

from __future__ import annotations

import dataclasses
from typing import Any

from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.backend.messages import Message
from abstractllm.errors import InvalidArgumentError
from abstractllm.response import GenerateResponse
from abstractllm.tools import ToolCall

__all__ = ["Ask", "RunTools", "check_rounds", "later_tool_choice"]


@dataclasses.dataclass(frozen=True)
class Ask:
    """A request of a tool loop: ``messages`` (before fitting) for ``model`` with ``params``."""

    model: AbstractLLMInterface
    messages: list[Message]
    params: dict[str, Any]

    def generate(self, fitted: list[Message]) -> GenerateResponse:
        return self.model.generate(messages=fitted, **self.params)

    async def generate_async(self, fitted: list[Message]) -> GenerateResponse:
        return await self.model.generate_async(messages=fitted, **self.params)


@dataclasses.dataclass(frozen=True)
class RunTools:
    """The tool calls of one round of a tool loop."""

    calls: list[ToolCall]
    round: int


def check_rounds(max_tool_rounds: Any) -> None:
    """Raise ``InvalidArgumentError`` (parameter ``max_tool_rounds``) unless it is an integer ≥ 1."""
    if isinstance(max_tool_rounds, bool) or not isinstance(max_tool_rounds, int) or max_tool_rounds < 1:
        raise InvalidArgumentError(
            f"max_tool_rounds must be an integer ≥ 1, got {max_tool_rounds!r}",
            parameter="max_tool_rounds",
            value=max_tool_rounds,
            allowed="an integer ≥ 1",
        )


def later_tool_choice(requested: Any, round_: int, max_tool_rounds: int) -> str:
    """``tool_choice`` for the request after tool round ``round_``: "none" after the last
    allowed round (or when the caller asked for none), "auto" otherwise, so that a forced
    choice cannot make the model call tools in every round."""
    return "none" if round_ >= max_tool_rounds or requested == "none" else "auto"
