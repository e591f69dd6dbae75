"""`New worker`: which terminal runs `claude --worktree [NAME] [--tmux]` on each platform, as recorded argv
(argument lists only; the project root is the working directory), and the names that are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tray.platform import spawn

CLAUDE = "/opt/claude/bin/claude"


def which_of(*found: str):
    table = {name: f"/usr/bin/{name}" for name in found}
    table["claude"] = CLAUDE

    def which(name: str) -> Optional[str]:
        return table.get(name)

    return which


class Recorder:
    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []

    def __call__(self, argv: List[str], **options: Any) -> None:
        self.calls.append({"argv": argv, **options})


def test_terminal_from_the_environment_then_debian_then_the_known_list(tmp_path: Path):
    root = str(tmp_path)
    cmd = [CLAUDE, "--worktree", "feat-x"]
    p = spawn.plan(root, "feat-x", platform="linux", environ={"TERMINAL": "xterm"}, which=which_of("xterm"))
    assert (p.argv, p.cwd, p.terminal) == (["xterm", "-e", *cmd], root, "xterm")
    p = spawn.plan(root, "feat-x", platform="linux", environ={"TERMINAL": "kitty"}, which=which_of("kitty"))
    assert p.argv == ["kitty", "--directory", root, *cmd]
    p = spawn.plan(root, "feat-x", platform="linux", environ={"TERMINAL": "myterm --big"}, which=which_of("myterm"))
    assert p.argv == ["myterm", "--big", "-e", *cmd]
    p = spawn.plan(root, "feat-x", platform="linux", environ={"TERMINAL": "gone"},
                   which=which_of("x-terminal-emulator", "xterm"))
    assert p.argv == ["x-terminal-emulator", "-e", *cmd]
    p = spawn.plan(root, None, True, platform="linux", environ={}, which=which_of("gnome-terminal", "xterm"))
    assert p.argv == ["gnome-terminal", f"--working-directory={root}", "--", CLAUDE, "--worktree", "--tmux"]
    with pytest.raises(spawn.SpawnRefused, match="no terminal found"):
        spawn.plan(root, platform="linux", environ={}, which=which_of())


def test_macos_runs_terminal_app_through_osascript_with_the_arguments_as_argv(tmp_path: Path):
    root = str(tmp_path / "it's; $(rm -rf ~)")
    Path(root).mkdir()
    p = spawn.plan(root, "feat-x", platform="darwin", environ={}, which=which_of())
    assert p.argv[0] == "osascript" and p.terminal == "Terminal.app"
    script = [p.argv[i + 1] for i, word in enumerate(p.argv[:-4]) if word == "-e"]
    assert script == list(spawn.OSASCRIPT)
    assert p.argv[-4:] == [root, CLAUDE, "--worktree", "feat-x"]  # data, quoted by AppleScript itself
    p = spawn.plan(root, platform="darwin", environ={}, which=lambda name: None)
    assert p.argv[-2:] == ["claude", "--worktree"]  # Finder's short PATH: Terminal's shell finds claude


def test_windows_terminal_else_a_new_console(tmp_path: Path):
    root = str(tmp_path)
    p = spawn.plan(root, "feat-x", platform="win32", environ={}, which=which_of("wt.exe"))
    assert p.argv == ["/usr/bin/wt.exe", "-d", root, CLAUDE, "--worktree", "feat-x"]
    p = spawn.plan(root, "feat-x", platform="win32", environ={}, which=which_of())
    assert (p.argv, p.cwd, p.creationflags) == ([CLAUDE, "--worktree", "feat-x"], root, spawn.CREATE_NEW_CONSOLE)
    record = Recorder()
    spawn.spawn(root, "feat-x", platform="win32", environ={}, which=which_of(), popen=record)
    (call,) = record.calls
    assert call["creationflags"] == spawn.CREATE_NEW_CONSOLE and call["cwd"] == root and call["shell"] is False
    assert "start_new_session" not in call


def test_spawn_runs_an_argv_in_the_root_without_the_callers_session(tmp_path: Path):
    record = Recorder()
    environ = {"TERMINAL": "xterm", "CLAUDE_CODE_SESSION_ID": "abc", "PATH": "/usr/bin"}
    spawn.spawn(str(tmp_path), "w1", platform="linux", environ=environ, which=which_of("xterm"), popen=record)
    (call,) = record.calls
    assert call["argv"] == ["xterm", "-e", CLAUDE, "--worktree", "w1"]
    assert call["cwd"] == str(tmp_path) and call["shell"] is False and call["start_new_session"] is True
    assert "CLAUDE_CODE_SESSION_ID" not in call["env"] and call["env"]["PATH"] == "/usr/bin"


@pytest.mark.parametrize("name", ["-rf", "a b", "x;calc", "$(id)", "a..b", "x.lock", "dir/", "'q'", "a\nb", "é"])
def test_names_a_command_line_could_misread_are_refused(tmp_path: Path, name: str):
    with pytest.raises(spawn.BadName):
        spawn.plan(str(tmp_path), name, platform="linux", environ={"TERMINAL": "xterm"}, which=which_of("xterm"))


def test_no_claude_or_no_folder_is_refused(tmp_path: Path):
    with pytest.raises(spawn.SpawnRefused, match="claude is not on PATH"):
        spawn.plan(str(tmp_path), platform="linux", environ={},
                   which=lambda name: "/usr/bin/xterm" if name == "xterm" else None)
    with pytest.raises(spawn.SpawnRefused, match="does not exist"):
        spawn.plan(str(tmp_path / "gone"), platform="linux", environ={}, which=which_of("xterm"))
