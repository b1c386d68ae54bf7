"""The backend conformance kit: a pytest suite any backend author runs against a backend.

Subclass :class:`BackendConformance` in a test module and implement ``make_llm``::

    from abstractllm import create_llm
    from abstractllm.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        def make_llm(self):
            return create_llm("my-provider", model="...")

pytest then runs every contract check against that backend (see
:class:`~abstractllm.testing.conformance.BackendConformance` for the list). Implement
``break_runtime`` too, returning a :class:`RuntimeFailure`, to check that your runtime's own
exceptions reach callers as ``abstractllm.errors`` classes.
"""

from abstractllm.testing.conformance import BackendConformance, RuntimeFailure

__all__ = ["BackendConformance", "RuntimeFailure"]
