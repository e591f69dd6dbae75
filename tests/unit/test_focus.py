"""The focus walk without a desktop: tmux through recorded argv, macOS through recorded osascript argv, Windows
through a fake Win32 boundary. The real X11 path is proven in tests/test_actions_desktop.py."""

from __future__ import annotations

import subprocess
from typing import Any, Dict, List, Optional, Sequence

from tray.platform import focus, focus_macos, focus_windows
from tray.platform.focus_base import FocusResult, Processes

#  1 <- 100 (xterm) <- 110 (bash) <- 120 (claude, not in tmux)
#  1 <- 200 (tmux: server) <- 220 (claude in a pane, TMUX set)
#  1 <- 300 (Terminal) <- 310 (login) <- 320 (tmux: client)
TREE = {100: 1, 110: 100, 120: 110, 200: 1, 220: 200, 300: 1, 310: 300, 320: 310, 400: 1, 410: 400}
NAMES = {100: "xterm", 110: "bash", 120: "claude", 200: "tmux: server", 220: "claude", 300: "Terminal",
         310: "login", 320: "tmux: client", 400: "WindowsTerminal.exe", 410: "claude.exe"}


class FakeProcesses(Processes):
    def __init__(self, environ: Optional[Dict[int, Dict[str, str]]] = None, ttys: Optional[Dict[int, str]] = None):
        self.environs = environ or {}
        self.ttys = ttys or {}

    def parent(self, pid: int) -> Optional[int]:
        return TREE.get(pid)

    def name(self, pid: int) -> str:
        return NAMES.get(pid, "")

    def environ(self, pid: int) -> Dict[str, str]:
        return self.environs.get(pid, {})

    def terminal(self, pid: int) -> str:
        return self.ttys.get(pid, "")

    def executable(self, pid: int) -> str:
        return "/opt/homebrew/bin/tmux" if pid == 200 else ""


class Recorder:
    """Stands in for subprocess.run: records argv, answers from a table keyed by the tmux subcommand."""

    def __init__(self, answers: Dict[str, str]) -> None:
        self.answers = answers
        self.calls: List[List[str]] = []

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        assert "shell" not in kwargs and kwargs.get("timeout")
        self.calls.append(list(argv))
        key = argv[3] if argv[0].endswith("tmux") else "osascript"
        return subprocess.CompletedProcess(list(argv), 0, self.answers.get(key, ""), "")


def test_outside_tmux_the_window_step_gets_the_whole_ancestry():
    seen: List[Any] = []

    def step(ancestors: Sequence[int], tty: str, processes: Processes) -> FocusResult:
        seen.append((list(ancestors), tty))
        return FocusResult(True, "raised xterm")

    result = focus.focus_pid(120, "linux", {"DISPLAY": ":9"}, FakeProcesses(ttys={120: "/dev/pts/3"}),
                             run=Recorder({}), raise_window=step)
    assert result == FocusResult(True, "raised xterm")
    assert seen == [([120, 110, 100], "/dev/pts/3")]


def test_inside_tmux_the_pane_is_selected_and_its_client_is_raised():
    run = Recorder({
        "list-panes": "220\t%3\t@2\t$0\torch\n999\t%1\t@1\t$0\torch\n",
        "list-clients": "320\t/dev/ttys004\torch\t1700000000\n",
    })
    processes = FakeProcesses(environ={220: {"TMUX": "/tmp/t/sock,200,0"}})
    seen: List[Any] = []

    def step(ancestors: Sequence[int], tty: str, processes: Processes) -> FocusResult:
        seen.append((list(ancestors), tty))
        return FocusResult(True, "raised Terminal")

    result = focus.focus_pid(220, "darwin", {}, processes, run=run, raise_window=step)
    assert result == FocusResult(True, "raised Terminal; tmux pane %3 of session orch")
    assert {call[0] for call in run.calls} == {"/opt/homebrew/bin/tmux"}  # the server's own binary
    assert [call[1:] for call in run.calls] == [
        ["-S", "/tmp/t/sock", "list-panes", "-a", "-F",
         "#{pane_pid}\t#{pane_id}\t#{window_id}\t#{session_id}\t#{session_name}"],
        ["-S", "/tmp/t/sock", "select-window", "-t", "@2"],
        ["-S", "/tmp/t/sock", "select-pane", "-t", "%3"],
        ["-S", "/tmp/t/sock", "list-clients", "-F",
         "#{client_pid}\t#{client_tty}\t#{client_session}\t#{client_activity}"],
    ]
    assert seen == [([320, 310, 300], "/dev/ttys004")]  # the client's terminal, not the pane's


