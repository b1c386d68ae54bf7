"""The backend conformance kit: a pytest suite any backend author runs against a backend.

Subclass :class:`BackendConformance` in a test module and implement ``make_llm``::

    from abstractllm import create_llm
    from abstractllm.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        def make_llm(self):
            return create_llm("my-provider", model="...")

pytest then runs every contract check against that backend.
"""

from abstractllm.testing.conformance import BackendConformance

__all__ = ["BackendConformance"]
