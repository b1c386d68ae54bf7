"""Fixtures for every test in the repository: the project's tiny models, built once and cached in .cache/.

``tinymodel`` (numpy, torch) is imported only when a test asks for the models, so the tests of a
package installed without them still collect and run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tinymodel import TinyModels

REPO = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_models() -> TinyModels:
    from tinymodel import ensure_tiny_models

    return ensure_tiny_models(REPO / ".cache" / "tiny-models")
