"""Session files: unsafe ids, hostile files and failed saves are clear errors; nothing is written
outside the folder given; a save killed mid-write leaves nothing behind for long."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from abstractllm import Session, SessionManager
from abstractllm.errors import InvalidArgumentError

CORE_SRC = Path(__file__).resolve().parents[1] / "src"

UNSAFE_IDS = ["../x", "../../etc/passwd", "/tmp/abs", "a/b", "a\\b", "x\x00y", "..", ".", ".hidden", "con", "NUL", "lpt1.x"]
UNSAFE_IDS += ["trailing.", "a" * 200, "sp ace", "new\nline"]


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def session_file(path: Path, **fields: Any) -> Path:
    data: dict[str, Any] = {"id": "s1", "messages": [{"role": "user", "content": "hi"}]}
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("session_id", [*UNSAFE_IDS, ["list"], True, 1.5])
def test_a_session_file_with_an_unsafe_id_is_refused_and_nothing_leaves_the_folder(
    ngram: Any, tmp_path: Path, session_id: Any
) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    bad = session_file(folder / "bad.json", id=session_id)
    with pytest.raises(InvalidArgumentError) as caught:
        Session.load(bad)
    assert str(bad) in str(caught.value) and "id" in str(caught.value)
    manager = SessionManager(folder)
    manager.load_all(provider=ngram)
    assert manager.sessions == {}  # skipped, with a warning
    manager.create_session(provider=ngram).generate("the capital of", temperature=0)
    manager.save_all()
    assert tree(tmp_path) == {"sessions", "sessions/bad.json", f"sessions/{next(iter(manager.sessions))}.json"}


def test_ids_that_are_file_names_load(tmp_path: Path) -> None:
    for session_id in ["3f2b6c1e-0d7a-4a57-9a43-2b1f9c0a7e55", "chat_2024.05-01", "A", 42]:
        assert Session.load(session_file(tmp_path / "ok.json", id=session_id)).id == str(session_id)


def test_an_id_changed_in_memory_cannot_write_or_delete_outside(ngram: Any, tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    manager = SessionManager(folder)
    session = manager.create_session(provider=ngram)
    victim = tmp_path / "victim.json"
    victim.write_text("keep")
    manager.sessions.pop(session.id)
    session.id = "../victim"
    manager.sessions[session.id] = session
    with pytest.raises(InvalidArgumentError, match="victim"):
        manager.save_all()
    with pytest.raises(InvalidArgumentError, match="victim"):
        manager.delete_session("../victim")
    assert victim.read_text() == "keep"
    assert tree(tmp_path) == {"sessions", "victim.json"}


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_link_inside_the_folder_is_not_followed_out(ngram: Any, tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    manager = SessionManager(folder)
    session = manager.create_session(provider=ngram)
    outside = tmp_path / "outside.json"
    outside.write_text("keep")
    (folder / f"{session.id}.json").symlink_to(outside)
    with pytest.raises(InvalidArgumentError, match="outside"):
        manager.save_all()
    assert outside.read_text() == "keep"


@pytest.mark.parametrize(
    "content",
    [
        '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"messages": [], "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
    ],
    ids=["deep-list", "deep-object"],
)
def test_a_file_nested_100000_deep_is_an_invalid_argument(ngram: Any, tmp_path: Path, content: str) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(content)
    session = Session(provider=ngram)
    session.generate("the capital of", temperature=0)
    before = session.to_dict()
    with pytest.raises(InvalidArgumentError, match=r"deep\.json"):
        session.load(deep)
    assert session.to_dict() == before
    session.generate("rome is", temperature=0, max_tokens=1)
    assert len(session.messages) == 4


@pytest.mark.parametrize("timestamp", [1e20, -1e20, "+20000-01-01T00:00:00", 10**400], ids=["1e20", "-1e20", "year", "huge-int"])
def test_a_timestamp_out_of_range_is_rejected_at_load(tmp_path: Path, timestamp: Any) -> None:
    text = json.dumps({"messages": [{"role": "user", "content": "hi", "timestamp": 0}]})
    path = tmp_path / "future.json"
    path.write_text(text.replace('"timestamp": 0', f'"timestamp": {json.dumps(timestamp)}'))
    with pytest.raises(InvalidArgumentError, match=r"future\.json") as caught:
        Session.load(path)
    assert "timestamp" in str(caught.value)


def test_saving_to_a_folder_or_an_unwritable_path_is_an_invalid_argument(ngram: Any, tmp_path: Path) -> None:
    session = Session(provider=ngram)
    session.generate("the capital of", temperature=0)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inside.txt").write_text("keep")
    with pytest.raises(InvalidArgumentError, match="folder") as caught:
        session.save(folder)
    assert caught.value.parameter == "path"
    assert tree(folder) == {"inside.txt"}
    a_file = tmp_path / "plain.txt"
    a_file.write_text("keep")
    for unwritable in (a_file / "s.json", a_file / "deeper" / "s.json"):
        with pytest.raises(InvalidArgumentError) as caught:
            session.save(unwritable)
        assert str(unwritable) in str(caught.value)
    assert a_file.read_text() == "keep"
    session.save(tmp_path / "good.json")
    assert Session.load(tmp_path / "good.json").to_dict() == session.to_dict()


def test_metadata_that_is_not_json_names_the_field_and_keeps_the_previous_file(ngram: Any, tmp_path: Path) -> None:
    session = Session(provider=ngram, metadata={"user": "ana"})
    session.generate("the capital of", temperature=0)
    path = tmp_path / "s.json"
    session.save(path)
    before = path.read_bytes()
    session.metadata["when"] = datetime(2024, 1, 1)
    with pytest.raises(InvalidArgumentError, match=r"metadata\['when'\]") as caught:
        session.save(path)
    assert str(path) in str(caught.value)
    del session.metadata["when"]
    session.messages[1].metadata["handle"] = object()
    with pytest.raises(InvalidArgumentError, match=r"messages\[1\]\['metadata'\]\['handle'\]"):
        session.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
    session.messages[1].metadata["handle"] = "half a pair \ud800"
    with pytest.raises(InvalidArgumentError, match=r"messages\[1\]\['metadata'\]\['handle'\]"):
        session.save(path)
    del session.messages[1].metadata["handle"]
    session.generate("rome is", temperature=0, max_tokens=1)
    session.save(path)
    assert len(Session.load(path).messages) == 4


def test_a_temporary_left_by_a_dead_writer_is_removed_by_the_next_save(ngram: Any, tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = int(finished.stdout)
    path = tmp_path / "s.json"
    stale = tmp_path / f".s.json.{dead}.abc123.abstractllm.tmp"
    stale.write_text("half")
    other = tmp_path / f".t.json.{dead}.xyz_9.abstractllm.tmp"  # another file's: its writer is gone too
    other.write_text("half")
    own = tmp_path / f".s.json.{os.getpid()}.busy.abstractllm.tmp"  # this process may be writing it
    own.write_text("busy")
    foreign = [tmp_path / f".s.json.{dead}.abc.tmp", tmp_path / "notes.abstractllm.tmp"]  # not ours: kept
    for path_ in foreign:
        path_.write_text("user data")
    Session(provider=ngram).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([own.name, "s.json", *(f.name for f in foreign)])


SAVER = """
import sys
sys.path.insert(0, {src!r})
from abstractllm import Session
session = Session(system_prompt="big")
for index in range(40):
    session.add_message("user", ("word%d " % index) * 50_000)
