"""An on-disk cache of one entry-point group, so start-up skips scanning every installed distribution.

``importlib.metadata.entry_points()`` reads the metadata of every distribution on ``sys.path``
(tens of milliseconds, plus about as much to import ``importlib.metadata`` itself). The cache
stores the group's entry points with a fingerprint of what that scan read: the interpreter,
every ``sys.path`` entry and, for each ``*.dist-info`` / ``*.egg-info`` in it, the times of that
folder and of its ``entry_points.txt`` (for a zip file on ``sys.path``, its time and size).
Installing or removing a distribution (editable installs and the ``.pth`` files that put source
trees on ``sys.path`` included) changes one of them, and a different fingerprint, an unreadable
or corrupt file, or another format means a full scan, whose result is then written again. A
scan is not written while a metadata folder is younger than ``RACY_SECONDS``: a change made in
the same clock tick after the scan would not change the fingerprint.

Contract: :func:`entry_points` returns what a full scan returns, in the same order. The cache
lives in ``ABSTRACTLLM_CACHE_DIR`` (default ``$XDG_CACHE_HOME/abstractllm`` or
``~/.cache/abstractllm``); it is written atomically, and a cache that cannot be read or
written only costs the scan, never an error.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import logging
import os
import stat
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CACHE_DIR_VARIABLE", "FoundEntryPoint", "cache_dir", "entry_points"]

logger = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "ABSTRACTLLM_CACHE_DIR"
FORMAT = 1
KEPT_FILES = 16  # one file per interpreter and sys.path; older ones are removed beyond this
RACY_SECONDS = 2.0  # a timestamp this close to the scan may not show a change made just after it


@dataclass(frozen=True)
class FoundEntryPoint:
    """One entry point of the group: its name, ``module:attr`` value, and the distribution that declares it."""

    name: str
    value: str
    distribution: str
    version: str

    def load(self) -> object:
        """Import the module and return the attribute the value names (the module itself without one)."""
        module, _, attribute = self.value.split("[", 1)[0].partition(":")
        target: object = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target


def cache_dir() -> str | None:
    """The folder of the cache: ``ABSTRACTLLM_CACHE_DIR``, else the user's cache folder + ``abstractllm``
    (``$XDG_CACHE_HOME`` when it is absolute, else ``~/.cache``); None when no home folder is known."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "abstractllm") if os.path.isabs(base) else None


def entry_points(group: str) -> list[FoundEntryPoint]:
    """The entry points of ``group``, from the cache when its fingerprint is current, else from a full scan."""
    if not _only_path_finder_resolves_distributions():
        logger.debug("a custom distribution finder is installed; scanning entry points without the cache")
        return _scan(group)
    folder = cache_dir()
    if folder is None:
        logger.debug("no cache folder (no home folder and no %s); scanning entry points", CACHE_DIR_VARIABLE)
        return _scan(group)
    fingerprint = _fingerprint(sys.path)
    path = os.path.join(folder, f"entry-points-{group}-{_key(fingerprint):08x}.json")
    cached = _read(path, fingerprint)
    if cached is not None:
        logger.debug("%d entry points of %r from the cache %s", len(cached), group, path)
        return cached
    scanned_at = time.time()
    found = _scan(group)
    logger.debug("%d entry points of %r from a scan of every distribution", len(found), group)
    if _newest_time(fingerprint) < scanned_at - RACY_SECONDS:
        _write(path, fingerprint, found)
    else:
        logger.debug("not caching entry points: a metadata folder changed in the last %.0f s", RACY_SECONDS)
    return found


def _only_path_finder_resolves_distributions() -> bool:
    """True when the fingerprint covers every place ``importlib.metadata`` looks (the standard path finder only)."""
    return all(finder is importlib.machinery.PathFinder or not hasattr(finder, "find_distributions") for finder in sys.meta_path)


def _fingerprint(path: list[Any]) -> list[Any]:
    """What a scan of ``path`` depends on: each entry's absolute path and timestamps (see the module docstring)."""
    return [sys.executable, sys.version, [_entry_state(entry) for entry in _absolute(path)]]


