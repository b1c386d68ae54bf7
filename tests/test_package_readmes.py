"""Each distribution's README stands on its own, as a package index shows it (issue 26): what it is,
the install line that works, a five-line example, and the names of the documentation pages; no link
(the project has no public home yet, and a link relative to the repository breaks on an index
page), and no ``[project.urls]`` in its pyproject.toml.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from abstractllm._private.install_hint import BUILD_WHEELS, find_links_line

REPO = Path(__file__).resolve().parents[1]
PACKAGES = sorted(path.parent for path in (REPO / "packages").glob("*/pyproject.toml"))


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_the_readme_stands_alone(package: Path) -> None:
    name = package.name
    text = (package / "README.md").read_text()
    assert text.startswith(f"# {name}\n\n")
    assert len(text.split("\n\n", 2)[1]) > 80  # what it is, in the paragraph under the title
    # no link at all: markdown links, autolinks, or bare addresses outside code
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)
    assert not re.search(r"\]\(|<https?:|https?://", prose), f"{name}/README.md has a link"
    # the install line that works (the wheels built in a checkout), in a shell block
    shell = "\n".join(_blocks(text, "bash"))
    assert BUILD_WHEELS in shell
    wanted = name if name != "abstractllm-hf-api" else "abstractllm-core abstractllm-hf-api"
    assert find_links_line(*wanted.split()) in shell
    # a five-line example that is Python and uses the package through create_llm
    (example,) = _blocks(text, "python")
    assert len(example.strip().splitlines()) <= 5 and "create_llm(" in example
    compile(example, f"{name}/README.md", "exec")
    # the documentation pages it names exist
    section = text.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    pages = re.findall(r"`([\w-]+\.md)`", section)
    assert pages and all((REPO / "docs" / page).is_file() for page in pages), pages


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_pyproject_points_at_the_readme_and_names_no_urls(package: Path) -> None:
    pyproject = (package / "pyproject.toml").read_text()
    assert '\nreadme = "README.md"\n' in pyproject
    assert "[project.urls]" not in pyproject and "\nurls" not in pyproject
