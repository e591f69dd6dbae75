"""Bring a session's terminal to the front: from the `claude` PID to the window that shows it.

The walk, nearest first: the session's process and its ancestors. Inside tmux (the session's environment has
`TMUX` and that tmux server is one of its ancestors), the pane running the session is selected and the client
showing that tmux session is what gets raised (a tmux pane has no window of its own). Then, per platform:

- X11 (Linux, BSD; also XWayland): the top-level window whose `_NET_WM_PID` is the nearest ancestor, activated
  through EWMH `_NET_ACTIVE_WINDOW` (:mod:`tray.platform.focus_x11`, python-xlib, which pystray brings).
- macOS: Terminal.app or iTerm2, the tab or session whose tty is the session's (or the tmux client's), through
  `osascript` with the tty as an argument, never pasted into the script (:mod:`tray.platform.focus_macos`).
- Windows: the console window, or the Windows Terminal window that hosts it (:mod:`tray.platform.focus_windows`).

Never the wrong window: only a window owned by one of the session's own ancestors is raised, and a terminal
process with several windows (one server for many windows) is refused rather than guessed. Where nothing can be
found (ssh, Wayland, an unknown terminal), the result says why in one line. Hand-written: no maintained library
does this walk across the three platforms.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from tray.core.log import get_logger
from tray.platform.focus_base import FocusResult, Processes

log = get_logger("focus")

MAX_DEPTH = 32
TMUX_TIMEOUT = 5.0

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


def unavailable_reason(platform: str = sys.platform, env: Optional[Mapping[str, str]] = None) -> str:
    """Why "Focus terminal" cannot work on this desktop at all, or "" (then it is tried per session)."""
    env = os.environ if env is None else env
    if platform == "darwin" or platform.startswith(("win", "cygwin", "msys")):
        return ""
    if env.get("DISPLAY"):
        return ""
    if env.get("WAYLAND_DISPLAY"):
        return "Wayland lets no app raise another's window"
    return "no display"


# --- processes ---------------------------------------------------------------------------------------------


def chain(pid: int, processes: Processes) -> List[int]:
    """`pid` and its ancestors, nearest first (at most MAX_DEPTH), stopping before PID 1."""
    found: List[int] = []
    current: Optional[int] = pid
    while current is not None and current > 1 and current not in found and len(found) < MAX_DEPTH:
        found.append(current)
        current = processes.parent(current)
    return found


# --- tmux --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TmuxClient:
    pid: int
    tty: str


@dataclass(frozen=True)
class TmuxTarget:
    socket: str
    pane: str  # %N
    window: str  # @N
    session: str  # $N
    session_name: str


def _tmux_server(pid: int, ancestors: Sequence[int], processes: Processes) -> Tuple[str, int]:
    """The tmux socket and server PID that run this session, from its `TMUX` variable (`socket,pid,index`);
    ("", 0) when it does not run inside tmux."""
    value = processes.environ(pid).get("TMUX", "")
    parts = value.split(",")
    if len(parts) < 2 or not parts[0]:
        return "", 0
    try:
        server = int(parts[1])
    except ValueError:
        return "", 0
    # An inherited TMUX (claude started from a tmux shell into something else) names a server it is not under.
    return (parts[0], server) if server in ancestors else ("", 0)


class Tmux:
    """tmux commands on one socket (argv, no shell, under a timeout).

    The executable is the running server's own when it can be read (a GUI app on macOS has a PATH without
    Homebrew's folder), else `tmux` from PATH. Run with the user's library path, not a frozen build's.
    """

    def __init__(self, socket: str, run: Runner = subprocess.run, executable: Optional[str] = None) -> None:
        self.socket = socket
        self.run_impl = run
        self.executable = executable or shutil.which("tmux") or "tmux"

    def __call__(self, *args: str) -> str:
        from tray.platform.opener import child_env

        done = self.run_impl([self.executable, "-S", self.socket, *args], capture_output=True, text=True,
                             timeout=TMUX_TIMEOUT, check=False, stdin=subprocess.DEVNULL, env=child_env())
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]}: {(done.stderr or '').strip() or 'exit ' + str(done.returncode)}")
        return str(done.stdout or "")


def tmux_target(ancestors: Sequence[int], tmux: Tmux) -> Optional[TmuxTarget]:
    """The pane whose shell (`pane_pid`) is one of the session's ancestors."""
    listing = tmux("list-panes", "-a", "-F", "#{pane_pid}\t#{pane_id}\t#{window_id}\t#{session_id}\t#{session_name}")
    for line in listing.splitlines():
        fields = line.split("\t")
        if len(fields) == 5 and fields[0].isdigit() and int(fields[0]) in ancestors:
            return TmuxTarget(tmux.socket, fields[1], fields[2], fields[3], fields[4])
    return None


