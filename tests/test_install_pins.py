"""The four distributions release in lockstep from one version, and pin what their code relies on.

The version is written once, as ``abstractllm.__version__`` in core's ``__init__.py``: every
pyproject reads it (``[tool.hatch.version]``). The siblings' pins (``~=`` that version) are
written in the pyprojects, since hatch cannot run a workspace whose members compute their
dependencies; these tests keep them equal to the version.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib comes with Python 3.11")

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
DISTRIBUTIONS = ("abstractllm-core", "abstractllm-hf-pipeline", "abstractllm-hf-gguf", "abstractllm-hf-api")
VERSION_FILE = PACKAGES / "abstractllm-core" / "src" / "abstractllm" / "__init__.py"


def version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(), re.MULTILINE)
    assert match, f"no __version__ line in {VERSION_FILE}"
    return match.group(1)


def pyproject(distribution: str) -> dict[str, Any]:
    return tomllib.loads((PACKAGES / distribution / "pyproject.toml").read_text())


def requirements(project: dict[str, Any]) -> list[str]:
    found = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        found.extend(extra)
    return found


def requirement(project: dict[str, Any], name: str) -> str:
    return next(item for item in requirements(project) if re.match(rf"{re.escape(name)}\b", item, re.IGNORECASE))


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_every_distribution_reads_the_version_from_core(distribution: str) -> None:
    data = pyproject(distribution)
    assert "version" not in data["project"], "the version is written only in abstractllm/__init__.py"
    assert "version" in data["project"]["dynamic"]
    source = (PACKAGES / distribution / data["tool"]["hatch"]["version"]["path"]).resolve()
    assert source == VERSION_FILE


def test_the_version_is_written_once() -> None:
    literal = re.compile(r'^__version__ = "', re.MULTILINE)
    writers = [path for path in PACKAGES.rglob("*.py") if literal.search(path.read_text(encoding="utf-8"))]
    assert writers == [VERSION_FILE]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_siblings_are_pinned_compatible_with_the_version(distribution: str) -> None:
    siblings = [item for item in requirements(pyproject(distribution)["project"]) if item.startswith("abstractllm-")]
    assert siblings, f"{distribution} names no sibling"
    for item in siblings:
        assert item.endswith(f"~={version()}"), f"{distribution}: {item!r} must be pinned ~={version()} (lockstep)"


def test_llama_cpp_python_has_an_upper_bound() -> None:
    pin = requirement(pyproject("abstractllm-hf-gguf")["project"], "llama-cpp-python")
    assert re.search(r"<\s*0\.4\b", pin), pin


@pytest.mark.parametrize("distribution", ["abstractllm-hf-gguf", "abstractllm-hf-pipeline"])
def test_huggingface_hub_floor_has_the_errors_module(distribution: str) -> None:
    """huggingface_hub.errors holds RepositoryNotFoundError and its kin from 0.25 on."""
    pin = requirement(pyproject(distribution)["project"], "huggingface_hub")
    assert ">=0.25" in pin.replace(" ", ""), pin
