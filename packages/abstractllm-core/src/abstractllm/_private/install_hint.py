"""The ``pip install`` line that works for how abstractllm-core itself was installed.

The distributions are installed three ways, and the line that adds one more differs:

* from a checkout's folder (``hatch``, ``pip install -e packages/…``, or without ``-e``):
  ``pip install [-e] <checkout>/packages/<distribution>``;
* a wheel file given to pip by path (``pip install dist/abstractllm_core-….whl``): ``pip
  install --find-links <that folder> <distribution>``;
* anything else (an index, or ``--find-links``, which pip does not record): ``pip install
  <distribution>``, followed by the way to do it from a checkout.

pip records the first two in the distribution's ``direct_url.json`` (PEP 610).
"""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["install_line"]

CORE = "abstractllm-core"
#: What to run from a checkout of the project when the packages came from neither an index nor a path.
FROM_CHECKOUT = "from a checkout of the project: hatch run dist:wheels, then pip install --find-links dist {requirements}"


def install_line(*requirements: str) -> str:
    """The command that installs ``requirements`` (sibling distributions, possibly with extras,
    such as ``abstractllm-hf-gguf`` or ``abstractllm-hf-pipeline[quantization]``) beside this
    abstractllm-core."""
    names = " ".join(_quoted(requirement) for requirement in requirements)
    source = _core_source()
    if source is None:
        return f"pip install {names} ({FROM_CHECKOUT.format(requirements=names)})"
    kind, where = source
    if kind == "wheel":
        return f"pip install --find-links {where} {names}"
    flag = "-e " if kind == "editable" else ""
    folders = " ".join(flag + _quoted(_in_folder(where, requirement)) for requirement in requirements)
    return f"pip install {folders}"


def _in_folder(folder: Path, requirement: str) -> str:
    """``<folder>/<distribution>[extras]``."""
    name, bracket, extras = requirement.partition("[")
    return f"{folder / name}{bracket}{extras}"


def _quoted(text: str) -> str:
    """Quoted for a POSIX shell when it holds more than name and path characters (extras' brackets)."""
    return text if re.fullmatch(r"[A-Za-z0-9_./:@+=-]+", text) else shlex.quote(text)


@lru_cache(maxsize=1)
def _core_source() -> tuple[str, Path] | None:
    """(how, folder) from core's ``direct_url.json``: ("editable" or "folder", the folder holding
    the checkout's packages) or ("wheel", the wheel's folder); None when pip recorded no local path."""
    from importlib import metadata  # on use: importing it costs every start-up about 35 ms

    try:
        text = metadata.distribution(CORE).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    url = urlparse(str(record.get("url", "")))
    if url.scheme != "file":
        return None
    path = Path(unquote(url.path))
    if "dir_info" in record:
        return ("editable" if record["dir_info"].get("editable") else "folder"), path.parent
    if path.suffix == ".whl":
        return "wheel", path.parent
    return None
