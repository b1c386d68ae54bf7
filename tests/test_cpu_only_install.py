"""The CPU-only install of the pipeline package that README.md and docs/pipeline.md document
resolves without CUDA packages (issue 26), checked with ``pip install --dry-run --report``.

1. PyTorch's CPU index line (``pip install torch --index-url https://download.pytorch.org/whl/cpu``),
   as documented, when that index can be reached from here; else the test skips saying so.
2. The pipeline line after it, with torch held to a CPU build: resolved against the built wheels
   with the constraint file hatch uses (torch pinned to the CPU wheel this project's machines
   have), nothing of the pipeline's other dependencies may bring CUDA back.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = (REPO / "README.md", REPO / "docs" / "pipeline.md")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Distributions that are CUDA itself: NVIDIA's libraries and CUDA's Python wrappers.
CUDA = re.compile(r"^(nvidia-|cuda-|cupy)")

pytestmark = pytest.mark.slow


def documented_lines(page: Path) -> list[str]:
    """The CPU-only recipe of ``page``: the torch line from PyTorch's index and the line after it."""
    lines = [line.split("#")[0].strip() for line in page.read_text().splitlines()]
    start = next(i for i, line in enumerate(lines) if TORCH_CPU_INDEX in line and line.startswith("pip install"))
    return lines[start : start + 2]


def test_readme_and_pipeline_page_document_the_same_cpu_only_lines() -> None:
    readme, page = (documented_lines(path) for path in PAGES)
    assert (
        readme
        == page
        == [
            f"pip install torch --index-url {TORCH_CPU_INDEX}",
            "pip install --find-links dist abstractllm-hf-pipeline",
        ]
    )


def _dry_run(args: list[str], env: dict[str, str], report: Path) -> list[tuple[str, str]]:
    """(name, version) of everything ``pip install args`` would install into an empty environment."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report)]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    entries: list[dict[str, Any]] = json.loads(report.read_text())["install"]
    return [(entry["metadata"]["name"].lower(), entry["metadata"]["version"]) for entry in entries]


def _cuda(resolved: list[tuple[str, str]]) -> list[str]:
    return [f"{name}=={version}" for name, version in resolved if CUDA.match(name) or "+cu" in version]


def _reachable(url: str) -> str | None:
    """None when ``url`` answers, else why not."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    return None


def test_the_torch_line_from_pytorchs_cpu_index_brings_no_cuda(tmp_path: Path) -> None:
    why = _reachable(f"{TORCH_CPU_INDEX}/torch/")
    if why is not None:
        pytest.skip(f"PyTorch's CPU index ({TORCH_CPU_INDEX}) cannot be reached from here ({why}); the line is not resolved")
    words = shlex.split(documented_lines(PAGES[0])[0])
    # Only what the line says: no pip configuration, constraint or extra index of this machine.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    resolved = _dry_run(words[2:], env, tmp_path / "report.json")
    torch = dict(resolved)["torch"]
    assert not _cuda(resolved), resolved
    if platform.system() == "Linux":
        assert torch.endswith("+cpu"), torch


def test_the_pipeline_line_with_a_cpu_torch_brings_no_cuda(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building the wheels needs hatchling (the hatch envs have it)")
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "dist_wheels.py"), str(dist)], capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr[-3000:]
    words = shlex.split(documented_lines(PAGES[0])[1])
    args = [dist.as_posix() if word == "dist" else word for word in words[2:]]
    env = {**os.environ, "PIP_CONSTRAINT": str(REPO / "constraints.txt")}
    resolved = _dry_run(args, env, tmp_path / "report.json")
    torch = dict(resolved).get("torch", "")
    if platform.system() == "Linux" and not torch.endswith("+cpu"):
        pytest.skip(f"no CPU build of torch can be had here without PyTorch's index (pip found torch {torch})")
    assert {"abstractllm-hf-pipeline", "abstractllm-core", "transformers"} <= dict(resolved).keys()
    assert not _cuda(resolved), _cuda(resolved)
