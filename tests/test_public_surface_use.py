"""Backends and the example plugins use only core's public surface: nothing under ``abstractllm._private``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: abstractllm-broken's old_imports.py is written against the 0.1 layout on purpose (tests/test_third_party_plugins.py).
SOURCES = sorted(
    path
    for path in [*REPO.glob("packages/abstractllm-hf-*/src/**/*.py"), *REPO.glob("tests/plugins/*/src/**/*.py")]
    if path.name != "old_imports.py"
)


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_no_private_core_import(path: Path) -> None:
    private = sorted(module for module in _imported_modules(path) if module.startswith("abstractllm._private"))
    assert not private, f"{path.relative_to(REPO)} imports core internals {private}; import from abstractllm.backend"


def test_the_scan_finds_the_backends() -> None:
    assert len(SOURCES) > 40
