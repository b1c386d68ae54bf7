"""The README's install steps keep the machine's own Python clean (issue 26: its first command
installed hatch there, upgrading typing_extensions, packaging and idna): a venv is made and
activated first, or hatch comes from pipx; and the two development commands are the ones CI runs.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    return [line.split("#")[0].strip() for line in block[1].splitlines() if line.split("#")[0].strip()]


def test_installing_from_a_checkout_starts_in_a_venv_or_with_pipx() -> None:
    section = _section("Install from a checkout")
    commands = _commands(section)
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert commands[1] == "pip install hatch" and "pipx install hatch" in section
    assert "python3 -m pip install hatch" not in README  # hatch into the machine's own Python


def test_the_two_development_commands_make_a_venv_and_are_the_ones_ci_runs() -> None:
    first, second = _commands(_section("Develop (two commands, fresh machine)"))
    assert first == "python3 -m venv .venv && . .venv/bin/activate && pip install hatch && hatch run demo"
    assert second == "hatch run test"
    ci = (REPO / ".ci" / "run").read_text()
    assert "\nhatch run test" in ci
    assert 'demo = "python scripts/demo.py {args}"' in (REPO / "hatch.toml").read_text()
