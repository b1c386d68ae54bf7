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

import pytest

# pytest explains a failed check (the values compared) only in modules it rewrites: the kit's
# checks are, once registered before their first import.
_CHECKS = ("base", "generation_checks", "capability_checks", "tool_checks", "runtime_checks")
pytest.register_assert_rewrite(*(f"abstractllm.testing.{name}" for name in _CHECKS))

from abstractllm.testing.conformance import BackendConformance, RuntimeFailure  # noqa: E402

__all__ = ["BackendConformance", "RuntimeFailure"]
