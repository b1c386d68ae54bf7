"""The documentation cannot drift from the code.

docs/configuration.md's option tables are generated from the installed backends'
``BackendInfo`` and core's option declarations; these tests fail when the page is out of
date, when a keyword of ``generate`` is missing from it, or when a link between the pages
points nowhere.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGE = DOCS / "configuration.md"


def test_configuration_reference_matches_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(DOCS / "generate_configuration.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_the_reference_names_every_option_of_every_mode() -> None:
    from abstractllm._private.plugins import get_plugins
    from abstractllm.options import COMMON_OPTIONS, GENERATION_OPTIONS

    page = PAGE.read_text()
    names = set(COMMON_OPTIONS) | set(GENERATION_OPTIONS)
    for (provider, _), backend in get_plugins().backends.items():
        if provider == "huggingface":
            names |= {*backend.info.load_options, *backend.info.generation_options}
    missing = sorted(name for name in names if f"| `{name}` |" not in page)
    assert not missing, f"options missing from docs/configuration.md: {missing}"


@pytest.mark.parametrize("method", ["generate", "generate_async"])
def test_the_reference_names_every_keyword_of_generate(method: str) -> None:
    from abstractllm._private.llm import AbstractLLMInterface

    page = PAGE.read_text()
    section = page.split("## Keywords of `generate`", 1)[1].split("\n## ", 1)[0]
    parameters = inspect.signature(getattr(AbstractLLMInterface, method)).parameters
    keywords = [name for name, p in parameters.items() if name != "self" and p.kind is not p.VAR_KEYWORD]
    missing = [name for name in keywords if f"| `{name}` |" not in section]
    assert not missing, f"keywords of {method} missing from the keywords table: {missing}"


def _links(page: Path) -> list[tuple[str, str]]:
    """Relative markdown links of ``page`` as (target file, anchor) pairs."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    found = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        found.append((path, anchor))
    return found


def _anchors(page: Path) -> set[str]:
    """GitHub-style anchors of the page's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", sorted([*DOCS.glob("*.md"), REPO / "README.md"]), ids=lambda page: page.name)
def test_links_between_pages_resolve(page: Path) -> None:
    for path, anchor in _links(page):
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name} links to {path}, which does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{page.name} links to {path}#{anchor}, which is not a heading there"
