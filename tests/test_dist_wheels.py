"""``hatch run dist:wheels [DIR]`` says what it wrote (issue 26): one line per wheel, then the line
that installs from them. hatch.toml runs scripts/dist_wheels.py; here the script runs with this
interpreter (the build needs hatchling only), and tests/test_install_from_checkout.py runs it through hatch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import abstractllm

REPO = Path(__file__).resolve().parents[1]
NAMES = ("core", "hf_api", "hf_gguf", "hf_pipeline")

pytest.importorskip("hatchling", reason="building the wheels needs hatchling (the hatch envs have it)")


def test_hatch_runs_the_script() -> None:
    section = (REPO / "hatch.toml").read_text().split("[envs.dist.scripts]", 1)[1].split("\n[", 1)[0]
    assert 'wheels = "python scripts/dist_wheels.py {args}"' in section


@pytest.mark.slow
def test_the_script_prints_each_wheel_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "wheels"
    wheels = [out / f"abstractllm_{name}-{abstractllm.__version__}-py3-none-any.whl" for name in NAMES]
    for attempt in ("first build", "rebuild over the same files"):
        result = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "dist_wheels.py"), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            env={**os.environ, "PIP_VERBOSE": "1"},  # as hatch's default environment runs it
        )
        assert result.returncode == 0, f"{attempt}: {result.stderr[-3000:]}"
        lines = result.stdout.splitlines()
        assert lines[:-1] == [f"wrote {wheel}" for wheel in wheels], attempt
        assert lines[-1].startswith(f"then, for example: pip install --find-links {out} abstractllm-core")
        assert all(wheel.is_file() for wheel in wheels)
