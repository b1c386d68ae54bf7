"""What is public: ``abstractllm.__all__`` for users, a named set of modules for plugin authors,
and everything else under ``abstractllm._private``."""

from __future__ import annotations

import importlib
import pkgutil

import abstractllm
import abstractllm.backend

#: The public modules of core; any other module belongs under ``abstractllm._private``.
PUBLIC_MODULES = {
    "abstractllm",
    # users
    "abstractllm.errors",
    "abstractllm.enums",
    "abstractllm.session",
    "abstractllm.tools",
    "abstractllm.config",
    "abstractllm.cli",
    "abstractllm.__main__",  # python -m abstractllm: the command
    # plugin authors
    "abstractllm.backend",
    "abstractllm.request",
    "abstractllm.response",
    "abstractllm.options",
    "abstractllm.speculative",
    "abstractllm.hookspecs",
    "abstractllm.testing",
    "abstractllm.testing.conformance",
    "abstractllm.testing.base",
    "abstractllm.testing.generation_checks",
    "abstractllm.testing.capability_checks",
    "abstractllm.testing.tool_checks",
    "abstractllm.testing.runtime_checks",
    "abstractllm.testing.constrained",
    "abstractllm.providers",
    "abstractllm.providers.huggingface",
    # alias modules of the original library
    "abstractllm.exceptions",
    "abstractllm.interface",
}

#: Names kept for the original library that repeat a name of ``__all__``: alias -> the name it repeats.
ALIASES = {"ChatMessage": "Message", "ConfigurationManager": "ConfigManager"}


def test_every_module_is_public_by_name_or_private() -> None:
    modules = {"abstractllm"} | {
        info.name for info in pkgutil.walk_packages(abstractllm.__path__, "abstractllm.") if "._private" not in info.name
    }
    assert modules == PUBLIC_MODULES


def test_all_names_the_user_surface_and_resolves() -> None:
    assert abstractllm.__all__ == sorted(abstractllm.__all__)
    for name in abstractllm.__all__:
        assert getattr(abstractllm, name) is not None
    assert {"create_llm", "AbstractLLMInterface", "Session", "ModelParameter", "Message", "ConfigManager"} <= set(
        abstractllm.__all__
    )


def test_aliases_stay_out_of_all_and_say_what_they_alias() -> None:
    for alias, name in ALIASES.items():
        assert alias not in abstractllm.__all__
        assert getattr(abstractllm, alias) is getattr(abstractllm, name)
        assert f"``{alias}`` is an alias" in (getattr(abstractllm, name).__doc__ or "")
    from abstractllm.interface import AbstractLLMInterface

    assert AbstractLLMInterface is abstractllm.AbstractLLMInterface
    assert importlib.import_module("abstractllm.interface").__doc__.startswith("Alias module")
    assert importlib.import_module("abstractllm.exceptions").__doc__.startswith("Alias module")


def test_the_plugin_author_surface_resolves_every_name() -> None:
    for name in abstractllm.backend.__all__:
        assert getattr(abstractllm.backend, name) is not None, name
    assert set(abstractllm.backend.__all__) <= set(dir(abstractllm.backend))