def test_a_tmux_session_nobody_shows_is_switched_into_the_latest_client():
    run = Recorder({
        "list-panes": "220\t%3\t@2\t$4\twork\n",
        "list-clients": "320\t/dev/pts/9\tother\t5\n",
    })
    processes = FakeProcesses(environ={220: {"TMUX": "/s,200,4"}})
    result = focus.focus_pid(220, "linux", {"DISPLAY": ":1"}, processes, run=run,
                             raise_window=lambda a, t, p: FocusResult(True, "ok"))
    assert result.ok
    assert ["-S", "/s", "switch-client", "-c", "/dev/pts/9", "-t", "$4"] in [c[1:] for c in run.calls]


def test_an_inherited_tmux_variable_is_ignored():
    """TMUX names server 200, but the session does not run under it: no tmux command at all."""
    run = Recorder({})
    processes = FakeProcesses(environ={120: {"TMUX": "/s,200,0"}})
    focus.focus_pid(120, "linux", {"DISPLAY": ":1"}, processes, run=run,
                    raise_window=lambda a, t, p: FocusResult(False, "no window"))
    assert run.calls == []


def test_wayland_and_no_display_say_why_and_still_select_the_tmux_pane():
    assert focus.unavailable_reason("linux", {"WAYLAND_DISPLAY": "wayland-0"}) == (
        "Wayland lets no app raise another's window")
    assert focus.unavailable_reason("linux", {"WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}) == ""  # XWayland
    assert focus.unavailable_reason("darwin", {}) == "" and focus.unavailable_reason("win32", {}) == ""
    run = Recorder({"list-panes": "220\t%3\t@2\t$0\torch\n", "list-clients": "320\t/dev/pts/1\torch\t1\n"})
    result = focus.focus_pid(220, "linux", {"WAYLAND_DISPLAY": "w"},
                             FakeProcesses(environ={220: {"TMUX": "/s,200,0"}}), run=run,
                             raise_window=lambda a, t, p: FocusResult(True, "must not be called"))
    assert result == FocusResult(False, "selected tmux pane %3 of session orch, but cannot raise a window: "
                                        "Wayland lets no app raise another's window")
    # XWayland: X11 windows can be raised, a Wayland-native terminal cannot, and the refusal says so.
    xwayland = focus.focus_pid(120, "linux", {"WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}, FakeProcesses(),
                               run=Recorder({}), raise_window=lambda a, t, p: FocusResult(False, "no window"))
    assert xwayland == FocusResult(False, "no window; a Wayland-native terminal cannot be raised from here")


def test_a_gone_process_is_said_not_raised():
    result = focus.focus_pid(12345, "linux", {"DISPLAY": ":1"}, FakeProcesses(), run=Recorder({}),
                             raise_window=lambda a, t, p: FocusResult(True, "wrong"))
    assert result == FocusResult(False, "process 12345 is gone")


# --- macOS: osascript argv, the tty as an argument ---------------------------------------------------------


def test_macos_terminal_tab_by_tty_through_argv_only():
    run = Recorder({"osascript": "ok\n"})
    result = focus_macos.raise_tab([320, 310, 300], "/dev/ttys004", FakeProcesses(), run)
    assert result == FocusResult(True, "raised the Terminal tab on /dev/ttys004")
    (argv,) = run.calls
    assert argv[0] == "/usr/bin/osascript" and argv[-1] == "/dev/ttys004"
    script = "\n".join(argv[2:-1:2])
    assert argv[1:-1:2] == ["-e"] * (len(argv[1:-1]) // 2)
    assert 'tell application "Terminal"' in script and "ttys004" not in script  # never pasted into the script


def test_macos_iterm_and_unknown_terminals():
    names = dict(NAMES)
    names[300] = "iTerm2"

    class ITerm(FakeProcesses):
        def name(self, pid: int) -> str:
            return names.get(pid, "")

    run = Recorder({"osascript": "not found"})
    assert focus_macos.raise_tab([320, 310, 300], "/dev/ttys001", ITerm(), run) == FocusResult(
        False, "iTerm2 has no tab on /dev/ttys001")
    assert 'tell application "iTerm2"' in " ".join(run.calls[0])
    names[300] = "Alacritty"
    assert focus_macos.raise_tab([320, 310, 300], "/dev/ttys001", ITerm(), run) == FocusResult(
        False, "not in Terminal or iTerm2 (its outermost process is Alacritty)")
    assert len(run.calls) == 1


# --- Windows: a fake Win32 boundary ------------------------------------------------------------------------


class FakeWin32:
    def __init__(self, windows: Dict[int, int], visible: Sequence[int], console: Dict[int, int],
                 owners: Optional[Dict[int, int]] = None) -> None:
        self.windows, self.visible, self.console = windows, set(visible), console
        self.owners = owners or {}
        self.raised: List[int] = []

    def top_windows(self) -> List[int]:
        return list(self.windows)

    def window_pid(self, hwnd: int) -> int:
        return self.windows.get(hwnd, 0)

    def is_visible(self, hwnd: int) -> bool:
        return hwnd in self.visible

    def console_window_of(self, pid: int) -> int:
        return self.console.get(pid, 0)

    def root_owner(self, hwnd: int) -> int:
        return self.owners.get(hwnd, hwnd)

    def bring_to_front(self, hwnd: int) -> bool:
        self.raised.append(hwnd)
        return True


def test_windows_classic_console_window_is_raised():
    api = FakeWin32({0x10: 999}, visible=[0x10], console={410: 0x10})
    result = focus_windows.raise_console([410, 400], FakeProcesses(), api)
    assert result == FocusResult(True, "raised its console window") and api.raised == [0x10]


def test_windows_terminal_tab_through_the_pseudo_console_owner():
    # ConPTY's hidden window 0x20 is owned by the Windows Terminal window 0x30 that shows the tab.
    api = FakeWin32({0x20: 500, 0x30: 400, 0x31: 400}, visible=[0x30, 0x31], console={410: 0x20},
                    owners={0x20: 0x30})
    result = focus_windows.raise_console([410, 400], FakeProcesses(), api)
    assert result == FocusResult(True, "raised the WindowsTerminal.exe window of its tab") and api.raised == [0x30]


def test_windows_never_guesses_between_several_windows():
    api = FakeWin32({0x30: 400, 0x31: 400}, visible=[0x30, 0x31], console={})
    result = focus_windows.raise_console([410, 400], FakeProcesses(), api)
    assert result == FocusResult(False, "WindowsTerminal.exe (pid 400) shows 2 windows; cannot tell which one")
    assert api.raised == []
    lone = FakeWin32({0x40: 999}, visible=[0x40], console={})
    assert focus_windows.raise_console([410, 400], FakeProcesses(), lone).ok is False and lone.raised == []


def test_the_windows_branch_skips_tmux_and_uses_the_console_step():
    seen: List[Any] = []
    result = focus.focus_pid(410, "win32", {}, FakeProcesses(environ={410: {"TMUX": "/s,400,0"}}),
                             run=Recorder({}), raise_window=lambda a, t, p: seen.append(list(a)) or FocusResult(
                                 True, "raised"))
    assert result.ok and seen == [[410, 400]]
