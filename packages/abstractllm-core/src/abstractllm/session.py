"""Conversations with history: ``Session``, and ``SessionManager`` for several of them by id.

They are defined in ``abstractllm._private.chat_session`` and ``abstractllm._private.session_manager``
(the manager builds sessions, so it sits above them); this is their public import path.
"""

from __future__ import annotations

from abstractllm._private.chat_session import Session as Session
from abstractllm._private.session_manager import SessionManager as SessionManager
from abstractllm.backend.messages import Message as Message

__all__ = ["Message", "Session", "SessionManager"]
