"""Installing from a checkout, as the README says: ``hatch run dist:wheels`` builds the four wheels,
and the documented pip lines install them in fresh venvs; the missing-backend error names a line
that works for how abstractllm-core was installed (``abstractllm._private.install_hint``).

Each venv is made with this interpreter's ``venv`` module and removed afterwards; pip reaches the
package index for the third-party dependencies (httpx, torch, ...), and the environment's
``PIP_CONSTRAINT`` (torch pinned to the local CPU wheel) applies to it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import abstractllm
from abstractllm._private.install_hint import checkout_line, install_line

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
#: What the API-only install must not bring (the slim install's promise).
HEAVY = ("torch", "transformers", "numpy", "llama_cpp", "huggingface_hub")

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """This environment without hatch's markers of the active env (so a nested hatch and pip see none)."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "HATCH_ENV_ACTIVE", "PYTHONPATH")}


def run(*command: str | Path, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=_env())
    return result


def ok(*command: str | Path, timeout: float = 600) -> str:
    result = run(*command, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


class Venv:
    """A fresh virtual environment in ``path``."""

    def __init__(self, path: Path) -> None:
        ok(sys.executable, "-m", "venv", path, timeout=120)
        self.path = path
        self.python = path / "bin" / "python"

    def pip(self, *args: str, timeout: float = 1800) -> str:
        return ok(self.python, "-m", "pip", "--disable-pip-version-check", *args, timeout=timeout)

    def pip_line(self, line: str, timeout: float = 1800) -> str:
        """Run a documented ``pip install ...`` line with this venv's pip."""
        words = shlex.split(line)
        assert words[:2] == ["pip", "install"], line
        return self.pip("install", "--quiet", *words[2:], timeout=timeout)

    def installed(self) -> set[str]:
        listed = json.loads(self.pip("list", "--format", "json", timeout=120))
        return {entry["name"].lower().replace("_", "-") for entry in listed}

    def script(self, code: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(self.python, "-c", textwrap.dedent(code), timeout=timeout, cwd=self.path)


@pytest.fixture()
def venv(tmp_path: Path) -> Iterator[Venv]:
    made = Venv(tmp_path / "venv")
    yield made
    shutil.rmtree(made.path, ignore_errors=True)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheels, built by the README's command into a temporary folder."""
    hatch = shutil.which("hatch")
    if hatch is None:
        pytest.skip("hatch is not on PATH (python3 -m pip install hatch)")
    out = tmp_path_factory.mktemp("dist")
    result = run(hatch, "run", "dist:wheels", out, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    version = abstractllm.__version__
    wheels = [f"abstractllm_{name}-{version}-py3-none-any.whl" for name in ("core", "hf_api", "hf_gguf", "hf_pipeline")]
    assert sorted(path.name for path in out.iterdir()) == wheels
    assert [line for line in result.stdout.splitlines() if line.startswith("wrote ")] == [f"wrote {out / w}" for w in wheels]
    return out


def missing_backend_hint(venv: Venv, **config: str) -> str:
    """The ``install`` line of the BackendNotInstalledError that ``create_llm(**config)`` raises in ``venv``."""
    result = venv.script(
        f"""
        from abstractllm import create_llm
        from abstractllm.errors import BackendNotInstalledError
        try:
            create_llm("huggingface", **{config!r})
        except BackendNotInstalledError as exc:
            print(exc.install)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_api_only_install_brings_no_torch(venv: Venv, dist: Path) -> None:
    venv.pip("install", "--quiet", "--find-links", str(dist), "abstractllm-core", "abstractllm-hf-api")
    installed = venv.installed()
    assert {"abstractllm-core", "abstractllm-hf-api", "httpx"} <= installed
    assert not installed & {"torch", "transformers", "numpy", "llama-cpp-python", "huggingface-hub"}
    found = venv.script(f"import importlib.util; print([m for m in {HEAVY!r} if importlib.util.find_spec(m)])")
    assert found.stdout.strip() == "[]", found.stderr
    plugins = json.loads(ok(venv.path / "bin" / "abstractllm", "plugins", "--json"))
    modes = {(b["mode"], b["distribution"], b["version"]) for b in plugins["backends"]}
    version = abstractllm.__version__
    assert modes == {("api", "abstractllm-hf-api", version), ("endpoint", "abstractllm-hf-api", version)}
    # Installed with --find-links (pip records no path), run away from the wheels: the checkout's line.
    hint = missing_backend_hint(venv, model_path="/nowhere/model.gguf")
    assert hint == checkout_line("abstractllm-hf-gguf")
    cli = run(venv.path / "bin" / "abstractllm", "generate", "--model-path", "/nowhere/model.gguf", "hi")
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and hint in cli.stderr


def test_a_wheel_installed_by_path_names_its_folder_and_that_line_works(venv: Venv, dist: Path) -> None:
    core = next(dist.glob("abstractllm_core-*.whl"))
    venv.pip("install", "--quiet", str(core))
    hint = missing_backend_hint(venv, inference_api_url="http://127.0.0.1:1")
    assert hint == f"pip install --find-links {dist} abstractllm-hf-api"
    venv.pip_line(hint)
    plugins = json.loads(ok(venv.path / "bin" / "abstractllm", "plugins", "--json"))
    assert {b["mode"] for b in plugins["backends"]} == {"api", "endpoint"}


def test_an_editable_checkout_names_the_sibling_folder() -> None:
    from importlib import metadata

    record = json.loads(metadata.distribution("abstractllm-core").read_text("direct_url.json") or "{}")
    if not record.get("dir_info", {}).get("editable") or record.get("url") != (PACKAGES / "abstractllm-core").as_uri():
        pytest.skip("abstractllm-core is not installed editable from this checkout")
    assert install_line("abstractllm-hf-gguf") == f"pip install -e {PACKAGES / 'abstractllm-hf-gguf'}"
    assert install_line("abstractllm-hf-pipeline[quantization]") == (
        f"pip install -e '{PACKAGES / 'abstractllm-hf-pipeline'}[quantization]'"
    )


FULL_RUN = """
    import json
    from abstractllm import create_llm
    replies = {{}}
    for mode, config in (("gguf", {{"model_path": {gguf!r}}}), ("pipeline", {{"model": {folder!r}, "device": "cpu"}})):
        llm = create_llm("huggingface", **config)
        replies[mode] = [llm.mode, str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8))]
        llm.unload()
    print(json.dumps(replies))
"""


def test_the_huggingface_extra_installs_every_backend_and_runs_them(venv: Venv, dist: Path, tiny_models: Any) -> None:
    """``pip install --find-links dist "abstractllm-core[huggingface]"``: torch stays the constrained
    CPU wheel (PIP_CONSTRAINT); llama-cpp-python comes from pip's wheel cache once built."""
    venv.pip_line(f"pip install --find-links {dist} 'abstractllm-core[huggingface]'", timeout=3600)
    installed = venv.installed()
    assert {"abstractllm-hf-pipeline", "abstractllm-hf-gguf", "abstractllm-hf-api", "torch", "llama-cpp-python"} <= installed
    result = venv.script(FULL_RUN.format(gguf=str(tiny_models.gguf_f32), folder=str(tiny_models.pipeline_dir)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "gguf": ["gguf", " Paris."],
        "pipeline": ["pipeline", " Paris."],
    }
