"""Session files: reading and validating them, and writing them atomically.

A session file is one JSON object (``Session.to_dict``). Reading validates it completely
before anything uses it; every problem is an ``InvalidArgumentError`` naming the file.
Writing goes to a temporary file beside the target that is then renamed over it, so a
crash at any moment leaves either the old file or the new one; temporaries left behind by
a process that died mid-write are removed by the next write to the same target.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from abstractllm.backend.messages import normalize_messages
from abstractllm.errors import InvalidArgumentError, ResourceExhaustedError

__all__ = ["check_session_id", "read_session_file", "session_path", "write_json_atomically"]

logger = logging.getLogger(__name__)

#: Letters, digits, '.', '_' and '-'; no leading dot (hidden files, '..'), no trailing dot
#: (Windows drops it), at most 128 characters.
_SAFE_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?")
#: Names Windows reserves for devices, whatever the extension.
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})
#: A temporary older than this is removed by the next write even if its writer may live.
_STALE_AFTER_SECONDS = 3600.0
#: Temporaries are ``.<file name>.<writer's pid>.<random>`` and this suffix.
_TEMPORARY_SUFFIX = ".abstractllm.tmp"
#: How often one process looks for stale temporaries in a folder, and when it last did.
_RESCAN_SECONDS = 60.0
_last_scan: dict[str, float] = {}


def check_session_id(session_id: Any, *, where: str) -> str:
    """``session_id`` when it is safe as a file name; raises ``InvalidArgumentError`` naming ``where``."""
    if isinstance(session_id, str) and _SAFE_ID.fullmatch(session_id) and session_id.split(".")[0].lower() not in _RESERVED:
        return session_id
    raise InvalidArgumentError(
        f"{where}: the session id {session_id!r} cannot be a file name; an id is 1 to 128 letters, digits,"
        " '.', '_' or '-' (not starting or ending with '.', not a device name such as 'con'), e.g. a UUID",
        parameter="id",
        value=session_id if isinstance(session_id, str) else type(session_id).__name__,
        allowed="letters, digits, '.', '_' and '-'",
    )


def session_path(directory: Path, session_id: str) -> Path:
    """``<directory>/<session_id>.json``, refused unless it lies inside ``directory``."""
    check_session_id(session_id, where=f"sessions in {directory}")
    path = directory / f"{session_id}.json"
    if path.resolve().parent != directory.resolve():
        raise InvalidArgumentError(
            f"{path} leads outside {directory} (a link?); remove it or use another sessions_dir",
            parameter="sessions_dir",
            value=str(directory),
        )
    return path


def read_session_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated state of a session file: id, times, system prompt, metadata, messages."""
    raw = _parse(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
        raise InvalidArgumentError(
            f"{path} is not a session file: it needs a JSON object with a 'messages' list", parameter="path", value=str(path)
        )
    try:
        session_id = raw.get("id")
        if session_id is None or session_id == "":
            session_id = str(uuid.uuid4())
        elif isinstance(session_id, int) and not isinstance(session_id, bool):
            session_id = str(session_id)
        check_session_id(session_id, where="'id'")
        messages = normalize_messages(raw["messages"]) if raw["messages"] else []
        created = _datetime(raw.get("created_at"), "created_at")
        updated = _datetime(raw.get("last_updated"), "last_updated") if raw.get("last_updated") else created
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise TypeError(f"'metadata' must be a JSON object, got {type(metadata).__name__}")
        system_prompt = raw.get("system_prompt")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise TypeError(f"'system_prompt' must be a string or null, got {type(system_prompt).__name__}")
    except (InvalidArgumentError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{path} has an invalid entry: {exc}", parameter="path", value=str(path)) from exc
    return {
        "id": session_id,
        "created_at": created,
        "last_updated": updated,
        "system_prompt": system_prompt,
        "metadata": dict(metadata),
        "messages": messages,
    }


def _parse(path: str | os.PathLike[str]) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidArgumentError(f"no session file at {path}", parameter="path", value=str(path)) from exc
    except RecursionError as exc:
        raise InvalidArgumentError(
            f"{path} is not a readable session file: it is nested too deeply", parameter="path", value=str(path)
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgumentError(f"{path} is not a readable session file: {exc}", parameter="path", value=str(path)) from exc


def _datetime(value: Any, field: str) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    if not isinstance(value, str):
        raise TypeError(f"'{field}' must be an ISO 8601 string, got {type(value).__name__}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"'{field}' is not an ISO 8601 time: {value!r}") from exc


def write_json_atomically(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file renamed over it.

    Raises ``InvalidArgumentError`` naming the path (a folder, a path that cannot be
    written) or the value that is not JSON; ``ResourceExhaustedError`` when the disk is
    full. On any failure the previous file at ``path`` is unchanged.
    """
    target = Path(path)
    encoded = _json_bytes(data, target)
    if target.is_dir():
        raise InvalidArgumentError(
            f"cannot save a session to {target}: it is a folder; give a file path such as {target / 'session.json'}",
            parameter="path",
            value=str(target),
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(target.parent)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=_TEMPORARY_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise _write_error(target, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from exc
        raise


def _json_bytes(data: Mapping[str, Any], target: Path) -> bytes:
    try:
        return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError (a lone surrogate) included
        field = _first_unserialisable(data) or "a value"
        raise InvalidArgumentError(
            f"cannot save a session to {target}: {field} cannot be written as JSON ({exc});"
            " keep metadata to text, numbers, booleans, None, lists and dicts",
            parameter=field,
            value=str(target),
        ) from exc


def _first_unserialisable(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Where the first value that is not JSON sits, e.g. ``messages[2]['metadata']['when']``."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return None
    except (TypeError, ValueError, RecursionError):
        pass
    if depth < 6 and isinstance(value, (Mapping, list, tuple)):
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            inner = str(key) if not where else f"{where}[{key!r}]"
            found = _first_unserialisable(item, inner, depth + 1)
            if found:
                return found
    return where or None


def _write_error(target: Path, exc: OSError) -> InvalidArgumentError | ResourceExhaustedError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceExhaustedError(f"cannot save a session to {target}: the disk is full ({exc})")
    return InvalidArgumentError(
        f"cannot save a session to {target}: {exc.strerror or exc}; choose a file path in a folder you can write to",
        parameter="path",
        value=str(target),
    )


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete this module's temporaries in ``folder`` whose writing process is gone (or that
    are very old); a folder is scanned at most once per :data:`_RESCAN_SECONDS` per process."""
    key = str(folder.resolve())
    if time.monotonic() - _last_scan.get(key, -_RESCAN_SECONDS) < _RESCAN_SECONDS:
        return
    _last_scan[key] = time.monotonic()
    now = time.time()
    for candidate in folder.glob(f"*{_TEMPORARY_SUFFIX}"):
        try:
            pid = int(candidate.name[: -len(_TEMPORARY_SUFFIX)].rsplit(".", 2)[-2])
            stale = not _alive(pid) or now - candidate.stat().st_mtime > _STALE_AFTER_SECONDS
        except (ValueError, IndexError, OSError):
            continue
        if stale:
            logger.info("removing %s, left by an interrupted save", candidate)
            candidate.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    if os.name == "nt":
        return True  # no safe liveness probe there: only age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