def tmux_select(target: TmuxTarget, tmux: Tmux) -> Optional[TmuxClient]:
    """Select the pane and its window; return the client that shows it (switching one there if none does)."""
    tmux("select-window", "-t", target.window)
    tmux("select-pane", "-t", target.pane)
    clients: List[Tuple[int, str, str, int]] = []
    for line in tmux("list-clients", "-F", "#{client_pid}\t#{client_tty}\t#{client_session}\t#{client_activity}")\
            .splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[0].isdigit():
            activity = int(fields[3]) if fields[3].isdigit() else 0
            clients.append((int(fields[0]), fields[1], fields[2], activity))
    if not clients:
        return None
    showing = [c for c in clients if c[2] == target.session_name]
    if not showing:
        latest = max(clients, key=lambda c: c[3])
        tmux("switch-client", "-c", latest[1], "-t", target.session)
        showing = [latest]
    best = max(showing, key=lambda c: c[3])
    return TmuxClient(best[0], best[1])


# --- the whole walk ----------------------------------------------------------------------------------------


def focus_pid(
    pid: int,
    platform: str = sys.platform,
    env: Optional[Mapping[str, str]] = None,
    processes: Optional[Processes] = None,
    run: Runner = subprocess.run,
    raise_window: Optional[Callable[[Sequence[int], str, Processes], FocusResult]] = None,
) -> FocusResult:
    """Raise the terminal that shows process `pid` (a Claude Code session). Never raises an exception.

    `raise_window(ancestors, tty, processes)` is the platform step (tests pass their own); by default the one
    for `platform`.
    """
    processes = processes or Processes()
    try:
        return _focus(pid, platform, os.environ if env is None else env, processes, run, raise_window)
    except Exception as error:  # noqa: BLE001 - the tray shows one line; the log has the detail
        log.exception("focus %d failed", pid)
        return FocusResult(False, f"{type(error).__name__}: {error}")


def _focus(
    pid: int,
    platform: str,
    env: Mapping[str, str],
    processes: Processes,
    run: Runner,
    raise_window: Optional[Callable[[Sequence[int], str, Processes], FocusResult]],
) -> FocusResult:
    problem = unavailable_reason(platform, env)
    ancestors = chain(pid, processes)
    if not ancestors or processes.name(pid) == "":
        return FocusResult(False, f"process {pid} is gone")
    raise_window = raise_window or _platform_step(platform, env, run)
    windows_side = platform.startswith(("win", "cygwin", "msys"))
    socket, server = ("", 0) if windows_side else _tmux_server(pid, ancestors, processes)
    tty = processes.terminal(pid)
    selected = ""
    if socket:
        tmux = Tmux(socket, run, processes.executable(server) or None)
        target = tmux_target(ancestors, tmux)
        if target is not None:
            client = tmux_select(target, tmux)
            selected = f"tmux pane {target.pane} of session {target.session_name}"
            if client is None:
                return FocusResult(False, f"selected {selected}, but no terminal is attached to tmux")
            ancestors, tty = chain(client.pid, processes), client.tty
    if problem:
        prefix = f"selected {selected}, but " if selected else ""
        return FocusResult(False, prefix + f"cannot raise a window: {problem}")
    result = raise_window(ancestors, tty, processes)
    if not result.ok and env.get("WAYLAND_DISPLAY") and not platform.startswith(("win", "darwin")):
        result = FocusResult(False, result.message + "; a Wayland-native terminal cannot be raised from here")
    if selected:
        if result.ok:
            return FocusResult(True, f"{result.message}; {selected}")
        return FocusResult(False, f"selected {selected}, but {result.message}")
    return result


def _platform_step(platform: str, env: Mapping[str, str], run: Runner
                   ) -> Callable[[Sequence[int], str, Processes], FocusResult]:
    if platform == "darwin":
        from tray.platform import focus_macos

        return lambda ancestors, tty, processes: focus_macos.raise_tab(ancestors, tty, processes, run)
    if platform.startswith(("win", "cygwin", "msys")):
        from tray.platform import focus_windows

        return lambda ancestors, tty, processes: focus_windows.raise_console(ancestors, processes)
    from tray.platform import focus_x11

    return lambda ancestors, tty, processes: focus_x11.raise_window(ancestors, processes, env.get("DISPLAY"))
