"""Conformance checks of tool use, for a backend that claims it: a forced call, ``auto``, the tools
counted as sent, and a whole loop through a :class:`~abstractllm.Session` whose tool result reaches the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from abstractllm import AbstractLLMInterface, GenerateResponse, Session
from abstractllm.enums import ModelCapability
from abstractllm.testing.base import ConformanceBase
from abstractllm.tools import ToolCall

__all__ = ["ToolChecks", "weather_tool"]

#: Words the long tool result adds to the short one; the model's next prompt must grow by at least half as many tokens.
_EXTRA_WORDS = 64


def weather_tool(result: str, calls: list[str]) -> Callable[[str], str]:
    """A ``get_weather(city)`` tool that records each city in ``calls`` and returns ``result``."""

    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: the city's name
        """
        calls.append(city)
        return result

    return get_weather


def _valid(call: ToolCall) -> bool:
    return call.error is None and call.name == "get_weather" and isinstance(call.arguments.get("city"), str)


def _same_calls(first: list[ToolCall] | None, second: list[ToolCall] | None) -> bool:
    return [(c.name, c.arguments, c.error) for c in first or []] == [(c.name, c.arguments, c.error) for c in second or []]


class ToolChecks(ConformanceBase):
    """Tool calls are read, validated against the tool's schema and streamed like replies."""

    def ask(self, llm: AbstractLLMInterface, tool_choice: str) -> GenerateResponse:
        """:attr:`tool_prompt` with the weather tool offered under ``tool_choice``; the stream must be equal."""
        params: dict[str, Any] = {"tools": [weather_tool("", [])], "tool_choice": tool_choice, "temperature": 0}
        params["max_tokens"] = self.tool_max_tokens
        reply = llm.generate(self.tool_prompt, **params)
        chunks = list(llm.generate(self.tool_prompt, stream=True, **params))
        assert "".join(chunks) == str(reply), f"tool_choice={tool_choice!r}: the stream differs from the reply"
        assert chunks[-1].finish_reason == reply.finish_reason, f"tool_choice={tool_choice!r}"
        assert _same_calls(chunks[-1].tool_calls, reply.tool_calls), f"tool_choice={tool_choice!r}: the streamed calls differ"
        return reply

    @pytest.mark.parametrize("tool_choice", ["get_weather", "required"])
    def test_claimed_tool_use_forces_a_valid_call(self, llm: AbstractLLMInterface, tool_choice: str) -> None:
        """A forced ``tool_choice`` gets calls to the tool whose arguments match its schema."""
        self.require(llm, ModelCapability.TOOL_USE)
        reply = self.ask(llm, tool_choice)
        assert reply.finish_reason == "tool_calls", f"{reply.finish_reason!r}: raise tool_max_tokens if the call was cut"
        assert reply.tool_calls and all(_valid(call) for call in reply.tool_calls), reply.tool_calls

    def test_claimed_tool_use_auto_gives_text_or_valid_calls(self, llm: AbstractLLMInterface) -> None:
        """Under ``auto`` the reply is text, or calls with ``finish_reason="tool_calls"`` (each valid or
        carrying its ``error``); under ``"none"`` it has no call."""
        self.require(llm, ModelCapability.TOOL_USE)
        reply = self.ask(llm, "auto")
        if reply.tool_calls:
            assert reply.finish_reason in ("tool_calls", "length")
            assert all(_valid(call) or call.error for call in reply.tool_calls), reply.tool_calls
        else:
            assert reply.finish_reason in ("stop", "length")
        refused = self.ask(llm, "none")
        assert not refused.tool_calls and refused.finish_reason in ("stop", "length")

    def test_claimed_tool_use_counts_the_tools_it_sends(self, llm: AbstractLLMInterface) -> None:
        """``count_tokens`` with the tool and a ``tool_choice`` equals the ``usage.prompt_tokens`` of
        the reply to the same call, and counts an offered tool (skipped when the backend cannot count)."""
        self.require(llm, ModelCapability.TOOL_USE)
        bare = llm.count_tokens(self.tool_prompt)
        if bare is None:
            pytest.skip("the backend cannot count tokens (count_tokens returns None)")
        for tool_choice in ("auto", "get_weather", "none"):
            counted = llm.count_tokens(self.tool_prompt, tools=[weather_tool("", [])], tool_choice=tool_choice)
            assert self.ask(llm, tool_choice).usage.prompt_tokens == counted, f"tool_choice={tool_choice!r}"
            if tool_choice != "none":
                assert counted is not None and counted > bare, f"tool_choice={tool_choice!r}: the tool is not counted"

    def test_claimed_tool_use_runs_a_whole_loop_through_a_session(self, llm: AbstractLLMInterface) -> None:
        """The forced call runs the tool once with the call's arguments, its result is recorded as
        the answer to that call, and the result is rendered into the next request: a result longer
        by 64 words makes that request at least 32 tokens longer."""
        self.require(llm, ModelCapability.TOOL_USE)
        short = self._loop(llm, "Sunny.")
        long = self._loop(llm, "Sunny. " + " ".join(str(number) for number in range(_EXTRA_WORDS)))
        grown = long.usage.prompt_tokens - short.usage.prompt_tokens
        assert grown >= _EXTRA_WORDS // 2, f"the tool result does not reach the model: its next prompt grew by {grown} tokens"

    def _loop(self, llm: AbstractLLMInterface, result: str) -> GenerateResponse:
        calls: list[str] = []
        session = Session(provider=llm)
        final = session.generate_with_tools(
            self.tool_prompt,
            tools=[weather_tool(result, calls)],
            tool_choice="get_weather",
            max_tool_rounds=1,
            temperature=0,
            max_tokens=self.tool_max_tokens,
        )
        assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"], "one call, its answer, the reply"
        _user, asked, answered, replied = session.messages
        assert asked.tool_calls and _valid(asked.tool_calls[0]), asked.tool_calls
        assert calls == [call.arguments["city"] for call in asked.tool_calls]
        assert answered.tool_call_id == asked.tool_calls[0].id and answered.content == result
        assert replied.content == str(final) and not final.tool_calls
        return final
