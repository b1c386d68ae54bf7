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
    # plugin authors: the contract (a package importing only errors and the standard library)
    "abstractllm.backend",
    "abstractllm.backend.base",
    "abstractllm.backend.calls",
    "abstractllm.backend.capabilities",
    "abstractllm.backend.enums",
    "abstractllm.backend.messages",
    "abstractllm.backend.options",
    "abstractllm.backend.request",
    "abstractllm.backend.response",
    "abstractllm.backend.sequences",
    "abstractllm.backend.threads",
    "abstractllm.backend.tools",
    # core's building blocks on the contract, and the older paths of the contract's types
    "abstractllm.blocks",
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
    "abstractllm.providers.huggingface_modes",
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


def test_the_building_blocks_former_names_still_resolve_from_the_contract() -> None:
    import abstractllm.blocks

    for name in abstractllm.blocks.__all__:
        assert getattr(abstractllm.backend, name) is getattr(abstractllm.blocks, name), name
    assert not hasattr(abstractllm.backend, "no_such_block")
