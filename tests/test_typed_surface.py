"""What an application or plugin author imports type-checks under ``mypy --strict``, and nothing of it is ``Any``.

``abstractllm`` imports its names on first use (PEP 562); the contract (``abstractllm.backend``) and the
building blocks (``abstractllm.blocks``) re-export theirs statically. These tests keep the static
re-exports that type checkers read in step with the names served at run time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import abstractllm
import abstractllm.backend
import abstractllm.blocks

REPO = Path(__file__).resolve().parent.parent
CORE_SRC = REPO / "packages" / "abstractllm-core" / "src"
NGRAM_SRC = REPO / "tests" / "plugins" / "abstractllm-ngram" / "src"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (the hatch env has it)"),
]


def _mypy_strict(tmp_path: Path, *targets: Path) -> str:
    """mypy --strict's output on ``targets``, with core's sources (not an installed copy) on its path."""
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(CORE_SRC), str(NGRAM_SRC)])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            *map(str, targets),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    return result.stdout + result.stderr


def test_every_public_contract_and_building_block_name_has_a_static_type(tmp_path: Path) -> None:
    top = sorted(abstractllm.__all__)
    contract = sorted(abstractllm.backend.__all__)
    blocks = sorted(set(abstractllm.blocks.__all__) - set(contract))
    lines = [
        "from __future__ import annotations",
        f"from abstractllm import {', '.join(top)}",
        f"from abstractllm.backend import {', '.join(contract)}",
        f"from abstractllm.blocks import {', '.join(blocks)}",
        "import abstractllm.backend as former",  # the building blocks' former home keeps them typed
        *(f"reveal_type({name})" for name in [*top, *contract, *blocks]),
        *(f"reveal_type(former.{name})" for name in blocks),
    ]
    snippet = tmp_path / "surface.py"
    snippet.write_text("\n".join(lines) + "\n")
    output = _mypy_strict(tmp_path, snippet)
    assert not re.search(r": error: ", output), output
    revealed = re.findall(r'surface\.py:(\d+): note: Revealed type is "(.*)"', output)
    assert len(revealed) == len(top) + len(contract) + 2 * len(blocks), output
    untyped = [lines[int(line) - 1] for line, kind in revealed if kind == "Any"]
    assert not untyped, f"typed Any for a type checker: {untyped}"


def test_an_application_using_create_llm_session_and_responses_passes_mypy_strict(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "from __future__ import annotations\n"
        "from collections.abc import Iterator\n"
        "from abstractllm import GenerateResponse, Session, StreamChunk, create_llm\n"
        "from abstractllm.response import Usage\n\n"
        "def ask(question: str) -> tuple[str, Usage | None]:\n"
        '    llm = create_llm("huggingface", model="Qwen/Qwen2.5-0.5B-Instruct", device="cpu")\n'
        "    reply = llm.generate(question, max_tokens=8)\n"
        "    assert isinstance(reply, GenerateResponse)\n"
        '    session = Session(system_prompt="Be terse.", provider=llm)\n'
        "    answer = session.generate(question)\n"
        "    return str(answer), reply.usage\n\n"
        "def chunks(stream: Iterator[StreamChunk]) -> str:\n"
        '    return "".join(str(chunk) for chunk in stream)\n'
    )
    output = _mypy_strict(tmp_path, app)
    assert "Success: no issues found" in output, output


def test_the_example_plugin_and_its_conformance_check_pass_mypy_strict(tmp_path: Path) -> None:
    """The worked example of docs/plugins.md is what a plugin author can type-check as it is."""
    plugin = NGRAM_SRC.parent
    output = _mypy_strict(tmp_path, NGRAM_SRC / "abstractllm_ngram", plugin / "conformance_check.py")
    assert "Success: no issues found in 2 source files" in output, output
