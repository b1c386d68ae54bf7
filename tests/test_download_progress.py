"""Progress bars: off inside a download when stderr is not a terminal, and back as they were after."""

from __future__ import annotations

import io

import pytest
from huggingface_hub import utils as hub
from transformers.utils import logging as transformers_logging

from abstractllm._private.download_progress import progress_only_on_a_terminal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def bars_on() -> None:
    hub.enable_progress_bars()
    transformers_logging.enable_progress_bar()


def test_a_pipe_gets_no_bars_and_they_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with progress_only_on_a_terminal():
        assert hub.are_progress_bars_disabled() and not transformers_logging.is_progress_bar_enabled()
        with progress_only_on_a_terminal():  # nested: still off
            assert hub.are_progress_bars_disabled()
        assert hub.are_progress_bars_disabled()
    assert not hub.are_progress_bars_disabled() and transformers_logging.is_progress_bar_enabled()


def test_a_terminal_keeps_its_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", Terminal())
    with progress_only_on_a_terminal():
        assert not hub.are_progress_bars_disabled() and transformers_logging.is_progress_bar_enabled()


def test_bars_the_application_turned_off_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    hub.disable_progress_bars()
    try:
        with progress_only_on_a_terminal():
            assert hub.are_progress_bars_disabled()
        assert hub.are_progress_bars_disabled()  # not turned on by us
        assert transformers_logging.is_progress_bar_enabled()  # and the one we turned off is back
    finally:
        hub.enable_progress_bars()
