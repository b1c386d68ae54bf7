"""The fault suite as a whole: its size and reach, and what no single row can show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from abstractllm import errors as E
from abstractllm.session import Session
from tests import test_faults_lifecycle, test_faults_models, test_faults_params, test_faults_prompts, test_faults_servers
from tests.fault_world import SESSION_FILES, World

ALL = [
    *test_faults_params.CASES,
    *test_faults_models.CASES,
    *test_faults_prompts.CASES,
    *test_faults_servers.CASES,
    *test_faults_lifecycle.CASES,
]


def test_the_suite_is_large_and_covers_every_backend() -> None:
    assert len(ALL) >= 200
    assert len({case.id for case in ALL}) == len(ALL)
    for mode in ("pipeline", "gguf", "endpoint", "api", "tgi", "session", "not-installed"):
        assert sum(case.id.startswith(mode) or f"-{mode}" in case.id for case in ALL) >= 2, mode


def test_the_error_reference_lists_every_fault_by_mode() -> None:
    """docs/errors.md's per-mode tables are generated from these cases and cannot drift from them."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    result = subprocess.run(
        [sys.executable, str(docs / "generate_faults.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    page = (docs / "errors.md").read_text()
    for case in ALL:
        raises = f"`{case.error.__name__}`" if case.error is not None else "nothing"
        assert f"| `{case.id}` | {raises} |" in page, case.id


def test_a_session_file_that_fails_to_load_leaves_the_session_as_it_was(world: World, tmp_path: Path) -> None:
    session = Session(system_prompt="keep me", provider=world.pipeline)
    session.generate("What is the capital of France?", temperature=0)
    good = tmp_path / "good.json"
    session.save(good)
    before = session.to_dict()
    for name in SESSION_FILES:
        content = world.files[name].read_bytes()
        with pytest.raises(E.InvalidArgumentError) as caught:
            session.load(world.files[name])
        assert name in str(caught.value)
        assert session.to_dict() == before, name
        assert world.files[name].read_bytes() == content  # the bad file itself is untouched
        with pytest.raises(E.InvalidArgumentError):
            Session.load(world.files[name])  # the class-level load rejects it the same way
    session.generate("What is the capital of Germany?", temperature=0)
    assert session.messages[-1].content == "The capital of Germany is Berlin."
    assert Session.load(good).to_dict() == before  # a good file still loads
    assert json.loads(good.read_text())["system_prompt"] == "keep me"