def _absolute(path: list[Any]) -> list[str]:
    """The entries of ``path`` as absolute strings ('' is the working folder); what is not a path is left out, as
    the import system leaves it out."""
    entries = []
    for entry in path:
        try:
            entries.append(os.path.abspath(os.fsdecode(entry) or "."))
        except (TypeError, ValueError):
            continue
    return entries


def _entry_state(entry: str) -> list[Any]:
    """``[entry, state]``: a folder's metadata folders with their times (not the folder's own time,
    which any new file changes), a zip file's time and size, or None when it is missing or unlistable."""
    try:
        status = os.stat(entry)
    except OSError:
        return [entry, None]
    if not stat.S_ISDIR(status.st_mode):  # a zip file on sys.path
        return [entry, {"mtime": status.st_mtime_ns, "size": status.st_size}]
    infos = []
    try:
        with os.scandir(entry) as children:
            for child in children:
                if child.name.lower().endswith(("dist-info", "egg-info")):
                    infos.append([child.name, _mtime(child.path), _mtime(os.path.join(child.path, "entry_points.txt"))])
    except OSError:
        return [entry, None]
    infos.sort()
    return [entry, infos]


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _newest_time(fingerprint: list[Any]) -> float:
    """The newest timestamp in ``fingerprint``, in seconds."""
    times = [0]
    for _, state in fingerprint[2]:
        if isinstance(state, dict):  # a zip file
            times.append(state["mtime"])
        else:
            for _, folder, file in state or ():
                times += [folder or 0, file or 0]
    return max(times) / 1e9


def _key(fingerprint: list[Any]) -> int:
    """A short name for the interpreter and ``sys.path`` (not the timestamps), so each keeps its own file."""
    paths = [fingerprint[0], *(state[0] for state in fingerprint[2])]
    return zlib.crc32("\0".join(paths).encode("utf-8", "surrogateescape"))


def _scan(group: str) -> list[FoundEntryPoint]:
    import importlib.metadata  # only on a miss: importing it costs as much as the scan

    found = []
    for entry_point in importlib.metadata.entry_points(group=group):
        dist = entry_point.dist
        distribution = dist.name if dist else "(unknown distribution)"
        found.append(FoundEntryPoint(entry_point.name, entry_point.value, distribution, dist.version if dist else ""))
    return found


def _read(path: str, fingerprint: list[Any]) -> list[FoundEntryPoint] | None:
    """The cached entry points, or None when the file is missing, unreadable, corrupt, of another format or stale."""
    try:
        with open(path, "rb") as file:
            data = json.loads(file.read())
        if data["format"] != FORMAT or data["fingerprint"] != fingerprint:
            logger.debug("entry-point cache %s is stale", path)
            return None
        return [FoundEntryPoint(**entry) for entry in data["entry_points"]]
    except FileNotFoundError:
        return None
    except Exception as exc:  # unreadable or corrupt: the scan replaces it
        logger.debug("entry-point cache %s is unusable (%s: %s)", path, type(exc).__name__, exc)
        return None


def _write(path: str, fingerprint: list[Any], found: list[FoundEntryPoint]) -> None:
    """Replace ``path`` atomically; a folder that cannot be written is logged at DEBUG and skipped."""
    import tempfile  # only on a miss: it is not otherwise imported at start-up

    data = {"format": FORMAT, "fingerprint": fingerprint, "entry_points": [asdict(entry) for entry in found]}
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".entry-points-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(folder)
    except (OSError, ValueError) as exc:  # ValueError: a name that cannot be encoded
        logger.debug("cannot write the entry-point cache %s (%s)", path, exc)


def _prune(folder: str) -> None:
    """Keep the KEPT_FILES most recently written cache files."""
    names = [name for name in os.listdir(folder) if name.startswith("entry-points-") and name.endswith(".json")]
    files = sorted((os.path.join(folder, name) for name in names), key=lambda file: _mtime(file) or 0, reverse=True)
    for old in files[KEPT_FILES:]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old)
