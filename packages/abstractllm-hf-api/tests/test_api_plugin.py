"""The plugin: discovery, declared modes and options, and slim imports."""

from __future__ import annotations

import subprocess
import sys

from abstractllm._private.plugins import get_plugins
from abstractllm_hf_api.plugin import API_INFO, ENDPOINT_INFO


def test_modes_are_declared_by_this_distribution() -> None:
    plugins = get_plugins(reload=True)
    for mode in ("api", "endpoint"):
        installed = plugins.modes("huggingface")[mode]
        assert installed.distribution == "abstractllm-hf-api"
        assert installed.info.install == "pip install abstractllm-hf-api"
    assert {"provider", "api_base_url", "max_retries", "timeout", "api_key"} <= set(API_INFO.load_options)
    assert {"protocol", "allow_insecure_token", "inference_api_url", "endpoint_url"} <= set(ENDPOINT_INFO.load_options)
    assert "vllm" in ENDPOINT_INFO.aliases and "inference_api" in API_INFO.aliases


def test_import_and_discovery_import_no_httpx() -> None:
    code = (
        "import sys, abstractllm\n"
        "from abstractllm._private.plugins import get_plugins\n"
        "get_plugins()\n"
        "bad = [m for m in ('httpx', 'torch', 'transformers', 'numpy', 'llama_cpp') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_model_type_aliases_route_here(fake: object) -> None:
    from abstractllm import create_llm

    url = fake.url  # type: ignore[attr-defined]
    llm = create_llm("huggingface", model_type="vllm", inference_api_url=url, protocol="openai")
    assert llm.mode == "endpoint"
    llm.unload()
