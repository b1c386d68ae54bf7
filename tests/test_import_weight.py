"""Importing abstractllm, and discovering every installed plugin, imports no heavy dependency."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "llama_cpp", "numpy", "httpx", "huggingface_hub", "accelerate", "xgrammar")


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
        "from abstractllm.plugins import get_plugins\n"
        "plugins = get_plugins()\n"
        "assert not plugins.broken, plugins.broken\n"
    )
    assert not modules & set(HEAVY), modules & set(HEAVY)
