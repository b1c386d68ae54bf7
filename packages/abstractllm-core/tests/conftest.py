"""Core tests run against the third-party n-gram plugin from tests/plugins, registered in-process.

(The entry-point path of the same plugin is proven in tests/test_third_party_plugins.py.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLUGINS = REPO / "tests" / "plugins"
sys.path.insert(0, str(PLUGINS / "abstractllm-ngram" / "src"))  # the example plugin, importable while tests are collected


@pytest.fixture(scope="session")
def ngram_plugin() -> Iterator[None]:
    import abstractllm_ngram
    from abstractllm._private.plugins import get_plugins

    plugins = get_plugins()
    registered = False
    if ("ngram", "bigram") not in plugins.backends:
        registered = plugins.register(abstractllm_ngram, "ngram-test", "abstractllm-ngram", "0.1.0")
    yield
    if registered:
        plugins.unregister("ngram-test")


@pytest.fixture
def ngram(ngram_plugin: None) -> Iterator[object]:
    from abstractllm import create_llm

    llm = create_llm("ngram")
    yield llm
    llm.unload()
