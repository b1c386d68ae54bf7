from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from abstractllm import MessageRole, Session, SessionManager
from abstractllm.errors import InvalidArgumentError, UnsupportedOperationError


def test_two_turns_enter_the_history(ngram: Any) -> None:
    session = Session(system_prompt="be brief", provider=ngram)
    first = session.generate("the capital of", temperature=0)
    second = session.generate("rome is", temperature=0, max_tokens=3)
    roles = [m.role for m in session.get_history()]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert session.messages[2].content == str(first)
    assert session.messages[4].content == str(second)
    assert session.messages[4].metadata["usage"]["completion_tokens"] == 3
    assert session.get_history(include_system=False)[0].role == "user"


def test_streamed_reply_enters_history_when_the_stream_ends(ngram: Any) -> None:
    session = Session(provider=ngram)
    stream = session.generate("the capital of", stream=True, temperature=0)
    first = next(stream)
    assert session.messages == []  # both turns enter together, when the stream ends
    rest = "".join(stream)
    assert [m.role for m in session.messages] == ["user", "assistant"]
    assert session.messages[-1].content == first + rest


async def test_async_and_async_stream(ngram: Any) -> None:
    session = Session(provider=ngram)
    reply = await session.generate_async("the capital of", temperature=0)
    stream = await session.generate_async("rome is", stream=True, temperature=0, max_tokens=2)
    text = "".join([chunk async for chunk in stream])
    assert [m.content for m in session.messages] == ["the capital of", str(reply), "rome is", text]


def test_save_and_load_round_trip(ngram: Any, tmp_path: Path) -> None:
    session = Session(system_prompt="sys", provider=ngram, metadata={"user": "ana"})
    session.generate("the capital of", temperature=0)
    path = tmp_path / "s.json"
    session.save(path)
    data = json.loads(path.read_text())
    assert set(data) == {"id", "created_at", "last_updated", "system_prompt", "metadata", "messages"}
    loaded = Session.load(path, provider=ngram)
    assert loaded.id == session.id
    assert [m.to_dict() for m in loaded.messages] == [m.to_dict() for m in session.messages]
    assert loaded.system_prompt == "sys" and loaded.metadata == {"user": "ana"}
    loaded.generate("rome is", temperature=0, max_tokens=1)
    assert len(loaded.messages) == 5


def test_a_crash_mid_save_loses_nothing(ngram: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session(provider=ngram)
    session.generate("the capital of", temperature=0)
    path = tmp_path / "s.json"
    session.save(path)
    before = path.read_bytes()
    session.generate("rome is", temperature=0)

    def crash(*args: Any) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(InvalidArgumentError, match="disk vanished") as caught:
        session.save(path)
    assert str(path) in str(caught.value) and isinstance(caught.value.__cause__, OSError)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"messages": "x"}',
        '{"messages": [{"role": "alien", "content": "x"}]}',
        '{"messages": [], "created_at": "yesterday"}',
    ],
)
def test_a_bad_session_file_changes_nothing(ngram: Any, tmp_path: Path, content: str) -> None:
    session = Session(system_prompt="keep", provider=ngram)
    session.generate("the capital of", temperature=0)
    before = [m.to_dict() for m in session.messages]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(InvalidArgumentError) as caught:
        session.load(bad)
    assert str(bad) in str(caught.value)
    assert [m.to_dict() for m in session.messages] == before
    with pytest.raises(InvalidArgumentError, match="no session file"):
        Session.load(tmp_path / "missing.json")


def test_old_turns_are_left_out_to_fit_the_context_window(ngram: Any) -> None:
    session = Session(system_prompt="system words stay", provider=ngram)
    for index in range(6):
        session.add_message(MessageRole.USER, "paris " * 60 + f"turn{index}")
        session.add_message(MessageRole.ASSISTANT, "ok")
    assert ngram.count_tokens(session.messages) > 256
    reply = session.generate("the capital of", temperature=0, max_tokens=4)
    assert str(reply) == " france ."
    assert len(session.messages) == 15  # the history itself keeps everything
    sent = session._request_messages(ngram, [], {"max_tokens": 4})
    assert sent[0].content == "system words stay"
    assert [m.content for m in sent[-2:]] == ["the capital of", " france ."]
    assert ngram.count_tokens(sent) < 256


def test_clear_and_provider_by_name(ngram_plugin: None) -> None:
    session = Session(system_prompt="s", provider="ngram", provider_config={"temperature": 0})
    session.generate("the capital of")
    session.clear()
    assert [m.role for m in session.messages] == ["system"]
    session.clear_history(keep_system_prompt=False)
    assert session.messages == []
    with pytest.raises(UnsupportedOperationError, match="No provider"):
        Session().generate("hi")


def test_session_manager(ngram: Any, tmp_path: Path) -> None:
    manager = SessionManager(sessions_dir=tmp_path / "sessions")
    first = manager.create_session(system_prompt="a", provider=ngram)
    second = manager.create_session(provider=ngram, metadata={"k": 1})
    first.generate("the capital of", temperature=0)
    assert manager.get_session(first.id) is first
    assert {entry[0] for entry in manager.list_sessions()} == {first.id, second.id}
    manager.save_all()
    (tmp_path / "sessions" / "garbage.json").write_text("{")
    other = SessionManager(sessions_dir=tmp_path / "sessions")
    other.load_all(provider=ngram)
    assert set(other.sessions) == {first.id, second.id}
    assert [m.content for m in other.get_session(first.id).messages] == [m.content for m in first.messages]
    assert other.delete_session(first.id) is True
    assert not (tmp_path / "sessions" / f"{first.id}.json").exists()
    assert other.delete_session("nope") is False
    with pytest.raises(UnsupportedOperationError):
        SessionManager().save_all()


def test_async_session_in_a_running_loop_does_not_block(ngram: Any) -> None:
    async def main() -> list[str]:
        sessions = [Session(provider=ngram) for _ in range(5)]
        replies = await asyncio.gather(*(s.generate_async("the capital of", temperature=0) for s in sessions))
        return [str(r) for r in replies]

    assert asyncio.run(main()) == [" france ."] * 5


def test_a_per_call_system_prompt_replaces_the_sessions_for_that_call(ngram: Any) -> None:
    session = Session(system_prompt="one two three", provider=ngram)
    plain = session.generate("the capital of", temperature=0, max_tokens=1)
    other = session.generate("the capital of", system_prompt="x", temperature=0, max_tokens=1)
    # the n-gram model counts every word sent: 3 system words were replaced by 1
    assert other.usage.prompt_tokens == plain.usage.prompt_tokens + 4 - 2
    assert session.messages[0].content == "one two three"
