"""The conformance kit: every contract check, run through the backend's own code.

:class:`BackendConformance` gathers the checks of :mod:`~abstractllm.testing.generation_checks`,
:mod:`~abstractllm.testing.capability_checks`, :mod:`~abstractllm.testing.tool_checks` and
:mod:`~abstractllm.testing.runtime_checks`. Core's own argument validation, which runs before any
backend code, is tested in core, not here. docs/plugins.md lists what each check promises.
"""

from __future__ import annotations

from abstractllm.testing.base import RuntimeFailure
from abstractllm.testing.capability_checks import CapabilityChecks
from abstractllm.testing.generation_checks import GenerationChecks
from abstractllm.testing.runtime_checks import RuntimeChecks
from abstractllm.testing.tool_checks import ToolChecks

__all__ = ["BackendConformance", "RuntimeFailure"]


class BackendConformance(GenerationChecks, CapabilityChecks, ToolChecks, RuntimeChecks):
    """Subclass it in a test module, implement ``make_llm`` (and ``break_runtime``), and override
    the class attributes of :class:`~abstractllm.testing.base.ConformanceBase` to fit the model.

    - **replies and streams**: a reply is a ``str`` with finish reason, usage and timing; the
      stream joins to it (finish reason and usage too), for every sequence, sync and async;
    - **exact usage**: prompt tokens equal ``count_tokens`` of the same input (skipped when the
      backend cannot count); a reply cut at ``max_tokens=k`` has exactly ``k`` completion tokens
      (checked against the tokens generated, since re-tokenizing generated text need not give
      them back);
    - **claimed capabilities**: each claimed one is exercised (system prompt, several turns, stop
      sequences, seed, several sequences, JSON and schemas, tools, parallel calls, the context
      window); a claim the kit has no check for fails;
    - **tools**: forced calls match the tool's schema, ``auto`` gives text or calls, the stream
      equals the reply, and a whole loop through a ``Session`` renders the tool's result back;
    - **the event loop**: async calls and streams await their work (a call still running one loop
      turn after it starts), and a ticker task is never held up
      :data:`~abstractllm.testing.runtime_checks.LOOP_BOUND` seconds;
    - **errors**: the runtime's own exception (``break_runtime``) reaches the caller as an
      ``abstractllm.errors`` class with the original as ``__cause__``; the model works afterwards;
    - **resources**: ``unload()`` and ``async with`` are final and idempotent.
    """
