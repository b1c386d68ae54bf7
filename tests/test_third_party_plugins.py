"""Third-party distributions installed with pip from tests/plugins, found through their entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target)]
        + [str(PLUGINS / name) for name in ("abstractllm-ngram", "abstractllm-recorder", "abstractllm-broken")],
        check=True,
        timeout=300,
    )
    return target


def with_site(site: Path) -> str:
    """``PYTHONPATH`` with ``site`` first (the sources under test stay importable after it)."""
    return os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])


def run(site: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": with_site(site), **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environment, timeout=120
    )


def test_an_installed_distribution_adds_a_provider(site: Path) -> None:
    result = run(
        site,
        """
        import json
        from abstractllm import create_llm
        llm = create_llm("ngram")
        reply = llm.generate("the capital of", temperature=0)
        print(json.dumps([str(reply), reply.finish_reason, llm.provider, llm.mode]))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [" france .", "stop", "ngram", "bigram"]


def test_broken_plugins_are_reported_and_do_not_break_the_others(site: Path) -> None:
    result = run(site, "from abstractllm.cli import main; raise SystemExit(main(['plugins', '--json']))")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    providers = {(b["provider"], b["mode"]): b["distribution"] for b in report["backends"]}
    assert providers[("ngram", "bigram")] == "abstractllm-ngram"
    broken = {b["plugin"]: b for b in report["broken"]}
    assert broken["fails-to-import"]["distribution"] == "abstractllm-broken"
    assert "a_package_that_does_not_exist" in broken["fails-to-import"]["error"]
    assert "_private" not in broken["fails-to-import"]["error"]
    assert broken["bad-hook"]["distribution"] == "abstractllm-broken"
    assert "surprise" in broken["bad-hook"]["error"]
    moved = broken["old-imports"]["error"]  # written for 0.1's layout: told what moved and where to import from
    assert "abstractllm.plugins" in moved and "abstractllm._private" in moved and "abstractllm.hookspecs (hookimpl)" in moved


def test_a_middleware_plugin_observes_and_changes_every_call(site: Path) -> None:
    code = """
        import json
        import abstractllm_recorder as recorder
        from abstractllm import create_llm
        llm = create_llm("ngram")
        first = llm.generate("the capital of", temperature=0)
        second = llm.generate("rome is", temperature=0, max_tokens=2)
        print(json.dumps([dict(recorder.CALLS), recorder.TEXTS, str(first), str(second)]))
        """
    observed = run(site, code)
    assert observed.returncode == 0, observed.stderr
    calls, texts, first, second = json.loads(observed.stdout)
    assert calls == {"ngram/bigram": 2}
    assert texts == [" france .", " a city"] == [first, second]
    changed = run(site, code, ABSTRACTLLM_RECORDER_UPPER="1")
    assert json.loads(changed.stdout)[2:] == [" FRANCE .", " A CITY"]


def test_an_observer_sees_every_call_once_with_its_timing(site: Path) -> None:
    """Async, streamed, abandoned and failed calls each reach abstractllm_call_finished once."""
    code = """
        import asyncio, json, time
        import abstractllm_recorder as recorder
        from abstractllm import create_llm
        llm = create_llm("ngram")
        started = time.perf_counter()
        llm.generate("the capital of", temperature=0)
        streamed = list(llm.generate("the capital of", temperature=0, stream=True))
        abandoned = llm.generate("the capital of", temperature=0, stream=True)
        next(abandoned)
        abandoned.close()

        async def main():
            await llm.generate_async("rome is", temperature=0, max_tokens=2)
            stream = await llm.generate_async("rome is", temperature=0, max_tokens=2, stream=True)
            return [str(chunk) async for chunk in stream]

        asyncio.run(main())
        try:
            llm.generate("the capital of", temperature=-1)
        except Exception:
            pass
        try:
            llm.generate("the capital of", max_tokens=0, stream=True)
        except Exception:
            pass
        elapsed = time.perf_counter() - started
        final = streamed[-1]
        print(json.dumps([recorder.FINISHED, elapsed, final.timing.total, final.timing.first_token]))
        """
    result = run(site, code)
    assert result.returncode == 0, result.stderr
    finished, elapsed, stream_total, stream_first = json.loads(result.stdout)
    assert [(f["kind"], f["outcome"]) for f in finished] == [
        ("generate", "completed"),
        ("stream", "completed"),
        ("stream", "abandoned"),
        ("generate_async", "completed"),
        ("stream_async", "completed"),
    ]  # bad arguments fail before a call starts: nothing to observe
    assert [f["text"] for f in finished] == [" france .", " france .", None, " a city", " a city"]
    for record in finished:
        assert 0 < record["total"] < elapsed
    for record in (finished[1], finished[2], finished[4]):  # streams that produced text
        assert 0 < record["first_token"] <= record["total"]
    assert finished[0]["first_token"] is None  # not a stream
    assert 0 < stream_first <= stream_total  # the final chunk carries the stream's timing


def test_the_conformance_kit_passes_through_the_entry_point(site: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "conformance_check.py"],
        cwd=PLUGINS / "abstractllm-ngram",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": with_site(site)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all("not claimed" in line for line in skipped), skipped  # only what the plugin does not claim


def test_the_plugin_guide_shows_the_example_files_exactly() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for name in ("pyproject.toml", "src/abstractllm_ngram/__init__.py", "conformance_check.py"):
        text = (PLUGINS / "abstractllm-ngram" / name).read_text().rstrip()
        assert f"### `{name}`" in guide
        assert text in guide, f"docs/plugins.md is out of date for {name}"


def test_a_plugin_written_for_the_retired_hooks_is_told_what_changed() -> None:
    """A plugin implementing abstractllm_load_model / abstractllm_map_error is listed as broken
    with the fix; the other plugins keep working."""
    from abstractllm._private.plugins import get_plugins
    from abstractllm.backend import BackendInfo
    from abstractllm.hookspecs import hookimpl

    class Retired:
        @hookimpl
        def abstractllm_backends(self) -> list[BackendInfo]:
            return [BackendInfo("retired", "old", "an old plugin", "pip install retired")]

        @hookimpl
        def abstractllm_load_model(self, info: BackendInfo, config: object) -> None:
            return None

    class NoLoader:
        @hookimpl
        def abstractllm_backends(self) -> list[BackendInfo]:
            return [BackendInfo("noloader", "m", "declares no load", "pip install noloader")]

    plugins = get_plugins()
    try:
        assert not plugins.register(Retired(), "retired-plugin")
        plugins.register(NoLoader(), "noloader-plugin")
        reasons = {broken.name: broken.error for broken in plugins.broken}
        assert "abstractllm_load_model" in reasons["retired-plugin"]
        assert "BackendInfo(..., load=load, map_error=map_error)" in reasons["retired-plugin"]
        assert "declared without load=" in reasons["noloader-plugin"]
        assert ("retired", "old") not in plugins.backends and ("noloader", "m") not in plugins.backends
        assert ("huggingface", "api") in plugins.backends  # the others keep working
    finally:
        plugins.unregister("noloader-plugin")
        plugins.broken[:] = [b for b in plugins.broken if b.name not in ("retired-plugin", "noloader-plugin")]
