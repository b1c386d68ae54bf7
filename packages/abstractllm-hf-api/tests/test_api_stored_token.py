"""The token `hf auth login` stores is used the way huggingface_hub uses it (issue 16), with a temporary HF_HOME."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import AuthenticationError

STORED = "hf_StOrEdByHfAuthLogin0123456789"


def write_token(folder: Path, value: str = STORED) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "token"
    path.write_text(f"  {value}\r\n", encoding="utf-8")  # as written by hand: spaces and a line break
    return path


def api_token(**options: Any) -> str | None:
    llm = create_llm("huggingface", model="org/model", use_inference_api=True, **options)  # HF's router: https, an HF host
    token = llm.backend.transport.token
    llm.unload()
    return None if token is None else token.reveal()


def test_the_file_in_hf_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    write_token(tmp_path / "home")
    assert api_token() == STORED


def test_hf_token_path_wins_over_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    write_token(tmp_path / "home", "hf_in_home")
    monkeypatch.setenv("HF_TOKEN_PATH", str(write_token(tmp_path / "elsewhere")))
    assert api_token() == STORED


def test_xdg_cache_home_is_the_default_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write_token(tmp_path / "xdg" / "huggingface")
    assert api_token() == STORED


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_API_KEY"])
def test_the_environment_comes_before_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    write_token(tmp_path, "hf_from_the_file")
    monkeypatch.setenv(variable, STORED)
    assert api_token() == STORED


def test_an_explicit_api_key_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    write_token(tmp_path, "hf_from_the_file")
    assert api_token(api_key=STORED) == STORED


def test_disable_implicit_token_ignores_environment_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    write_token(tmp_path)
    monkeypatch.setenv("HF_TOKEN", STORED)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    with pytest.raises(AuthenticationError, match="HF_HUB_DISABLE_IMPLICIT_TOKEN") as caught:
        api_token()
    assert STORED not in str(caught.value)
    assert api_token(api_key=STORED) == STORED  # an explicit token still works


def test_no_file_and_no_environment_says_how_to_log_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    with pytest.raises(AuthenticationError, match="hf auth login"):
        api_token()


def test_an_empty_or_unreadable_file_is_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(AuthenticationError):
        api_token()
    (tmp_path / "token").unlink()
    (tmp_path / "token").mkdir()  # a folder where the file should be
    with pytest.raises(AuthenticationError):
        api_token()


def test_the_stored_token_goes_only_to_hf_hosts(fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    write_token(tmp_path)
    llm = create_llm("huggingface", inference_api_url=fake.url, protocol="openai")  # a custom endpoint
    assert llm.backend.transport.token is None
    llm.generate("hi", temperature=0, max_tokens=4)
    assert "Authorization" not in fake.posts()[0]["headers"]
    with pytest.raises(AuthenticationError, match="hf auth login") as caught:  # a router that is not HF's
        create_llm("huggingface", model="org/model", use_inference_api=True, api_base_url=fake.url)
    assert STORED not in str(caught.value)


def test_huggingface_hub_is_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    write_token(tmp_path)
    assert api_token() == STORED
    if "huggingface_hub" in sys.modules:
        pytest.skip("another test of this session imported huggingface_hub")
    assert "huggingface_hub" not in sys.modules


@pytest.mark.parametrize("where", ["file", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN", "HUGGINGFACE_API_KEY", "api_key"])
def test_a_token_with_a_stray_space_is_refused_naming_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    spaced = "hf_StOrEd ByHfAuthLogin0123456789"  # a space inside: no cleaning can repair it
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    options: dict[str, Any] = {}
    if where == "file":
        path = write_token(tmp_path, spaced)
        expected = f"the token file {path} (written by `hf auth login`)"
    elif where == "api_key":
        options["api_key"] = spaced
        expected = "api_key=..."
    else:
        monkeypatch.setenv(where, spaced)
        expected = where
    with pytest.raises(AuthenticationError) as caught:
        api_token(**options)
    message = str(caught.value)
    assert f"the token from {expected} contains whitespace" in message and f"check {expected}" in message
    assert "StOrEd" not in message and "ByHfAuthLogin" not in message  # never the token
    write_token(tmp_path)  # fixed: the next model uses the file
    monkeypatch.delenv(where, raising=False)
    assert api_token() == STORED
