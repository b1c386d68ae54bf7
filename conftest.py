"""Fixtures for every test in the repository: the project's tiny models, built once and cached in .cache/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinymodel import TinyModels, ensure_tiny_models

REPO = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_models() -> TinyModels:
    return ensure_tiny_models(REPO / ".cache" / "tiny-models")
