"""Acting from where the user looks, on a real desktop: notification buttons picked in a real dunst, and
"Focus terminal" raising real xterms under a real EWMH window manager (openbox), one of them inside tmux.

dunst shows a notification's actions in its context menu, which it hands to a `dmenu`-style program: here a
script that picks the action by name, what a person would click (tests/support/dunst_menu.py). Sessions are real
processes; their deaths are real kills; every effect is checked where the user sees it: the registry files,
dunst's notifications, the active window (`xdotool getactivewindow`) and tmux's own idea of its active pane.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest
from desktop import FOCUS_PACKAGES, FOCUS_TOOLS, Desktop, require_desktop, require_tools, start_desktop
from dunst_menu import ContextMenu
from tray_under_test import current_menu, keys_for, tray_command, tray_env

from tray.core import actions
from tray.core.registry import Registry

pytestmark = pytest.mark.desktop

ORCH = "7c1e2a90-1111-4aaa-8bbb-000000000001"
W_OLD = "3e8a6c55-2222-4aaa-8bbb-000000000002"
W_NEW = "9b4f0d11-3333-4aaa-8bbb-000000000003"
#: After the last expected notification, the tray gets this many seconds (10 polls) to send a wrong extra one.
SETTLE = 5.0


def _displayed(desktop: Desktop) -> int:
    """Notifications dunst shows now (without closing them: a closed notification has no actions left)."""
    out = desktop.run(["dunstctl", "count", "displayed"], check=False)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def _start_tray(desktop: Desktop, tmp_path: Path, registry_dir: str) -> subprocess.Popen:
    env = tray_env(desktop, tmp_path, registry_dir)
    tray = desktop.popen([*tray_command(), "tray", "--poll-interval", "0.5"], env=env, log="tray.log")
    desktop.find_window("^Orchestray", timeout=30)
    return tray


def _log(tmp_path: Path) -> str:
    path = tmp_path / "log" / "orchestray.log"
    return path.read_text() if path.exists() else ""


@contextlib.contextmanager
def _explained(tmp_path: Path, menu: ContextMenu) -> Iterator[None]:
    """A failure here carries what the tray logged and what dunst offered: what a person would look at."""
    try:
        yield
    except Exception as error:
        offered = menu.everything_offered() or "(nothing)"
        raise AssertionError(f"{type(error).__name__}: {error}\n--- tray log ---\n{_log(tmp_path)[-4000:]}"
                             f"\n--- dunst offered ---\n{offered[-2000:]}") from error


def test_promote_picked_in_dunst_and_one_notice_per_death(tmp_path: Path, procs) -> None:
    require_desktop()
    menu = ContextMenu(tmp_path)
    registry_dir = str(tmp_path / "registry")
    project = tmp_path / "shop"
    project.mkdir()
    registry = Registry(registry_dir)
    orch, old, new = procs.spawn(), procs.spawn(), procs.spawn()
    actions.register(registry, ORCH, orch.pid, str(project))
    actions.register(registry, W_OLD, old.pid, str(project))
    actions.register(registry, W_NEW, new.pid, str(project))

    with start_desktop(tmp_path / "desktop", dunst_settings={"dmenu": str(menu.script)}) as desktop, \
            _explained(tmp_path, menu):
        tray = _start_tray(desktop, tmp_path, registry_dir)

        # 1. The orchestrator dies (a real kill): one notice, with its buttons, in dunst.
        procs.kill(orch)
        desktop.wait_for(lambda: _displayed(desktop) >= 1, timeout=15)
        assert "notifiers, best first: desktop-notifier" in _log(tmp_path)  # built for the first notice
        menu.open(desktop, "Promote 3e8a6c55")
        desktop.wait_for(lambda: registry.get(W_OLD).role == "orchestrator", timeout=15)
        assert not os.path.exists(registry.path_for(ORCH))  # the dead orchestrator's entry went with it
        # Its buttons, and the click on its body under the click's own words (never an empty entry). dunst lists
        # both in one menu, so "Focus 3e8a6c55" is named once: the click, which does what its button would.
        assert sorted((e.label, e.action == "default") for e in menu.offered(desktop)) == [
            ("Focus 3e8a6c55", True), ("Promote 3e8a6c55", False)]
        assert "notifications are delivered by desktop-notifier" in _log(tmp_path)

        first = desktop.notifications()  # closes what is shown, so the next context menu is the next notice's
        assert [n["summary"] for n in first] == ["shop: orchestrator died"]

        # 2. Handing over: the successor dies before the user picks "Promote": refused, said in a notice.
        actions.vacate(registry, W_OLD)
        desktop.wait_for(lambda: _displayed(desktop) >= 1, timeout=15)
        procs.kill(new)
        menu.open(desktop, "Promote 9b4f0d11")
        desktop.wait_for(lambda: "promote refused" in _log(tmp_path), timeout=15)
        assert registry.get(W_OLD).role == "vacating" and registry.get(W_NEW).role == "worker"
        assert "Open HANDOVER.md" in menu.everything_offered()

        # Settle: polls keep running; nothing else may be said about these two episodes. Counted once dunst's
        # list has not changed for SETTLE seconds (the tray polls every 0.5 s), so a late duplicate fails.
        got = desktop.settled(lambda: [(n["summary"], n["body"], n["appname"]) for n in desktop.notifications()],
                              quiet=SETTLE, timeout=60, interval=0.5)
        assert got == [
            ("shop: orchestrator died",
             "Orchestrator 7c1e2a90 stopped running. Promote worker 3e8a6c55 to take over.", "Orchestray"),
            ("shop: orchestrator is handing over",
             "Orchestrator 3e8a6c55 wrote its handover. Read HANDOVER.md, then promote worker 9b4f0d11.",
             "Orchestray"),
            ("Orchestray: not promoted", f"shop: session 9b4f0d11 is no longer running (pid {new.pid})",
             "Orchestray"),
        ]
        tray.terminate()
        assert tray.wait(timeout=15) == 0
        assert "Traceback" not in _log(tmp_path)


# --- Focus terminal ---------------------------------------------------------------------------------------


def _fake_claude(bin_dir: Path) -> str:
    """A process named `claude` (a link to sleep: its process name is the link's)."""
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "claude"
    if not link.exists():
        link.symlink_to(shutil.which("sleep") or "/bin/sleep")
    return str(link)


def _children(pid: int) -> List[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                out.append(int(entry.name))
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _active(desktop: Desktop) -> str:
    return desktop.run(["xdotool", "getactivewindow"]).stdout.strip()


def _window_of(desktop: Desktop, title: str) -> str:
    return desktop.find_window(f"^{title}$", timeout=20)


def _focus_from_menu(desktop: Desktop, registry_dir: str, icon: tuple, path: List[str]) -> None:
    menu = current_menu(registry_dir)
    project = next(item.text for item in menu if item.children)
    desktop.click_popup(*icon, button=3)
    desktop.key(*keys_for(menu, [project, *path]))


def test_focus_terminal_raises_the_right_xterm_and_tmux_pane(tmp_path: Path) -> None:
    require_desktop()
    require_tools(FOCUS_TOOLS, FOCUS_PACKAGES)
    claude = _fake_claude(tmp_path / "bin")
    registry_dir = str(tmp_path / "registry")
    registry = Registry(registry_dir)
    project = tmp_path / "shop"
    project.mkdir()
    tmux_server = 0
    loose = None
    menu = ContextMenu(tmp_path)
    with start_desktop(tmp_path / "desktop", dunst_settings={"dmenu": str(menu.script)}) as desktop, \
            _explained(tmp_path, menu):
        try:
            desktop.popen(["openbox", "--config-file", "/dev/null"], log="openbox.log")
            desktop.wait_for(lambda: desktop.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], check=False)
                             .stdout.count("window id") == 1, timeout=15)
            # tmux's socket in the desktop's short runtime folder: AF_UNIX paths are capped at 107 bytes, and
            # tmp_path can be longer than that allows (a pytest run inside another one's, tests/e2e/test_frozen.py).
            sock = os.path.join(desktop.env["XDG_RUNTIME_DIR"], "tmux.sock")
            # xterm A runs `claude` directly; xterm B shows tmux, where `claude` runs in window "two", beside a
            # shell pane that is the active one; xterm C is a decoy that holds the focus before each click.
            xterm_a = desktop.popen(["xterm", "-T", "term-a", "-e", claude, "600"], log="xterm-a.log")
            script = (f"exec tmux -S {sock} new-session -s orch -n one \\; new-window -n two {claude} 600 \\; "
                      f"split-window -t orch:two sleep 600 \\; select-window -t orch:one")
            desktop.popen(["xterm", "-T", "term-b", "-e", "sh", "-c", script], env={"TERM": "xterm"},
                          log="xterm-b.log")
            desktop.popen(["xterm", "-T", "decoy", "-e", "sleep", "600"], log="xterm-c.log")
            win_a, win_b, decoy = (_window_of(desktop, t) for t in ("term-a", "term-b", "decoy"))

            def tmux(*args: str) -> str:
                return desktop.run(["tmux", "-S", sock, *args]).stdout.strip()

            desktop.wait_for(lambda: tmux("list-panes", "-t", "orch:two").count("\n") == 1, timeout=15)
            tmux_server = int(tmux("display-message", "-p", "#{pid}"))
            pane_a = desktop.wait_for(lambda: [p for p in _children(xterm_a.pid) if _comm(p) == "claude"], 15)[0]
            panes = dict(line.split() for line in tmux("list-panes", "-t", "orch:two", "-F",
                                                       "#{pane_pid} #{pane_id}").splitlines())
            pane_b = next(int(pid) for pid in panes if _comm(int(pid)) == "claude")
            claude_pane = panes[str(pane_b)]
            # A third session with no terminal at all (as if started over ssh): its parent is this test.
            loose = subprocess.Popen([claude, "600"])
            actions.register(registry, ORCH, pane_a, str(project))
            actions.register(registry, W_OLD, pane_b, str(project))
            actions.register(registry, W_NEW, loose.pid, str(project))

            tray = _start_tray(desktop, tmp_path, registry_dir)
            icon = desktop.geometry(desktop.find_window("^Orchestray", timeout=20)).center

            def focus_and_wait(path: List[str], expected: str, short: str) -> None:
                desktop.run(["xdotool", "windowactivate", "--sync", decoy])
                assert _active(desktop) == decoy
                _focus_from_menu(desktop, registry_dir, icon, path)
                desktop.wait_for(lambda: _active(desktop) == expected, timeout=10)
                # The tray saw it too (its action ends when the window manager reports the window active):
                # only then may the next step move the focus away.
                desktop.wait_for(lambda: f"focused {short}: raised xterm" in _log(tmp_path), timeout=10)

            # The orchestrator's xterm.
            focus_and_wait(["Orchestrator:", "Focus terminal"], win_a, "7c1e2a90")
            # The worker inside tmux: its xterm comes forward, tmux shows window "two" and claude's pane.
            focus_and_wait(["3e8a6c55", "Focus terminal"], win_b, "3e8a6c55")
            assert tmux("display-message", "-p", "-t", "orch", "#{window_name} #{pane_id}") == f"two {claude_pane}"
            # The session with no terminal: no window raised, and the user is told why.
            desktop.run(["xdotool", "windowactivate", "--sync", decoy])
            _focus_from_menu(desktop, registry_dir, icon, ["9b4f0d11", "Focus terminal"])
            notice = desktop.wait_for(lambda: [n for n in desktop.notifications()
                                               if n["summary"] == "Orchestray: cannot focus"], timeout=15)
            assert notice[0]["body"].startswith("shop: cannot focus 9b4f0d11: no terminal window found")
            assert _active(desktop) == decoy

            # From a notice: the orchestrator's `claude` dies; "Focus 3e8a6c55", picked in dunst, raises the
            # tmux worker's xterm.
            desktop.run(["xdotool", "windowactivate", "--sync", decoy])
            os.kill(pane_a, signal.SIGKILL)
            desktop.wait_for(lambda: _displayed(desktop) >= 1, timeout=15)
            menu.open(desktop, "Focus 3e8a6c55")
            desktop.wait_for(lambda: _active(desktop) == win_b, timeout=10)
            desktop.wait_for(lambda: _log(tmp_path).count("focused 3e8a6c55: raised xterm") == 2, timeout=10)
            # A click on a notice's body focuses the session it is about (dunst's default action). Here that
            # is the vacating orchestrator's successor, which has no terminal: nothing raised, the user is told.
            desktop.notifications()  # close what is shown
            actions.promote(registry, W_OLD)
            actions.vacate(registry, W_OLD)
            desktop.wait_for(lambda: _displayed(desktop) >= 1, timeout=15)
            desktop.run(["xdotool", "windowactivate", "--sync", decoy])
            desktop.run(["dunstctl", "action", "0"], timeout=20)

            def refusals() -> List[dict]:
                return [n for n in desktop.notifications() if n["summary"] == "Orchestray: cannot focus"]

            desktop.wait_for(lambda: len(refusals()) == 2, timeout=15)
            assert _active(desktop) == decoy
            tray.terminate()
            assert tray.wait(timeout=15) == 0
            log = _log(tmp_path)
            assert "focused 7c1e2a90: raised xterm" in log and "Traceback" not in log
            assert "notification action focus 3e8a6c55" in log and "notification action focus 9b4f0d11" in log
        finally:
            if loose is not None:
                loose.kill()
                loose.wait(timeout=10)
            if tmux_server:
                try:
                    os.kill(tmux_server, 15)
                except ProcessLookupError:
                    pass
