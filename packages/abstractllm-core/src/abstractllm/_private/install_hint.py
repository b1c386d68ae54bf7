"""The ``pip install`` line that works for how abstractllm-core itself was installed.

The distributions are not on any package index yet, so a bare ``pip install <distribution>``
fails; the line given is one that works:

* core installed from a checkout's folder (``hatch``, ``pip install -e packages/…``, or without
  ``-e``): ``pip install [-e] <checkout>/packages/<distribution>``;
* core installed from a wheel file given to pip by path (``pip install dist/abstractllm_core-….whl``):
  ``pip install --find-links <that folder> <distribution>``;
* anything else (``--find-links``, which pip does not record): ``pip install --find-links
  <folder> <distribution>`` when the current directory's ``dist/`` holds the wheels, else the
  checkout's line, :func:`checkout_line`: ``hatch run dist:wheels && pip install --find-links dist
  <distribution>``, with a shell comment saying where to run it.

pip records the first two in the distribution's ``direct_url.json`` (PEP 610). Every hint,
error and generated page that names an install line takes it from here.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["BUILD_WHEELS", "checkout_line", "find_links_line", "install_line"]

CORE = "abstractllm-core"
#: The command that builds the four wheels into ``dist/`` in a checkout of the project.
BUILD_WHEELS = "hatch run dist:wheels"
#: Said after the checkout's line (a shell comment, so the line can be pasted as it is).
CHECKOUT_NOTE = "in a checkout of the project; its distributions are not on PyPI yet"


def install_line(*requirements: str) -> str:
    """The command that installs ``requirements`` (sibling distributions, possibly with extras,
    such as ``abstractllm-hf-gguf`` or ``abstractllm-hf-pipeline[quantization]``) beside this
    abstractllm-core; a line that can be pasted into a POSIX shell as it is."""
    source = _core_source()
    if source is None:
        dist = Path.cwd() / "dist"
        if all(_wheel_in(dist, requirement) for requirement in requirements):
            return find_links_line(*requirements, folder=str(dist))
        return checkout_line(*requirements)
    kind, where = source
    if kind == "wheel":
        return find_links_line(*requirements, folder=str(where))
    flag = "-e " if kind == "editable" else ""
    folders = " ".join(flag + _quoted(_in_folder(where, requirement)) for requirement in requirements)
    return f"pip install {folders}"


def find_links_line(*requirements: str, folder: str = "dist") -> str:
    """``pip install --find-links <folder> <requirements>``: the wheels in ``folder`` (and the
    package index for their third-party dependencies)."""
    names = " ".join(_quoted(requirement) for requirement in requirements)
    return f"pip install --find-links {_quoted(folder)} {names}"


def checkout_line(*requirements: str) -> str:
    """Build the wheels, then install ``requirements`` from them: the line for a checkout's root."""
    return f"{BUILD_WHEELS} && {find_links_line(*requirements)}  # {CHECKOUT_NOTE}"


def _wheel_in(folder: Path, requirement: str) -> bool:
    """Whether ``folder`` holds a wheel of ``requirement``'s distribution at core's version."""
    from abstractllm import __version__

    name = requirement.partition("[")[0].replace("-", "_")
    return (folder / f"{name}-{__version__}-py3-none-any.whl").is_file()


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
