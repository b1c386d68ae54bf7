"""Several sessions by id, saved as files in one folder: ``SessionManager``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abstractllm._private.chat_session import Session
from abstractllm._private.session_files import session_path
from abstractllm.errors import InvalidArgumentError, UnsupportedOperationError

if TYPE_CHECKING:
    from abstractllm._private.llm import AbstractLLMInterface

__all__ = ["SessionManager"]

logger = logging.getLogger(__name__)


class SessionManager:
    """Several sessions by id, optionally saved as ``<sessions_dir>/<id>.json``.

    Ids must be safe file names (:func:`check_session_id`): files with others are skipped
    by ``load_all``, and nothing is ever read, written or deleted outside ``sessions_dir``.
    """

    def __init__(self, sessions_dir: str | os.PathLike[str] | None = None) -> None:
        self.sessions: dict[str, Session] = {}
        self.sessions_dir = Path(sessions_dir) if sessions_dir is not None else None
        if self.sessions_dir is not None:
            try:
                self.sessions_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidArgumentError(
                    f"sessions_dir {self.sessions_dir} cannot be a folder of sessions: {exc.strerror or exc};"
                    " give a folder you can write to",
                    parameter="sessions_dir",
                    value=str(self.sessions_dir),
                ) from exc

    def create_session(
        self,
        system_prompt: str | None = None,
        provider: AbstractLLMInterface | str | None = None,
        provider_config: Mapping[Any, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        session = Session(system_prompt, provider, provider_config, metadata)
        self.sessions[session.id] = session
        return session

    def get_session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def delete_session(self, session_id: str) -> bool:
        """Forget a session and delete its file; an id that is no safe file name is an ``InvalidArgumentError``."""
        path = session_path(self.sessions_dir, session_id) if self.sessions_dir is not None else None
        found = self.sessions.pop(session_id, None) is not None
        if path is not None and path.exists():
            path.unlink()
            found = True
        return found

    def list_sessions(self) -> list[tuple[str, datetime, datetime]]:
        return [(s.id, s.created_at, s.last_updated) for s in self.sessions.values()]

    def _require_dir(self) -> Path:
        if self.sessions_dir is None:
            raise UnsupportedOperationError("No sessions directory specified; pass SessionManager(sessions_dir=...)")
        return self.sessions_dir

    def save_all(self) -> None:
        directory = self._require_dir()
        paths = [(session, session_path(directory, session.id)) for session in self.sessions.values()]
        for session, path in paths:
            session.save(path)

    def load_all(
        self, provider: AbstractLLMInterface | str | None = None, provider_config: Mapping[Any, Any] | None = None
    ) -> None:
        """Load every ``*.json`` in the folder; unreadable files are logged and skipped."""
        directory = self._require_dir()
        if isinstance(provider, str):
            from abstractllm._private.factory import create_llm

            provider = create_llm(provider, **dict(provider_config or {}))
        for path in sorted(directory.glob("*.json")):
            try:
                session = Session.load(path, provider=provider)
            except InvalidArgumentError as exc:
                logger.warning("skipping %s: %s", path, exc)
                continue
            self.sessions[session.id] = session
