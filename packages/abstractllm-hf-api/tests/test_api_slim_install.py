"""A fresh virtual environment with abstractllm-core + abstractllm-hf-api installs nothing heavy, and works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PACKAGES = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "transformers", "numpy", "llama-cpp-python", "llama_cpp_python", "huggingface-hub", "huggingface_hub"}


@pytest.mark.slow
def test_fresh_venv_has_no_heavy_dependencies(tmp_path: Path, fake: Any) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-e",
            str(PACKAGES / "abstractllm-core"),
            "-e",
            str(PACKAGES / "abstractllm-hf-api"),
        ],
        check=True,
        timeout=180,
        capture_output=True,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines() if line.strip()}
    assert {"abstractllm-core", "abstractllm-hf-api", "httpx"} <= names
    assert not names & HEAVY, names & HEAVY
    code = (
        "from abstractllm import create_llm\n"
        f"llm = create_llm('huggingface', inference_api_url={fake.url!r}, protocol='tgi')\n"
        "print(llm.generate('hello', temperature=0, max_tokens=3).usage.completion_tokens)\n"
    )
    ran = subprocess.run([str(python), "-c", code], check=True, timeout=60, capture_output=True, text=True)
    assert ran.stdout.strip() == "3"
