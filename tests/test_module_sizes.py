"""Every Python module of the repository stays under 500 lines: one concept per module."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT = 500


def _tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if listed.returncode == 0:
        return [REPO / name for name in listed.stdout.splitlines() if (REPO / name).is_file()]
    return [path for path in REPO.rglob("*.py") if ".cache" not in path.parts and ".git" not in path.parts]


def test_every_module_is_under_500_lines() -> None:
    files = _tracked_python_files()
    assert len(files) > 50
    too_long = {
        str(path.relative_to(REPO)): count
        for path in files
        if (count := len(path.read_text(encoding="utf-8").splitlines())) >= LIMIT
    }
    assert too_long == {}, f"split these modules (one concept each): {too_long}"
