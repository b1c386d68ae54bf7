"""Every install line the project shows works: none is a bare ``pip install abstractllm-…``, which
fails while the distributions are on no index (issue 26).

``install_line`` reads how core was installed from pip's records; a core that pip recorded no path
for (``--find-links``, which pip does not record) is simulated by clearing that record, the one
input that decides the branch. The real installs (venvs from the built wheels) are in
tests/test_install_from_checkout.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import abstractllm
from abstractllm._private import install_hint
from abstractllm._private.install_hint import checkout_line, find_links_line, install_line

REPO = Path(__file__).resolve().parents[1]
#: ``pip install`` followed directly by one of the project's distributions: fails, they are on no index.
BARE = re.compile(r"pip install ['\"]?abstractllm-(core|hf-)")


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter seeing this one's modules (a deadline: it may load a model)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture()
def unrecorded_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Core as pip installs it from ``--find-links`` (no direct_url.json), run from ``tmp_path``."""
    monkeypatch.setattr(install_hint, "_core_source", lambda: None)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_an_unrecorded_core_leads_with_the_checkout_line_not_a_bare_one(unrecorded_core: Path) -> None:
    line = install_line("abstractllm-hf-gguf")
    assert line == (
        "hatch run dist:wheels && pip install --find-links dist abstractllm-hf-gguf"
        "  # in a checkout of the project; its distributions are not on PyPI yet"
    )
    assert not BARE.search(line)
    assert install_line("abstractllm-hf-pipeline[quantization]").startswith(
        "hatch run dist:wheels && pip install --find-links dist 'abstractllm-hf-pipeline[quantization]'  #"
    )


def test_an_unrecorded_core_beside_the_built_wheels_names_their_folder(unrecorded_core: Path) -> None:
    dist = unrecorded_core / "dist"
    dist.mkdir()
    for name in ("abstractllm_hf_gguf", "abstractllm_hf_pipeline"):
        (dist / f"{name}-{abstractllm.__version__}-py3-none-any.whl").write_bytes(b"")
    assert install_line("abstractllm-hf-gguf") == f"pip install --find-links {dist} abstractllm-hf-gguf"
    assert install_line("abstractllm-hf-pipeline[quantization]") == (
        f"pip install --find-links {dist} 'abstractllm-hf-pipeline[quantization]'"
    )
    # a wheel that is missing (or of another version) falls back to the checkout's line
    assert install_line("abstractllm-hf-api") == checkout_line("abstractllm-hf-api")


def test_the_checkout_line_runs_in_a_shell_as_it_is(tmp_path: Path) -> None:
    """The comment after the command is a shell comment: pasting the whole line runs only the command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    for tool in ("hatch", "pip"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", "-c", checkout_line("abstractllm-hf-gguf")], env=env, timeout=30, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["hatch run dist:wheels", "pip install --find-links dist abstractllm-hf-gguf"]


def test_missing_backend_error_and_cli_lead_with_the_working_line(tmp_path: Path) -> None:
    """A core without backends (a venv with core alone, as pip installs it from ``--find-links``):
    the error and ``abstractllm plugins`` start with the line that works, never a bare one."""
    code = """
        import sys
        from abstractllm._private import install_hint
        install_hint._core_source = lambda: None   # as pip leaves a --find-links install
        from abstractllm._private.plugins import get_plugins
        get_plugins().backends.clear()
        from abstractllm import create_llm
        from abstractllm.errors import BackendNotInstalledError
        try:
            create_llm("huggingface", model_path="/nowhere/model.gguf")
        except BackendNotInstalledError as exc:
            print(str(exc))
            print(exc.install)
        from abstractllm.cli import main
        main(["plugins"])
    """
    result = _python(code, tmp_path)
    message, install, hint = result.stdout.strip().splitlines()
    assert install == checkout_line("abstractllm-hf-gguf")
    assert message.endswith(f"run: {install}")
    every = checkout_line("abstractllm-hf-api", "abstractllm-hf-gguf", "abstractllm-hf-pipeline")
    assert hint == f"no backends installed; try: {every}"
    assert not BARE.search(result.stdout)


def test_quantization_without_bitsandbytes_names_the_line_for_this_install(tiny_models: Any) -> None:
    from abstractllm_hf_pipeline.loading import QUANTIZATION_EXTRA

    code = f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "bitsandbytes" or name.startswith("bitsandbytes."):
                    raise ImportError("bitsandbytes is not installed")
        sys.meta_path.insert(0, Block())
        from abstractllm import create_llm
        from abstractllm.errors import BackendNotInstalledError
        try:
            create_llm("huggingface", model={str(tiny_models.pipeline_dir)!r}, quantization="4bit")
        except BackendNotInstalledError as exc:
            print(exc)
            print(exc.install)
    """
    result = _python(code, REPO)
    message, install = result.stdout.strip().splitlines()
    assert install == install_line(QUANTIZATION_EXTRA)
    assert message.endswith(f"run: {install}") and not BARE.search(result.stdout)


def test_no_page_shows_a_bare_install_line() -> None:
    """README, docs and the package READMEs (the generated Modes table included)."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "packages").glob("*/README.md"))]
    lines = [(page, line) for page in pages for line in page.read_text().splitlines()]
    found = [f"{page.relative_to(REPO)}: {line.strip()}" for page, line in lines if BARE.search(line)]
    assert not found, "bare install lines (the distributions are on no index):\n" + "\n".join(found)
    page = (REPO / "docs" / "configuration.md").read_text()
    assert f"| `gguf` | `{find_links_line('abstractllm-hf-gguf')}` |" in page
