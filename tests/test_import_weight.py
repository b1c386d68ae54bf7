"""Importing abstractllm, and discovering every installed plugin, imports no heavy dependency."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "llama_cpp", "numpy", "httpx", "huggingface_hub", "accelerate", "llguidance")


def imported_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_import_abstractllm_is_light() -> None:
    modules = imported_after("import abstractllm")
    assert not modules & set(HEAVY)
    assert "pluggy" not in modules  # even the plugin machinery waits for first use


def test_plugin_discovery_and_public_names_are_light() -> None:
    modules = imported_after(
        "from abstractllm import create_llm, Session, ModelCapability, AbstractLLMInterface\n"
        "from abstractllm._private.plugins import get_plugins\n"
        "plugins = get_plugins()\n"
        "assert not plugins.broken, plugins.broken\n"
    )
    assert not modules & set(HEAVY), modules & set(HEAVY)


def _mode_modules(code: str, tiny_models: object) -> set[str]:
    setup = (
        "import sys\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[1])!r})\n"
        "from pathlib import Path\n"
        "from tinymodel import ensure_tiny_models\n"
        f"models = ensure_tiny_models(Path({str(tiny_models.root.parent)!r}))\n"  # type: ignore[attr-defined]
        "before = set(sys.modules)\n"
        "from abstractllm import create_llm\n"
    )
    probe = setup + code + "\nimport json\nprint(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_each_mode_imports_only_its_own_dependencies(tiny_models: object) -> None:
    pipeline = _mode_modules(
        "create_llm('huggingface', model=str(models.pipeline_dir), device='cpu').generate('Hi', max_tokens=1)", tiny_models
    )
    assert {"torch", "transformers"} <= pipeline
    assert not pipeline & {"llama_cpp", "httpx"}

    gguf = _mode_modules("create_llm('huggingface', model_path=str(models.gguf_f32)).generate('Hi', max_tokens=1)", tiny_models)
    assert "llama_cpp" in gguf
    assert not gguf & {"torch", "transformers", "httpx", "accelerate"}

    api = _mode_modules("create_llm('huggingface', inference_api_url='http://127.0.0.1:9/v1', protocol='openai')", tiny_models)
    assert not api & {"torch", "transformers", "llama_cpp", "numpy", "huggingface_hub", "accelerate", "llguidance"}


def test_create_llm_in_api_mode_skips_slow_standard_modules() -> None:
    """Standard modules that cost start-up time and that ``create_llm`` in API mode does not need
    (measured by benchmarks/bench_startup.py) wait for the first request that needs them."""
    code = "create_llm('huggingface', model='org/model', use_inference_api=True, api_key='hf_x')"
    probe = f"from abstractllm import create_llm\n{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "abstractllm_hf_api.loading" in modules
    # (pathlib is left out: the other backends' plugin modules, installed here, import it.)
    slow = {"asyncio", "httpcore", "httpx", "email", "difflib", "uuid", "datetime", "random", "importlib.metadata"}
    assert not modules & slow, modules & slow
