"""docs/configuration.md is generated from the code; this fails when it is out of date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_configuration_reference_matches_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "generate_configuration.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_the_reference_names_every_option_of_every_mode() -> None:
    from abstractllm.plugins import get_plugins

    page = (REPO / "docs" / "configuration.md").read_text()
    for (provider, _), backend in get_plugins().backends.items():
        if provider == "huggingface":
            for name in {**backend.info.load_options, **backend.info.generation_options}:
                assert f"| `{name}` |" in page
