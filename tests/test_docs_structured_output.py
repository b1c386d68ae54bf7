"""docs/structured-output.md's keyword table is the one the code refuses and enforces by."""

from __future__ import annotations

from pathlib import Path

from abstractllm._private.schema_support import KEYWORDS, keyword_table_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "structured-output.md"
BEGIN, END = "<!-- keywords:begin -->", "<!-- keywords:end -->"


def test_the_keyword_table_is_generated_from_the_support_table() -> None:
    page = PAGE.read_text()
    table = page[page.index(BEGIN) + len(BEGIN) : page.index(END)].strip()
    assert table == keyword_table_markdown().strip(), "run python docs/generate_structured_output.py"
    for entry in KEYWORDS:
        assert f"| `{entry.keyword}` | {entry.local} | {entry.local} | checked after |" in table
