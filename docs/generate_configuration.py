"""Regenerate the option tables of docs/configuration.md from the code.

``python docs/generate_configuration.py`` rewrites the part between the markers;
``--check`` exits 1 (and says so) when the page is out of date. The tables come from
core's option declarations and every installed backend's ``BackendInfo``, so the
reference cannot drift from what ``create_llm`` and ``generate`` accept.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAGE = Path(__file__).with_name("configuration.md")
BEGIN, END = "<!-- options:begin -->", "<!-- options:end -->"
MODES = ("pipeline", "gguf", "api", "endpoint")


def _default(option: Any) -> str:
    value = option.default
    if option.env:
        from_env = "from " + ", then ".join(f"`{name}`" for name in option.env)
        return from_env if value is None else f"{from_env}, else `{value!r}`"
    if value is None:
        return "—"
    if value == ():
        return "none"
    return f"`{value!r}`"


def _row(name: str, option: Any, modes: list[str]) -> str:
    honoured = ", ".join(modes) if len(modes) < len(MODES) else "all"
    return f"| `{name}` | {_default(option)} | {honoured} | {option.doc} |"


def tables() -> str:
    """The markdown between the markers."""
    from abstractllm._private.install_hint import BUILD_WHEELS, find_links_line
    from abstractllm._private.plugins import get_plugins
    from abstractllm.options import COMMON_OPTIONS, GENERATION_OPTIONS
    from abstractllm.providers.huggingface_modes import MODE_DISTRIBUTIONS

    backends = {mode: backend.info for (provider, mode), backend in get_plugins().backends.items() if provider == "huggingface"}
    missing = [mode for mode in MODES if mode not in backends]
    if missing:
        raise SystemExit(f"install every backend first; missing modes: {', '.join(missing)}")

    def honoured_by(name: str, attribute: str) -> list[str]:
        return [mode for mode in MODES if name in getattr(backends[mode], attribute)]

    load: dict[str, Any] = {}
    for mode in MODES:
        load.update(backends[mode].load_options)
    lines = [
        "### Modes",
        "",
        f"| mode | install (in a checkout of the project, after `{BUILD_WHEELS}`) | `model_type` spellings |",
        "|---|---|---|",
    ]
    for mode in MODES:
        info = backends[mode]
        spellings = ", ".join(f"`{name}`" for name in (mode, *(alias for alias in info.aliases if alias != mode)))
        lines.append(f"| `{mode}` | `{find_links_line(MODE_DISTRIBUTIONS[mode])}` | {spellings} |")
    lines += [
        "",
        '### Options of `create_llm("huggingface", ...)`',
        "",
        "| option | default | modes | meaning |",
        "|---|---|---|---|",
    ]
    lines += [_row(name, option, list(MODES)) for name, option in COMMON_OPTIONS.items()]
    lines += [_row(name, load[name], honoured_by(name, "load_options")) for name in sorted(load)]
    lines += [
        "",
        "### Generation parameters (per instance in `create_llm`, or per call in `generate`)",
        "",
        "| parameter | default | modes | meaning |",
        "|---|---|---|---|",
    ]
    lines += [_row(name, option, list(MODES)) for name, option in GENERATION_OPTIONS.items()]
    extra: Mapping[str, Any] = {}
    for mode in MODES:
        extra = {**extra, **backends[mode].generation_options}
    lines += [_row(name, extra[name], honoured_by(name, "generation_options")) for name in sorted(extra)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the page is out of date")
    args = parser.parse_args()
    text = PAGE.read_text()
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    updated = text[:start] + "\n" + tables() + "\n" + text[stop:]
    if args.check:
        if updated != text:
            diff = difflib.unified_diff(text.splitlines(), updated.splitlines(), "on disk", "from the code", lineterm="")
            print(f"{PAGE} is out of date: run python docs/generate_configuration.py", file=sys.stderr)
            print("\n".join(diff), file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
