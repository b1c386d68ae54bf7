"""What every group of conformance checks shares: the model under test, how to call it, and how
to make its runtime fail (see :class:`abstractllm.testing.BackendConformance`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from abstractllm import AbstractLLMInterface
from abstractllm.enums import ModelCapability
from abstractllm.errors import AbstractLLMError

__all__ = ["ConformanceBase", "RuntimeFailure"]


@dataclass(frozen=True)
class RuntimeFailure:
    """What :meth:`ConformanceBase.break_runtime` arranged: the backend's runtime library now raises
    its own exception ``raises`` (a class of that library, or a builtin, never an
    ``abstractllm.errors`` class), and the caller must receive ``expect``."""

    raises: type[BaseException]
    expect: type[AbstractLLMError]


class ConformanceBase:
    """Subclass :class:`abstractllm.testing.BackendConformance` (which adds every check to this),
    implement :meth:`make_llm`, and override the class attributes to fit the model."""

    #: A prompt the model answers with at least a few tokens.
    prompt: str = "The capital of France is"
    #: New tokens per check; small keeps the suite fast.
    max_tokens: int = 8
    #: The request of the tool checks, and the new tokens a forced call may take (its JSON must fit).
    tool_prompt: str = "What is the weather in Paris?"
    tool_max_tokens: int = 64

    #: Names of pytest fixtures ``make_llm`` needs (a server's URL, say); each is passed to
    #: it as a keyword argument. They must be class- or session-scoped.
    fixtures: tuple[str, ...] = ()

    def make_llm(self, *args: Any, **fixtures: Any) -> AbstractLLMInterface:
        """Create a fresh model of the backend under test; ``fixtures`` are the values of
        the fixtures named in :attr:`fixtures`, passed by name (declare just those parameters)."""
        raise NotImplementedError("implement make_llm() to return create_llm(...) for your backend")

    def break_runtime(self, llm: AbstractLLMInterface, patch: pytest.MonkeyPatch) -> RuntimeFailure:
        """Make every later generation on ``llm`` fail inside the backend's runtime library (the
        model's forward pass, the C library's decode call, the HTTP client's transport), with that
        library's own exception, by patching it with ``patch``; return what was arranged.

        The kit undoes ``patch`` afterwards and checks that the model works again. Not
        implemented: the error check is skipped with a reason.
        """
        raise NotImplementedError

    def new_llm(self, request: pytest.FixtureRequest) -> AbstractLLMInterface:
        """``make_llm`` called with the fixtures it asks for."""
        return self.make_llm(**{name: request.getfixturevalue(name) for name in self.fixtures})

    @pytest.fixture(scope="class")
    @classmethod
    def llm(cls, request: pytest.FixtureRequest) -> Iterator[AbstractLLMInterface]:
        model = cls().new_llm(request)
        yield model
        model.unload()

    def greedy(self, **extra: Any) -> dict[str, Any]:
        """Greedy decoding of :attr:`max_tokens` new tokens, with ``extra`` parameters."""
        return {"temperature": 0, "max_tokens": self.max_tokens, **extra}

    def conversation(self) -> list[dict[str, str]]:
        """Three turns ending with :attr:`prompt` (for the multi-turn checks)."""
        return [
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hello! How can I help you today?"},
            {"role": "user", "content": self.prompt},
        ]

    @staticmethod
    def require(llm: AbstractLLMInterface, capability: ModelCapability) -> None:
        """Skip the calling check, with the reason, unless ``llm`` claims ``capability``."""
        if not llm.get_capabilities().get(capability):
            pytest.skip(f"{capability.value} is not claimed")
