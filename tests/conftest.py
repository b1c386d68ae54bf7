"""Cross-package fixtures: the project's tiny models, built once and cached in .cache/."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_models() -> object:
    from tinymodel import ensure_tiny_models

    return ensure_tiny_models(REPO / ".cache" / "tiny-models")
