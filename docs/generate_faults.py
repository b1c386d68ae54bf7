"""Regenerate docs/errors.md's per-mode fault tables from the fault suite.

``python docs/generate_faults.py`` rewrites the part between the markers; ``--check`` exits 1
(and says so) when the page is out of date. Every row comes from a case of the fault suite
(``tests/test_faults_*.py``), which checks on every run that the fault raises that class with
that text, so the page cannot claim what the code does not do.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAGE = Path(__file__).with_name("errors.md")
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
SUITES = ("test_faults_params", "test_faults_models", "test_faults_prompts", "test_faults_servers", "test_faults_lifecycle")
SECTIONS = (
    ("pipeline", "Pipeline (transformers)"),
    ("gguf", "GGUF (llama.cpp)"),
    ("endpoint", "Endpoint, OpenAI protocol"),
    ("tgi", "Endpoint, TGI protocol"),
    ("api", "Inference API"),
    ("session", "Session files"),
    ("", "Any mode (core)"),
)


def cases() -> list[Any]:
    """Every case of the fault suite, in file order."""
    sys.path.insert(0, str(REPO))
    import importlib

    found: list[Any] = []
    for name in SUITES:
        found.extend(importlib.import_module(f"tests.{name}").CASES)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def raises(case: Any) -> str:
    """The "raises" cell: the class, or "nothing" for a fault that must raise no error (see ``Case``)."""
    return f"`{case.error.__name__}`" if case.error is not None else "nothing"


def tables(found: Sequence[Any]) -> str:
    lines = [
        f"Generated from the fault suite's {len(found)} cases (`python docs/generate_faults.py`). Each row is",
        "checked on every test run: the fault raises exactly this class, its message contains the text",
        "shown, and the same model object (or a new one of that mode) still works afterwards. A row that",
        "raises nothing is a fault that must not surface as an error; the text is what happens instead.",
    ]
    for mode, title in SECTIONS:
        rows = [case for case in found if case.mode == mode]
        if not rows:
            continue
        lines += ["", f"### {title}", "", "| fault | raises | the message names |", "|---|---|---|"]
        lines += [f"| `{_cell(case.id)}` | {raises(case)} | {_cell(case.says)} |" for case in rows]
    return "\n".join(lines)


def render(page: str, generated: str) -> str:
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args()
    page = PAGE.read_text(encoding="utf-8")
    wanted = render(page, tables(cases()))
    if args.check:
        if wanted != page:
            diff = difflib.unified_diff(page.splitlines(), wanted.splitlines(), "errors.md", "generated", lineterm="")
            print("\n".join(list(diff)[:40]), file=sys.stderr)
            print("docs/errors.md is out of date: run python docs/generate_faults.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
