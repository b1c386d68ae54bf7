"""Regenerate the keyword table of docs/structured-output.md from ``abstractllm._private.schema_support.KEYWORDS``.

``python docs/generate_structured_output.py`` rewrites the part between the markers
(tests/test_docs_structured_output.py fails while the page differs from the table).
"""

from __future__ import annotations

from pathlib import Path

from abstractllm._private.schema_support import keyword_table_markdown

PAGE = Path(__file__).with_name("structured-output.md")
BEGIN, END = "<!-- keywords:begin -->", "<!-- keywords:end -->"


def main() -> None:
    page = PAGE.read_text()
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(f"{head}{BEGIN}\n{keyword_table_markdown()}{END}{tail}")


if __name__ == "__main__":
    main()