while True:
    session.save({path!r})
    print("saved", flush=True)
"""


@pytest.mark.slow
def test_saves_killed_mid_write_leave_no_temporary_after_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    script = SAVER.format(src=str(CORE_SRC), path=str(path))
    left_behind = 0
    for attempt in range(6):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            if attempt % 2:  # let one save complete: the kill then lands while a complete file exists
                assert child.stdout.readline() == "saved\n"
            deadline = time.monotonic() + 60
            mine = f".big.json.{child.pid}."
            while not any(p.name.startswith(mine) for p in tmp_path.iterdir()) and time.monotonic() < deadline:
                assert child.poll() is None, "the saving process died on its own"
                time.sleep(0.001)
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=30)
        left_behind += sum(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        if attempt % 2:  # whatever survived is a complete session (the old or the new file)
            assert len(Session.load(path).messages) == 41
    assert left_behind > 0, "no kill landed mid-write: the test proved nothing"
    assert os.path.getsize(path) > 10_000_000
    small = Session(system_prompt="small")
    small.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json"]
    assert Session.load(path).system_prompt == "small"


def test_a_sessions_dir_that_is_a_file_is_an_invalid_argument(tmp_path: Path) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("keep")
    for folder in (a_file, a_file / "sessions"):
        with pytest.raises(InvalidArgumentError, match=r"plain\.txt") as caught:
            SessionManager(folder)
        assert caught.value.parameter == "sessions_dir"
    assert a_file.read_text() == "keep"


@pytest.mark.parametrize("system_prompt", ["be \ud800 brief", 5, b"bytes"])
def test_a_bad_system_prompt_names_it(system_prompt: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Session(system_prompt=system_prompt)
    assert caught.value.parameter == "system_prompt"
