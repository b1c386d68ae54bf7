"""Every code block of docs/*.md and the README runs, against the project's tiny models and in-repo test server.

A page's ``python`` blocks build on one another (a later block uses the ``llm`` an earlier one
made), so each page runs as one script, its blocks in order, in a fresh Python process with
``HF_HUB_OFFLINE=1`` and a temporary ``HF_HOME`` whose hub cache holds the tiny GGUF repo. The code
is the page's, changed only by the rows of :data:`SUBSTITUTIONS` (page, text, replacement, why),
each of which must still match its page. docs/plugins.md's blocks are the files of the example
plugin that tests/test_third_party_plugins.py installs and runs, byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tinymodel.hub_cache import install_in_hub_cache

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PLUGIN = REPO / "tests" / "plugins" / "abstractllm-ngram"
GGUF_REPO = "abstractllm-test/tiny-llama-GGUF"


@dataclass(frozen=True)
class Substitution:
    page: str
    text: str
    replacement: str  # {pipeline}, {gguf}, {gguf_q8}, {model_bin} and {server} are filled in at run time
    reason: str


_NO_DOWNLOAD = "hub ids become the tiny transformers model's folder (nothing can be downloaded here)"
_SERVER = "the in-repo test server on loopback stands in for the remote server"

SUBSTITUTIONS = [
    Substitution("README.md", '"Qwen/Qwen2.5-0.5B-Instruct"', '"{pipeline}"', _NO_DOWNLOAD),
    Substitution(
        "README.md",
        'model="TheBloke/Llama-2-7B-GGUF", filename="*Q4_K_M.gguf"',
        f'model="{GGUF_REPO}", filename="*q8_0.gguf"',
        "the tiny GGUF repo, installed in the temporary hub cache (offline)",
    ),
    Substitution("pipeline.md", '"Qwen/Qwen2.5-0.5B-Instruct"', '"{pipeline}"', _NO_DOWNLOAD),
    Substitution("pipeline.md", '"google/gemma-2b"', '"{pipeline}"', _NO_DOWNLOAD),
    Substitution("pipeline.md", '"meta-llama/Llama-2-7b-hf"', '"{pipeline}"', _NO_DOWNLOAD),
    Substitution("configuration.md", '"org/name"', '"{pipeline}"', _NO_DOWNLOAD),
    Substitution("gguf.md", '"/models/llama-3.2-1b.Q4_K_M.gguf"', '"{gguf}"', "the tiny GGUF file"),
    Substitution(
        "gguf.md",
        'model="TheBloke/Llama-2-7B-GGUF", filename="*Q4_K_M.gguf"',
        f'model="{GGUF_REPO}", filename="*q8_0.gguf"',
        "the tiny GGUF repo, installed in the temporary hub cache (offline)",
    ),
    Substitution("gguf.md", '"/models/model.bin"', '"{model_bin}"', "a copy of the tiny GGUF named model.bin"),
    Substitution("gguf.md", '"/models/qwen2.5-0.5b-instruct-q8_0.gguf"', '"{gguf_q8}"', "the tiny q8_0 GGUF file"),
    Substitution(
        "api.md",
        "use_inference_api=True)  # token from HF_TOKEN",
        'use_inference_api=True, api_base_url="{server}", api_key="hf_docs_example_token")',
        _SERVER + "; a token from the environment is sent only to HuggingFace's own https hosts, so it is passed",
    ),
    Substitution("api.md", "use_inference_api=True,\n", 'use_inference_api=True,\n    api_base_url="{server}",\n', _SERVER),
    Substitution("endpoints.md", '"http://127.0.0.1:8080"', '"{server}"', _SERVER),
    Substitution("endpoints.md", '"http://gpu-box:8000/v1"', '"{server}/v1"', _SERVER),
    Substitution("endpoints.md", '"http://tgi:80"', '"{server}"', _SERVER),
    Substitution("endpoints.md", '"http://127.0.0.1:8080/v1/chat/completions"', '"{server}/v1/chat/completions"', _SERVER),
    Substitution("endpoints.md", '"https://xyz.us-east-1.aws.endpoints.huggingface.cloud"', '"{server}"', _SERVER),
]


def blocks(page: str) -> list[str]:
    path = REPO / page if page == "README.md" else DOCS / page
    return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)]


RUNNABLE = ["README.md", *sorted(path.name for path in DOCS.glob("*.md") if path.name != "plugins.md" and blocks(path.name))]


@pytest.fixture(scope="module")
def places(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory, router: Any) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("docs")
    install_in_hub_cache(tiny_models.gguf_q8_0.parent, root / "hf-home", GGUF_REPO)
    shutil.copyfile(tiny_models.gguf_f32, root / "model.bin")
    yield {
        "pipeline": str(tiny_models.pipeline_dir),
        "gguf": str(tiny_models.gguf_f32),
        "gguf_q8": str(tiny_models.gguf_q8_0),
        "model_bin": str(root / "model.bin"),
        "server": router.url,
        "hf_home": str(root / "hf-home"),
    }


def script(page: str, places: dict[str, str]) -> str:
    code = "\n".join(blocks(page))
    for row in SUBSTITUTIONS:
        if row.page == page:
            assert row.text in code, f"{page} no longer has {row.text!r}: update SUBSTITUTIONS"
            code = code.replace(row.text, row.replacement.format(**places))
    return code


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE)
def test_every_python_block_of_the_page_runs(page: str, places: dict[str, str], router: Any) -> None:
    router.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "HUGGINGFACE_API_KEY"}
    env.update(HF_HOME=places["hf_home"], HF_HUB_OFFLINE="1", HF_TOKEN="hf_docs_example_token")
    result = subprocess.run(
        [sys.executable, "-c", script(page, places)], capture_output=True, text=True, timeout=600, env=env, cwd=REPO
    )
    assert result.returncode == 0, f"{page}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


def test_every_substitution_belongs_to_a_page_with_code() -> None:
    assert {row.page for row in SUBSTITUTIONS} <= set(RUNNABLE)


def test_the_plugin_guide_shows_the_example_plugin_that_is_tested() -> None:
    shown = blocks("plugins.md")
    files = [PLUGIN / "src" / "abstractllm_ngram" / "__init__.py", PLUGIN / "conformance_check.py"]
    assert shown[: len(files)] == [path.read_text(encoding="utf-8") for path in files]
    # The last block is the kit's fixture mechanism for a backend of one's own: it defines a test class.
    namespace: dict[str, Any] = {}
    exec(
        "from abstractllm import AbstractLLMInterface, create_llm\nfrom abstractllm.testing import BackendConformance\n"
        + shown[-1],
        namespace,
    )
    assert namespace["TestMyEndpoint"].fixtures == ("my_server_url",)
