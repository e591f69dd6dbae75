"""Opening files: the exact file only, the platform opener only, and never a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List

import pytest

from tray.platform.opener import child_env, open_path, opener_argv, project_file

# A file name a shell would run commands from; Windows forbids " | > in names, so it gets a milder one.
NASTY = (
    "we'ird name; $(touch pwned1) `touch pwned2` & touch pwned3.md"
    if sys.platform == "win32"
    else 'we\'ird "name"; $(touch pwned1) `touch pwned2` && touch pwned3 | x > y.md'
)


class FakePopen:
    """Records what ``subprocess.Popen`` would have been given."""

    def __init__(self) -> None:
        self.calls: List[Any] = []

    def __call__(self, args: Any, **kwargs: Any) -> FakePopen:
        self.calls.append((args, kwargs))
        return self

    def wait(self) -> int:
        return 0


# --- project_file -----------------------------------------------------------------------------------------


def test_regular_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "HANDOVER.md").write_text("hand over")
    found = project_file(tmp_path, "HANDOVER.md")
    assert found == os.path.join(os.path.realpath(tmp_path), "HANDOVER.md")
    assert project_file(str(tmp_path), "HANDOVER.md") == found


def test_missing_file(tmp_path: Path) -> None:
    assert project_file(tmp_path, "TRAFFIC.md") is None
    assert project_file(tmp_path / "no-such-dir", "TRAFFIC.md") is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_to_outside_is_refused(tmp_path: Path) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside / "secret.txt", project / "HANDOVER.md")
    assert project_file(project, "HANDOVER.md") is None
    # a symlink to a directory outside as well
    os.symlink(outside, project / "TRAFFIC.md")
    assert project_file(project, "TRAFFIC.md") is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_inside_the_project_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x")
    os.symlink(tmp_path / "notes.md", tmp_path / "HANDOVER.md")
    assert project_file(tmp_path, "HANDOVER.md") is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_project_reached_through_a_symlinked_folder_still_works(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "HANDOVER.md").write_text("x")
    os.symlink(real, tmp_path / "alias")
    assert project_file(tmp_path / "alias", "HANDOVER.md") == os.path.join(os.path.realpath(real), "HANDOVER.md")


def test_directory_with_the_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "HANDOVER.md").mkdir()
    assert project_file(tmp_path, "HANDOVER.md") is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_with_the_name_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "HANDOVER.md")
    assert project_file(tmp_path, "HANDOVER.md") is None


def test_wrong_case_is_refused(tmp_path: Path) -> None:
    (tmp_path / "handover.md").write_text("lower case")
    assert project_file(tmp_path, "HANDOVER.md") is None
    assert project_file(tmp_path, "handover.md") is not None


@pytest.mark.parametrize("name", ["", ".", "..", "../HANDOVER.md", "sub/HANDOVER.md", "sub\\HANDOVER.md", "a\0b"])
def test_names_that_are_not_plain_file_names_are_refused(tmp_path: Path, name: str) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "HANDOVER.md").write_text("x")
    (tmp_path / "HANDOVER.md").write_text("x")
    assert project_file(sub, name) is None


# --- the platform branches, with injected runners ---------------------------------------------------------


def test_windows_branch_uses_startfile(tmp_path: Path) -> None:
    target = tmp_path / NASTY
    target.write_text("x")
    seen: List[str] = []
    popen = FakePopen()
    open_path(target, platform="win32", startfile=seen.append, popen=popen)
    assert seen == [str(target)]
    assert popen.calls == []


def _no_association() -> OSError:
    error = OSError(22, "No application is associated with the specified file for this operation")
    error.winerror = 1155  # type: ignore[attr-defined]  # what os.startfile raises on Windows
    return error


def test_windows_file_type_with_no_program_asks_which_program(tmp_path: Path) -> None:
    """Risk to settle from issue 17: `os.startfile` on a `.md` no program is associated with. The user gets
    Windows' "How do you want to open this file?" (the `openas` verb), as from Explorer."""
    target = tmp_path / "HANDOVER.md"
    target.write_text("x")
    calls: List[tuple] = []

    def startfile(path: str, *operation: str) -> None:
        calls.append((path, *operation))
        if not operation:
            raise _no_association()

    open_path(target, platform="win32", startfile=startfile, popen=FakePopen())
    assert calls == [(str(target),), (str(target), "openas")]


def test_windows_with_no_program_and_no_dialog_says_so_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "HANDOVER.md"
    target.write_text("x")

    def startfile(path: str, *operation: str) -> None:
        raise _no_association()

    with pytest.raises(OSError) as failed:
        open_path(target, platform="win32", startfile=startfile, popen=FakePopen())
    message = str(failed.value)
    assert "no program opens .md files here" in message and "Default apps" in message and "\n" not in message


