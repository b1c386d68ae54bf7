"""The on-disk cache of plugin discovery: same plugins as a full scan, invalidated by any install or
uninstall, and never a failure when the cache is corrupt, stale or cannot be written."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from abstractllm._private import discovery_cache as _discovery_cache
from abstractllm._private.discovery_cache import FoundEntryPoint, entry_points

PLUGINS = Path(__file__).parent / "plugins"
GROUP = "abstractllm"
LONG_AGO = time.time() - 3600


def age(path: Path) -> None:
    """Set ``path`` and everything under it an hour back, out of the cache's racy window."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(item, (LONG_AGO, LONG_AGO))


def fake_distribution(folder: Path, name: str, version: str, points: dict[str, str], suffix: str = "dist-info") -> Path:
    """A metadata folder as an installer leaves it, declaring ``points`` in the ``abstractllm`` group."""
    info = folder / f"{name.replace('-', '_')}-{version}.{suffix}"
    info.mkdir(parents=True)
    (info / ("PKG-INFO" if suffix == "egg-info" else "METADATA")).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in points.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    age(info)
    return info


def full_scan() -> list[FoundEntryPoint]:
    return [
        FoundEntryPoint(point.name, point.value, point.dist.name, point.dist.version)  # type: ignore[union-attr]
        for point in importlib.metadata.entry_points(group=GROUP)
    ]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(_discovery_cache.CACHE_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder alone on sys.path, so the scan sees only what a test puts there."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder)])
    return folder


def from_cache(caplog: pytest.LogCaptureFixture) -> bool:
    return any("from the cache" in record.getMessage() for record in caplog.records)


def test_a_cache_hit_returns_what_a_full_scan_returns(cache: Path, site: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin", "two": "first_plugin.sub:hooks [extra]"})
    fake_distribution(site, "second-plugin", "2.5", {"three": "second_plugin:plugin"})
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    scanned = entry_points(GROUP)
    assert not from_cache(caplog)
    assert len(list(cache.glob("entry-points-*.json"))) == 1
    caplog.clear()
    cached = entry_points(GROUP)
    assert from_cache(caplog)
    assert cached == scanned == full_scan()
    assert {point.name: (point.distribution, point.version) for point in cached} == {
        "one": ("first-plugin", "1.0"),
        "two": ("first-plugin", "1.0"),
        "three": ("second-plugin", "2.5"),
    }


def test_installing_and_removing_a_distribution_invalidates_the_cache(
    cache: Path, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    entry_points(GROUP)
    added = fake_distribution(site, "second-plugin", "1.0", {"two": "second_plugin"})
    assert [point.name for point in entry_points(GROUP)] == [point.name for point in full_scan()]
    assert {point.name for point in entry_points(GROUP)} == {"one", "two"}
    shutil.rmtree(added)
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert [point.name for point in entry_points(GROUP)] == ["one"]
    assert not from_cache(caplog)


def test_an_upgrade_and_an_in_place_edit_of_entry_points_invalidate_the_cache(cache: Path, site: Path) -> None:
    old = fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    assert [point.version for point in entry_points(GROUP)] == ["1.0"]
    shutil.rmtree(old)
    fake_distribution(site, "first-plugin", "1.1", {"one": "first_plugin"})
    assert [point.version for point in entry_points(GROUP)] == ["1.1"]
    # a legacy editable install (``setup.py develop``) rewrites the egg-info of its source tree in place
    source = site / "source-tree"
    info = fake_distribution(source, "editable-plugin", "0.1", {"before": "editable_plugin"}, suffix="egg-info")
    sys.path.append(str(source))  # what the install's .pth file does at start-up
    assert {point.name for point in entry_points(GROUP)} == {"one", "before"}
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nafter = editable_plugin\n")
    assert {point.name for point in entry_points(GROUP)} == {"one", "after"} == {point.name for point in full_scan()}


def test_a_change_just_made_is_served_but_not_cached_until_it_is_out_of_the_racy_window(cache: Path, site: Path) -> None:
    info = fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    os.utime(info, None)  # now: a change in the same clock tick after the scan would not show
    assert [point.name for point in entry_points(GROUP)] == ["one"]
    assert not list(cache.glob("entry-points-*.json"))
    age(info)
    entry_points(GROUP)
    assert len(list(cache.glob("entry-points-*.json"))) == 1


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"\xff\xfe", b"[]", b'{"format": 999}', b"null"],
    ids=["empty", "truncated", "binary", "list", "other-format", "null"],
)
def test_a_corrupt_cache_falls_back_to_a_scan_and_is_rewritten(
    cache: Path, site: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    expected = entry_points(GROUP)
    (path,) = cache.glob("entry-points-*.json")
    path.write_bytes(content)
    assert entry_points(GROUP) == expected
    assert json.loads(path.read_bytes())["format"] == _discovery_cache.FORMAT
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert entry_points(GROUP) == expected
    assert from_cache(caplog)


def test_a_cache_with_wrong_fields_falls_back_to_a_scan(cache: Path, site: Path) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    expected = entry_points(GROUP)
    (path,) = cache.glob("entry-points-*.json")
    data = json.loads(path.read_bytes())
    data["entry_points"] = [{"name": "one", "unexpected": 1}]
    path.write_text(json.dumps(data))
    assert entry_points(GROUP) == expected


def test_an_unwritable_cache_folder_still_discovers(tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(_discovery_cache.CACHE_DIR_VARIABLE, str(blocker / "cache"))
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    assert entry_points(GROUP) == entry_points(GROUP) == full_scan()
    assert blocker.read_text() == "not a folder"


def test_the_cache_folder_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(_discovery_cache.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _discovery_cache.cache_dir() == str(tmp_path / "abstractllm")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _discovery_cache.cache_dir() == str(tmp_path / ".cache" / "abstractllm")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _discovery_cache.cache_dir() == str(tmp_path / ".cache" / "abstractllm")


def test_without_a_home_folder_discovery_scans_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, site: Path, tmp_path: Path
) -> None:
    for variable in (_discovery_cache.CACHE_DIR_VARIABLE, "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # what it returns when no home is known
    monkeypatch.chdir(tmp_path)
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    assert _discovery_cache.cache_dir() is None
    assert entry_points(GROUP) == full_scan()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_only_the_newest_cache_files_are_kept(cache: Path, site: Path) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    for index in range(_discovery_cache.KEPT_FILES + 3):
        extra = site / f"entry-{index}"
        extra.mkdir()
        sys.path.append(str(extra))  # another sys.path: another cache file
        entry_points(GROUP)
    assert len(list(cache.glob("entry-points-*.json"))) == _discovery_cache.KEPT_FILES


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """abstractllm-ngram installed by pip into a folder of its own, aged out of the racy window."""
    target = tmp_path_factory.mktemp("installed")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target)]
    subprocess.run(
        [*pip, str(PLUGINS / "abstractllm-ngram")],
        check=True,
        timeout=300,
    )
    age(target)
    return target


DISCOVER = """
    import json, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    from abstractllm._private.plugins import get_plugins
    plugins = get_plugins()
    print(json.dumps({
        "backends": sorted([*key, value.distribution, value.version] for key, value in plugins.backends.items()),
        "broken": sorted([value.name, value.distribution, value.error] for value in plugins.broken),
    }))
"""


def discover(cache: Path, *pythonpath: Path) -> tuple[dict[str, Any], bool]:
    """Plugins a fresh process finds, and whether they came from the cache."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    environment[_discovery_cache.CACHE_DIR_VARIABLE] = str(cache)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DISCOVER)], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), "from the cache" in result.stderr


@pytest.mark.slow
def test_a_fresh_process_finds_a_pip_installed_plugin_and_loses_it_after_uninstall(installed: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    scanned, hit = discover(cache, installed)
    assert not hit
    assert ["ngram", "bigram", "abstractllm-ngram", "0.1.0"] in scanned["backends"]
    cached, hit = discover(cache, installed)
    assert hit
    assert cached == scanned
    # ``pip uninstall`` removes the dist-info folder; the package directory going too changes nothing here
    (info,) = installed.glob("abstractllm_ngram-*.dist-info")
    moved = tmp_path / info.name
    info.rename(moved)
    try:
        after, hit = discover(cache, installed)
        assert not hit
        assert not [backend for backend in after["backends"] if backend[0] == "ngram"]
    finally:
        moved.rename(info)
    again, _ = discover(cache, installed)
    assert again["backends"] == scanned["backends"]


def test_path_objects_on_sys_path_are_fingerprinted_like_strings(cache: Path, site: Path) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    other = site.parent / "other"
    fake_distribution(other, "second-plugin", "1.0", {"two": "second_plugin"})
    sys.path[:] = [site, other]  # type: ignore[list-item]
    assert {point.name for point in entry_points(GROUP)} == {"one", "two"}
    sys.path[:] = [str(site), str(other)]
    assert {point.name for point in entry_points(GROUP)} == {"one", "two"}
    assert len(list(cache.glob("entry-points-*.json"))) == 1  # the same sys.path, so the same file


def plant(cache: Path, points: list[dict[str, Any]], *, mode: int = 0o600, owner: int | None = None) -> Path:
    """A cache file with the current fingerprint of sys.path, naming ``points``, as someone else could write it."""
    fingerprint = _discovery_cache._fingerprint(sys.path)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"entry-points-{GROUP}-{_discovery_cache._key(fingerprint):08x}.json"
    path.write_text(json.dumps({"format": _discovery_cache.FORMAT, "fingerprint": fingerprint, "entry_points": points}))
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


NOBODY = 65534
posix = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="owners, mode bits and O_NOFOLLOW are checked on POSIX only")
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="planting a file as another user needs root (chown)"
)


def test_a_cache_naming_an_entry_point_no_distribution_declares_is_not_used(
    cache: Path, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    expected = entry_points(GROUP)
    planted = [
        {"name": "one", "value": "first_plugin", "distribution": "first-plugin", "version": "1.0"},
        {"name": "evil", "value": "evil_module", "distribution": "first-plugin", "version": "1.0"},
    ]
    for points in (
        planted,  # a value the distribution does not declare
        [{"name": "evil", "value": "evil_module", "distribution": "not-installed", "version": "1.0"}],
        [{"name": "one", "value": "first_plugin", "distribution": "first-plugin", "version": "9.9"}],  # another version
    ):
        path = plant(cache, points)
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
        assert entry_points(GROUP) == expected == full_scan()
        assert not from_cache(caplog)
        assert any("which no installed distribution declares" in record.getMessage() for record in caplog.records)
        assert "evil" not in path.read_text() and "9.9" not in path.read_text()  # the scan rewrote it


@posix
@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602], ids=["world-and-group-writable", "group-writable", "world-writable"])
def test_a_cache_file_writable_by_others_is_not_trusted(
    cache: Path, site: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    entry_points(GROUP)
    (path,) = cache.glob("entry-points-*.json")
    path.chmod(mode)  # even holding exactly what a scan finds
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert entry_points(GROUP) == full_scan()
    assert not from_cache(caplog)
    assert any("writable by others" in record.getMessage() for record in caplog.records)
    assert path.stat().st_mode & 0o777 == 0o600  # rewritten by the scan, for this user only
    caplog.clear()
    entry_points(GROUP)
    assert from_cache(caplog)


@posix
def test_a_symbolic_link_is_not_followed(cache: Path, site: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    entry_points(GROUP)
    (path,) = cache.glob("entry-points-*.json")
    target = tmp_path / "elsewhere.json"
    path.rename(target)
    path.symlink_to(target)
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert entry_points(GROUP) == full_scan()
    assert not from_cache(caplog)
    assert not path.is_symlink()  # replaced by a file of this user


@needs_root
def test_a_cache_file_of_another_user_is_not_trusted(cache: Path, site: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    expected = entry_points(GROUP)
    (path,) = cache.glob("entry-points-*.json")
    os.chown(path, NOBODY, NOBODY)  # the same content, another owner
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert entry_points(GROUP) == expected
    assert any(f"owned by uid {NOBODY}" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "entry",
    [
        {"name": 1, "value": 2, "distribution": 3, "version": 4},
        {"name": "one", "value": ["first_plugin"], "distribution": "first-plugin", "version": "1.0"},
        {"name": "one", "value": "first_plugin", "distribution": None, "version": "1.0"},
        {"name": "one", "value": "first_plugin", "distribution": "first-plugin", "version": "1.0", "extra": "x"},
        "one = first_plugin",
    ],
    ids=["numbers", "list-value", "null-distribution", "extra-field", "string-entry"],
)
def test_a_cache_with_the_right_fingerprint_but_wrong_types_is_rescanned_and_rewritten(
    cache: Path, site: Path, entry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin"})
    expected = entry_points(GROUP)
    path = plant(cache, [entry])
    assert entry_points(GROUP) == expected
    assert json.loads(path.read_text())["entry_points"] == [
        {"name": "one", "value": "first_plugin", "distribution": "first-plugin", "version": "1.0"}
    ]
    caplog.set_level(logging.DEBUG, logger=_discovery_cache.__name__)
    assert entry_points(GROUP) == expected
    assert from_cache(caplog)  # the next process is not misled either


def test_checking_a_hit_reads_only_the_declaring_distributions(cache: Path, site: Path) -> None:
    """The declaration check reads the metadata of the distributions the cache names, not every one."""
    for index in range(30):
        fake_distribution(site, f"unrelated-{index}", "1.0", {})
    fake_distribution(site, "first-plugin", "1.0", {"one": "first_plugin", "two": "first_plugin:other"})
    entry_points(GROUP)
    opened: list[str] = []
    real_open = open

    def spying_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    import builtins

    builtins.open = spying_open  # type: ignore[assignment]
    try:
        assert [point.name for point in entry_points(GROUP)] == ["one", "two"]
    finally:
        builtins.open = real_open  # type: ignore[assignment]
    assert sorted(Path(name).name for name in opened) == ["METADATA", "entry_points.txt"]
