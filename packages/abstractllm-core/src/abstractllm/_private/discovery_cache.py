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

The cache never widens what gets imported. A file is read only when it is a regular file (not a
symbolic link) owned by the current user and writable by no one else (on POSIX), as CPython trusts
its own caches; its shape is checked field by field; and every entry point it names must be declared,
with that name and value, in the ``entry_points.txt`` of the distribution of that name and version
that a scan finds first on ``sys.path``. Anything else means a full scan, whose result replaces
the file (a file of another user in a shared folder cannot be replaced, and stays ignored).

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
import re
import stat
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CACHE_DIR_VARIABLE", "FoundEntryPoint", "cache_dir", "entry_points"]

logger = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "ABSTRACTLLM_CACHE_DIR"
FORMAT = 2  # 2: the shape and the declaring distributions are checked on read
KEPT_FILES = 16  # one file per interpreter and sys.path; older ones are removed beyond this
RACY_SECONDS = 2.0  # a timestamp this close to the scan may not show a change made just after it
FIELDS = frozenset({"name", "value", "distribution", "version"})


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
    cached = _read(path, group, fingerprint)
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


def _read(path: str, group: str, fingerprint: list[Any]) -> list[FoundEntryPoint] | None:
    """The cached entry points, or None when the file is missing, untrusted, unreadable, corrupt, of
    another format or stale, or names an entry point no installed distribution declares."""
    try:
        content = _own_file(path)
        if content is None:
            return None
        data = json.loads(content)
        if not isinstance(data, dict) or type(data.get("format")) is not int or data["format"] != FORMAT:
            logger.debug("entry-point cache %s is of another format", path)
            return None
        if data.get("fingerprint") != fingerprint:
            logger.debug("entry-point cache %s is stale", path)
            return None
        found = _shaped(data.get("entry_points"))
        if found is None:
            logger.debug("entry-point cache %s is corrupt: entry_points is not a list of string fields %s", path, sorted(FIELDS))
            return None
        undeclared = _undeclared(found, group, fingerprint)
        if undeclared is not None:
            logger.debug("entry-point cache %s names %s, which no installed distribution declares", path, undeclared)
            return None
        return found
    except FileNotFoundError:
        return None
    except Exception as exc:  # unreadable or corrupt: the scan replaces it
        logger.debug("entry-point cache %s is unusable (%s: %s)", path, type(exc).__name__, exc)
        return None


def _own_file(path: str) -> bytes | None:
    """The bytes of ``path`` when it is a regular file owned by this user and writable by no one else
    (on POSIX; elsewhere owner and mode bits are not checked); None, logged at DEBUG, otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: a symbolic link, which O_NOFOLLOW refuses
        logger.debug("entry-point cache %s is not read (%s)", path, exc)
        return None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())  # the file opened, not whatever the name points to now
        if not stat.S_ISREG(status.st_mode):
            logger.debug("entry-point cache %s is not a regular file; not trusted", path)
            return None
        if not hasattr(os, "geteuid"):  # not POSIX: no owner to compare, and the mode bits do not say who may write
            return file.read()
        if status.st_uid != os.geteuid():
            logger.debug("entry-point cache %s is owned by uid %d, not this user; not trusted", path, status.st_uid)
            return None
        if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            logger.debug("entry-point cache %s is writable by others (mode %o); not trusted", path, status.st_mode & 0o777)
            return None
        return file.read()


def _shaped(entries: object) -> list[FoundEntryPoint] | None:
    """``entries`` as entry points when it is a list of objects of exactly FIELDS, each a string."""
    if not isinstance(entries, list):
        return None
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.keys() != FIELDS or not all(type(value) is str for value in entry.values()):
            return None
        found.append(FoundEntryPoint(**entry))
    return found


def _undeclared(found: list[FoundEntryPoint], group: str, fingerprint: list[Any]) -> str | None:
    """The first of ``found`` that its distribution does not declare, described; None when all are declared.

    A distribution is the first metadata folder of its (normalized) name on ``sys.path``, as a scan
    keeps it; its ``METADATA`` (``PKG-INFO``) must give that name and version, and its
    ``entry_points.txt`` the entry point in ``group``."""
    folders: dict[str, str] = {}
    for entry, state in fingerprint[2]:
        if isinstance(state, list):  # a folder's metadata folders; a zip file's distributions are not checked
            for name, _, _ in state:
                folders.setdefault(_normalized(name.rpartition(".")[0].partition("-")[0]), os.path.join(entry, name))
    declared: dict[str, tuple[str, str, set[tuple[str, str]]]] = {}
    for point in found:
        folder = folders.get(_normalized(point.distribution))
        if folder is None:
            return f"{point.name} = {point.value} of {point.distribution} (no such distribution on sys.path)"
        if folder not in declared:
            declared[folder] = _declarations(folder, group)
        name, version, points = declared[folder]
        if (name, version) != (point.distribution, point.version) or (point.name, point.value) not in points:
            return f"{point.name} = {point.value} of {point.distribution} {point.version} (not declared by {folder})"
    return None


def _normalized(name: str) -> str:
    """A distribution name as metadata folders are matched to it (PEP 503, with underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _declarations(folder: str, group: str) -> tuple[str, str, set[tuple[str, str]]]:
    """The Name and Version headers of a metadata folder, and the ``(name, value)`` pairs of ``group``
    in its ``entry_points.txt``, read as ``importlib.metadata`` reads them."""
    headers: dict[str, str] = {}
    metadata = "METADATA" if folder.lower().endswith("dist-info") else "PKG-INFO"
    with open(os.path.join(folder, metadata), encoding="utf-8") as file:
        for line in file:
            if not line.strip():
                break  # the headers end at the first blank line
            key, colon, value = line.partition(":")
            if colon and key in ("Name", "Version"):
                headers.setdefault(key, value.strip())
    pairs: set[tuple[str, str]] = set()
    with contextlib.suppress(FileNotFoundError), open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as file:
        section = None
        for raw in file.read().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line.strip("[]")
            elif section == group:
                name, value = line.split("=", 1)
                pairs.add((name.strip(), value.strip()))
    return headers.get("Name", ""), headers.get("Version", ""), pairs


def _write(path: str, fingerprint: list[Any], found: list[FoundEntryPoint]) -> None:
    """Replace ``path`` atomically; a folder that cannot be written is logged at DEBUG and skipped."""
    import tempfile  # only on a miss: it is not otherwise imported at start-up

    data = {"format": FORMAT, "fingerprint": fingerprint, "entry_points": [asdict(entry) for entry in found]}
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
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