def test_windows_other_errors_are_not_retried(tmp_path: Path) -> None:
    target = tmp_path / "HANDOVER.md"
    target.write_text("x")
    calls: List[tuple] = []

    def startfile(path: str, *operation: str) -> None:
        calls.append((path, *operation))
        raise PermissionError(13, "Access is denied")

    with pytest.raises(PermissionError):
        open_path(target, platform="win32", startfile=startfile, popen=FakePopen())
    assert calls == [(str(target),)]


def test_macos_branch_runs_open_with_an_argument_list(tmp_path: Path) -> None:
    target = tmp_path / NASTY
    target.mkdir()
    popen = FakePopen()
    open_path(target, platform="darwin", popen=popen, frozen=False)
    ((args, kwargs),) = popen.calls
    assert args == ["open", str(target)]
    assert kwargs["shell"] is False
    assert kwargs["start_new_session"] is True
    assert kwargs["stdin"] is kwargs["stdout"] is kwargs["stderr"] is subprocess.DEVNULL


def test_linux_branch_runs_xdg_open(tmp_path: Path) -> None:
    popen = FakePopen()
    open_path(tmp_path, platform="linux", popen=popen, frozen=False)
    assert popen.calls[0][0] == ["xdg-open", str(tmp_path)]


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("-rf").write_text("x")
    assert opener_argv("-rf", "linux") == ["xdg-open", str(tmp_path / "-rf")]
    assert opener_argv("https:x", "darwin") == ["open", str(tmp_path / "https:x")]
    with pytest.raises(ValueError):
        opener_argv("x", "win32")


def test_missing_path_raises_before_anything_runs(tmp_path: Path) -> None:
    popen = FakePopen()
    with pytest.raises(FileNotFoundError):
        open_path(tmp_path / "gone", platform="linux", popen=popen)
    assert popen.calls == []


def test_frozen_child_gets_the_original_library_path() -> None:
    env = {"LD_LIBRARY_PATH": "/tmp/_MEI123", "LD_LIBRARY_PATH_ORIG": "/usr/local/lib", "HOME": "/h"}
    assert child_env(env, frozen=True)["LD_LIBRARY_PATH"] == "/usr/local/lib"
    assert "LD_LIBRARY_PATH" not in child_env({"LD_LIBRARY_PATH": "/tmp/_MEI123"}, frozen=True)
    assert child_env(env, frozen=False) == env
    assert env["LD_LIBRARY_PATH"] == "/tmp/_MEI123", "the caller's mapping is not modified"


# --- a real run on Linux with a fake xdg-open ---------------------------------------------------------------


RECORDER = """#!{python}
import json, os, sys
devnull = os.stat(os.devnull)
same = lambda fd: (lambda s: (s.st_rdev, s.st_ino) == (devnull.st_rdev, devnull.st_ino))(os.fstat(fd))
with open({record!r}, "w") as f:
    json.dump({{"argv": sys.argv[1:], "ld": os.environ.get("LD_LIBRARY_PATH"),
               "own_session": os.getsid(0) == os.getpid(),
               "devnull": [same(0), same(1), same(2)]}}, f)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runs the Linux branch for real")
@pytest.mark.parametrize("frozen", [False, True])
def test_real_xdg_open_gets_one_argument_and_no_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: bool
) -> None:
    bindir, workdir, record = tmp_path / "bin", tmp_path / "work", tmp_path / "record.json"
    bindir.mkdir()
    workdir.mkdir()
    fake = bindir / "xdg-open"
    fake.write_text(RECORDER.format(python=sys.executable, record=str(record)))
    fake.chmod(0o755)
    project = workdir / "project"
    project.mkdir()
    (project / NASTY).write_text("x")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/bundle/lib")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/orig/lib")
    monkeypatch.chdir(workdir)  # where `touch pwnedN` would land if anything were run by a shell

    started: List[subprocess.Popen] = []

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen:
        started.append(subprocess.Popen(*args, **kwargs))
        return started[-1]

    found = project_file(project, NASTY)
    assert found is not None
    open_path(found, popen=popen, frozen=frozen)
    assert started[0].wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    data = json.loads(record.read_text())
    assert data["argv"] == [found]
    assert data["own_session"] is True
    assert data["devnull"] == [True, True, True]
    assert data["ld"] == ("/orig/lib" if frozen else "/bundle/lib")
    for marker in ("pwned1", "pwned2", "pwned3", "y.md"):
        assert not (workdir / marker).exists()
        assert not (project / marker).exists()
    assert sorted(os.listdir(workdir)) == ["project"]
    assert sorted(os.listdir(project)) == [NASTY]
