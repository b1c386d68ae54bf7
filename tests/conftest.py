"""Cross-package fixtures (the tiny models come from the repository's root conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def fake_server_module() -> object:
    """The API package's in-repo HTTP test server (a real server on loopback), loaded from its tests."""
    import importlib.util
    import sys

    name = "abstractllm_tests_fake_hf_server"
    if name not in sys.modules:
        path = REPO / "packages" / "abstractllm-hf-api" / "tests" / "fake_hf_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def router() -> object:
    """A fresh test server speaking the HF router, OpenAI and TGI routes, stopped after the module."""
    server = fake_server_module().FakeServer().start()  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(tiny_models: object, tmp_path_factory: pytest.TempPathFactory) -> object:
    """The fault suite's models (every mode) and session (``tests/fault_world.py``), loaded for one
    module and unloaded after it, so that later tests see no shared model left in use."""
    from tests.fault_world import open_world

    server = fake_server_module().FakeServer().start()  # type: ignore[attr-defined]
    try:
        with open_world(tiny_models, server, tmp_path_factory.mktemp("bad-files")) as loaded:
            yield loaded
    finally:
        server.stop()


@pytest.fixture(scope="module")
def full_footprint(tiny_models: Any) -> int:
    """Memory footprint of the tiny model loaded at full precision (float32 on the CPU)."""
    from abstractllm import create_llm

    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu") as llm:
        return footprint(llm)


def footprint(llm: Any) -> int:
    return int(llm.backend.loaded.model.get_memory_footprint())


@pytest.fixture(scope="session")
def family_models(tiny_models: Any) -> dict[str, tuple[Path, Path]]:
    """Per tool-call family (``tests/tool_family_cases.py``): the tiny model with the family's special tokens
    and published template, as ``(transformers folder, GGUF file)`` (``tinymodel.families``), built once."""
    from tests.tool_family_cases import CASES
    from tinymodel.families import build_family_model

    root = REPO / ".cache" / "tiny-models" / "families"
    return {case.name: build_family_model(tiny_models.pipeline_dir, root, case.name, case.template_text()) for case in CASES}
