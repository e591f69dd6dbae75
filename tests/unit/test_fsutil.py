"""The one file layer (`tray/core/fsutil.py`): the atomic writer every write goes through, the Windows-retrying
replace/unlink, the non-blocking reader, names within the file-name limit, and the registry's modes.

The Windows retry is reached on Linux by injecting the failure Windows gives (a `PermissionError` from
`os.replace`/`os.unlink` while another process has the file open) and switching `fsutil.WINDOWS` on.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from helpers import iso, seed_entry, without_blocking, write_entry

from tray.app.config import Config, ConfigStore
from tray.app.single_instance import SingleInstance
from tray.core import actions, activity, fsutil, private
from tray.core.entry import InvalidCwd, check_cwd, new_entry
from tray.core.registry import Registry

pytestmark = pytest.mark.timeout(60)


# --- the Windows-retrying replace and unlink --------------------------------------------------------------


class Flaky:
    """Wraps `os.replace`/`os.unlink`: the first `failures` calls fail as Windows does while a reader holds
    the file (sharing violation, mapped to PermissionError); then the real call runs."""

    def __init__(self, real: Callable[..., Any], failures: int) -> None:
        self.real = real
        self.failures = failures
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return self.real(*args, **kwargs)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    recorded: List[float] = []
    monkeypatch.setattr(fsutil.time, "sleep", recorded.append)
    return recorded


def _write_entry(reg: Registry, tmp: Path) -> None:
    reg.ensure()
    reg.write(new_entry("s1", os.getpid(), str(tmp), "worker"))


def _remove_entry(reg: Registry, tmp: Path) -> None:
    _write_entry(reg, tmp)
    assert reg.remove("s1")


def _write_activity(reg: Registry, tmp: Path) -> None:
    activity.write_activity(reg.directory, "s1", activity.WORKING, prompt="hello")


def _remove_activity(reg: Registry, tmp: Path) -> None:
    activity.write_activity(reg.directory, "s1", activity.WORKING, prompt="hello")
    activity.remove_activity(reg.directory, "s1")


def _config(reg: Registry, tmp: Path) -> None:
    ConfigStore(str(tmp / "config")).save(Config(poll_interval=3.0))


def _pid_file(reg: Registry, tmp: Path) -> None:
    instance = SingleInstance(str(tmp / "state"))
    instance.acquire()
    instance.release()


def _quarantine(reg: Registry, tmp: Path) -> None:
    reg.ensure()
    Path(reg.directory, "broken.json").write_text("{not json")
    result = actions.clean(reg, grace=0, now=os.path.getmtime(Path(reg.directory, "broken.json")) + 1)
    assert len(result.quarantined) == 1 and not result.problems


def _settings_install(reg: Registry, tmp: Path) -> None:
    from tray.hooks import settings

    path = tmp / "claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"theme": "dark"}\n')
    settings.install(str(path), check_import=False)
    assert "hooks" in json.loads(path.read_text()) and json.loads(path.read_text())["theme"] == "dark"


def _settings_uninstall(reg: Registry, tmp: Path) -> None:
    from tray.hooks import settings

    path = tmp / "claude" / "settings.json"
    path.parent.mkdir()
    settings.install(str(path), check_import=False)  # creates the file: uninstall removes it again
    settings.uninstall(str(path))
    assert not path.exists()


WRITES: Dict[str, Callable[[Registry, Path], None]] = {
    "settings.json install (compare-and-swap)": _settings_install,
    "settings.json uninstall (removes the file it created)": _settings_uninstall,
    "entry write": _write_entry,
    "entry remove": _remove_entry,
    "activity write": _write_activity,
    "activity remove": _remove_activity,
    "tray config": _config,
    "tray pid file": _pid_file,
    "clean moves a file aside": _quarantine,
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_write_survives_a_windows_sharing_violation(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeps: List[float]
) -> None:
    """Each kind of write meets two sharing violations on its replace and its unlink, and still lands."""
    monkeypatch.setattr(fsutil, "WINDOWS", True)
    replace = Flaky(os.replace, 2)
    unlink = Flaky(os.unlink, 2)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    monkeypatch.setattr(fsutil.os, "unlink", unlink)
    reg = Registry(str(tmp_path / "registry"))
    WRITES[name](reg, tmp_path)
    assert replace.calls + unlink.calls > 2, "the write did not go through fsutil's replace/unlink"
    assert sleeps and all(0 < s <= max(fsutil.RETRY_DELAYS) for s in sleeps)
    if name == "entry write":
        assert reg.get("s1") is not None
    if name == "activity write":
        assert activity.read_all(reg.directory)["s1"].prompt == "hello"
    if name in ("entry remove", "activity remove"):
        assert reg.get("s1") is None and "s1" not in activity.read_all(reg.directory)


def test_the_retry_is_bounded_and_gives_the_error_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeps: List[float]
) -> None:
    monkeypatch.setattr(fsutil, "WINDOWS", True)
    replace = Flaky(os.replace, 10**6)  # the file stays open for good
    monkeypatch.setattr(fsutil.os, "replace", replace)
    reg = Registry(str(tmp_path / "registry"))
    with pytest.raises(PermissionError):
        _write_entry(reg, tmp_path)
    assert replace.calls == len(fsutil.RETRY_DELAYS) + 1
    assert sleeps == list(fsutil.RETRY_DELAYS) and sum(sleeps) < 2.0
    assert os.listdir(reg.directory) == []  # the temp file was removed: nothing half-done is left


def test_no_retry_off_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeps: List[float]) -> None:
    """On POSIX a PermissionError is a real refusal (a read-only folder): said at once, not waited on."""
    monkeypatch.setattr(fsutil, "WINDOWS", False)
    replace = Flaky(os.replace, 1)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    with pytest.raises(PermissionError):
        _write_entry(Registry(str(tmp_path / "registry")), tmp_path)
    assert replace.calls == 1 and sleeps == []


# --- the atomic writer ------------------------------------------------------------------------------------


def test_atomic_write_is_user_only_exact_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    old_umask = os.umask(0)
    try:
        fsutil.atomic_write_bytes(str(target), b"one")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        fsutil.atomic_write_bytes(str(target), b"two", mode=0o644)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f.json"]


def test_before_replace_can_abort_and_nothing_changes(tmp_path: Path) -> None:
    """The hook a compare-and-swap writer (settings.json) uses: raising there leaves the old file, no temp."""
    target = tmp_path / "settings.json"
    target.write_bytes(b"original")
    seen: List[str] = []

    class Changed(Exception):
        pass

    def check(temp: str) -> None:
        seen.append(Path(temp).read_bytes().decode())
        raise Changed

    with pytest.raises(Changed):
        fsutil.atomic_write_bytes(str(target), b"new", before_replace=check)
    assert seen == ["new"] and target.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["settings.json"]


def test_temp_names_of_a_255_byte_name_fit(tmp_path: Path) -> None:
    name = "é" * 125 + "x.json"  # 256 bytes would not fit; 255 does
    name = name[1:] if len(name.encode()) > 255 else name
    assert len(name.encode()) <= 255
    fsutil.atomic_write_bytes(str(tmp_path / name), b"data")
    assert (tmp_path / name).read_bytes() == b"data"
    temp = fsutil.temp_name(name)
    assert len(temp.encode()) <= fsutil.NAME_MAX and temp.endswith(".tmp")


@pytest.mark.parametrize("name", ["a" * 300, "é" * 200, "☕" * 100, "ab" + "名" * 100])
def test_fit_name_never_splits_a_character(name: str) -> None:
    for room in (0, 1, 16, 30):
        fitted = fsutil.fit_name(name, room)
        encoded = fitted.encode("utf-8")  # strict: a split character would not encode
        assert len(encoded) <= fsutil.NAME_MAX - room
        assert name.startswith(fitted) and len(encoded) > fsutil.NAME_MAX - room - 4


# --- the reader -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("follow", [False, True])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, follow: bool) -> None:
    fifo = tmp_path / "entry.json"
    os.mkfifo(fifo)
    with pytest.raises(fsutil.ReadRefused, match="not a regular file"):
        without_blocking(lambda: fsutil.read_regular_file(str(fifo), 100, follow=follow), fifo)


def test_a_link_to_a_fifo_is_refused_when_followed(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / ".git").symlink_to(fifo)
    with pytest.raises(fsutil.ReadRefused):
        without_blocking(lambda: fsutil.read_regular_file(str(tmp_path / ".git"), 100, follow=True), fifo)


def test_links_devices_and_large_files(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"x" * 100)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(fsutil.ReadRefused, match="symbolic link"):
        fsutil.read_regular_file(str(tmp_path / "link"), 1000)
    assert fsutil.read_regular_file(str(tmp_path / "link"), 1000, follow=True) == b"x" * 100
    with pytest.raises(fsutil.ReadRefused, match="too large"):
        fsutil.read_regular_file(str(real), 99)
    with pytest.raises(fsutil.ReadRefused, match="not a regular file"):
        fsutil.read_regular_file("/dev/zero", 10, follow=True)
    with pytest.raises(FileNotFoundError):
        fsutil.read_regular_file(str(tmp_path / "missing"), 10)


# --- helper paths and modes -------------------------------------------------------------------------------


def test_private_dir_refuses_links_files_and_keeps_folders_user_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(fsutil.NotOurs, match="symbolic link"):
        fsutil.private_dir(str(tmp_path / "link"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(fsutil.NotOurs, match="not a folder"):
        fsutil.private_dir(str(tmp_path / "file"))
    fd = fsutil.private_dir(str(tmp_path / "mine"))
    assert fd is not None
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o700
    assert os.listdir(outside) == []


def test_open_private_file_refuses_a_planted_link_and_creates_nothing_outside(tmp_path: Path) -> None:
    target = tmp_path / "outside-lock"
    (tmp_path / "lock").symlink_to(target)
    with pytest.raises(fsutil.NotOurs, match="symbolic link"):
        fsutil.open_private_file(str(tmp_path / "lock"))
    assert not target.exists()
    os.mkfifo(tmp_path / "fifo-lock")
    with pytest.raises(fsutil.NotOurs, match="not a regular file"):
        without_blocking(lambda: fsutil.open_private_file(str(tmp_path / "fifo-lock")), tmp_path / "fifo-lock")


def _open_chain(base: Path) -> None:
    """Make every folder from / to `base` searchable by others, as a home folder usually is."""
    for folder in [base, *base.parents]:
        if not os.stat(folder).st_mode & 0o001:
            pytest.skip(f"{folder} is not searchable by others here")


def test_loose_modes_are_reported_only_when_reachable(tmp_path_factory: pytest.TempPathFactory) -> None:
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="orchestray-modes-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        _open_chain(base)
        registry = base / "active"
        private.ensure_private_dir(str(registry))
        assert stat.S_IMODE(registry.stat().st_mode) == 0o700
        assert fsutil.loose_mode_warning(str(registry)) is None
        os.chmod(registry, 0o755)
        warning = fsutil.loose_mode_warning(str(registry))
        assert warning is not None and "other users" in warning and "0755" in warning
        assert f"chmod 700 {registry}" in warning
        os.chmod(base, 0o700)  # the way in is closed: nobody else can reach it
        assert fsutil.loose_mode_warning(str(registry)) is None
    finally:
        os.chmod(base, 0o700)
        import shutil

        shutil.rmtree(base)


# --- entries: future startedAt, session folders -----------------------------------------------------------


def test_a_future_started_at_is_bounded_by_the_file_time(tmp_path: Path) -> None:
    path = write_entry(str(tmp_path), "future", os.getpid(), str(tmp_path), started_at="2099-01-01T00:00:00Z")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    record = Registry(str(tmp_path)).get("future")
    assert record is not None and not isinstance(record, str)
    assert record.reference_ts(now=1_800_000_000) == 1_700_000_000  # type: ignore[union-attr]
    normal = write_entry(str(tmp_path), "normal", os.getpid(), str(tmp_path), started_at=iso(1_600_000_000))
    os.utime(normal, (1_700_000_000, 1_700_000_000))
    record = Registry(str(tmp_path)).get("normal")
    assert record.reference_ts(now=1_800_000_000) == 1_600_000_000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "bad", ["", "a\x00b", "/" + "x" * 4096, 42],
)
def test_check_cwd_refuses_what_the_registry_would_reject(bad: Any) -> None:
    with pytest.raises(InvalidCwd):
        check_cwd(bad)


def test_check_cwd_makes_relative_folders_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_cwd("p/q/../r") == str(tmp_path / "p" / "r")
    assert seed_entry("x", 1, check_cwd("."))["cwd"] == str(tmp_path)
