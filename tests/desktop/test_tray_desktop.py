"""The tray on a real desktop, used as a person would: Xvfb + trayer (tray host) + dunst (notifications) on a
private D-Bus bus, Orchestray's real tray process, real Claude-Code-like sessions (sleeping processes).

The menu is opened with a real click on the icon and items are picked with the keyboard (GTK skips
separators and greyed-out items, so the key presses for an item are derived from the menu's labels, as a
person reading the menu would count them). Every effect is checked where the user would see it: the
registry files, dunst's notification history, the process list.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import List

import pytest
from desktop import colour_share
from tray_under_test import REPO, cli, current_menu, keys_for, make_repo, tray_command, tray_env

from tray.app import menu as m
from tray.app.icon import STATE_COLORS
from tray.core import activity
from tray.core.actions import ORPHAN_ACTIVITY_GRACE

pytestmark = pytest.mark.desktop

SCREENSHOT = REPO / "tests" / "artifacts" / "tray-menu.png"


def icon_colour(desktop, window: str, state: str) -> float:
    """The share of the icon window's pixels in ``state``'s colour, read from a screenshot of the screen."""
    return colour_share(desktop.screen_image(), desktop.geometry(window), STATE_COLORS[state])


def test_tray_menu_promote_notify_clean_quit(desktop, tmp_path: Path, procs) -> None:
    """On an XEmbed-only host (trayer): the tray picks the gtk backend by itself and never prints Gdk-CRITICAL.

    What the tray shows is read from the running tray: its tooltip (the gtk backend names the icon's X window
    after it) and its icon's colour on screen. There is no exported menu to read on XEmbed, so the key presses
    are counted on the menu Orchestray renders for the registry (as a person reading it would count) and the
    effect of each pick is checked in the registry; tests/test_tray_sni.py reads the labels themselves.
    """
    registry_dir = str(tmp_path / "registry")
    env = tray_env(desktop, tmp_path, registry_dir)
    alpha = make_repo(tmp_path / "alpha-service")
    (alpha / "HANDOVER.md").write_text("# Handover\n")
    beta = make_repo(tmp_path / "beta-web")
    sessions = {name: procs.spawn() for name in ("a-orch", "a-work", "b-orch", "b-work", "b-gone")}
    for name, cwd in (("a-orch", alpha), ("a-work", alpha), ("b-orch", beta), ("b-work", beta),
                      ("b-gone", beta)):
        done = cli(env, "register", "--session-id", name, "--pid", str(sessions[name].pid), "--cwd", str(cwd))
        assert done.returncode == 0, done.stderr
    sessions["b-gone"].kill()
    sessions["b-gone"].wait(timeout=10)
    # Activity files hold the last prompt: the dead session's, and one whose entry went long ago, go with the
    # clean up; a live session's stays.
    for name in ("a-work", "b-gone", "long-gone"):
        activity.write_activity(registry_dir, name, activity.WORKING, prompt=f"secret prompt of {name}")
    activities = Path(activity.activity_dir(registry_dir))
    long_ago = time.time() - ORPHAN_ACTIVITY_GRACE - 60
    os.utime(activities / "long-gone", (long_ago, long_ago))

    tray = desktop.popen([*tray_command(), "tray", "--poll-interval", "0.5"], env=env, log="tray.log")
    # 1. Both projects, all healthy: the tooltip says so, and the icon is drawn in the "ok" colour.
    window = desktop.find_window("^Orchestray: 2 project\\(s\\), 4 live session\\(s\\); all ok$", timeout=20)
    x, y = desktop.geometry(window).center
    desktop.wait_for(lambda: icon_colour(desktop, window, "ok") > 0.2, timeout=10)
    log_file = tmp_path / "log" / "orchestray.log"
    chosen = [line for line in log_file.read_text().splitlines() if "tray backend" in line]
    assert chosen and " gtk" in chosen[0] and "no StatusNotifierWatcher" in chosen[0], chosen

    # 2. An orchestrator dies: dunst receives "orchestrator died" naming the project and the successor.
    sessions["b-orch"].kill()
    sessions["b-orch"].wait(timeout=10)

    def died_notices() -> List[dict]:
        return [n for n in desktop.notifications() if "beta-web" in n["summary"] and "died" in n["summary"]]

    notice = desktop.wait_for(died_notices, timeout=15)
    assert "b-orch" in notice[0]["body"] and "b-work" in notice[0]["body"]

    # 3. The tray shows it (tooltip, red icon); promote the suggested successor from the menu.
    desktop.wait_for(lambda: "beta-web no orchestrator" in desktop.window_name(window), timeout=10)
    desktop.wait_for(lambda: icon_colour(desktop, window, "orphaned") > 0.1, timeout=10)
    before = Path(registry_dir, "b-work.json").read_text()
    menu = current_menu(registry_dir)
    project_label = next(item.text for item in menu if "beta-web" in item.text)
    # The menu as a person sees it now: the orphaned project comes first; keep a screenshot for the README.
    desktop.click_popup(x, y, button=3)
    desktop.key("Down", "Right")
    desktop.capture_open_menu(SCREENSHOT)
    desktop.click_popup(x, y, button=3)
    desktop.key(*keys_for(menu, [project_label, "b-work", "Promote to orchestrator"]))

    def promoted() -> bool:
        return '"role": "orchestrator"' in Path(registry_dir, "b-work.json").read_text()

    desktop.wait_for(promoted, timeout=10)
    assert Path(registry_dir, "b-work.json").read_text() != before
    assert not Path(registry_dir, "b-orch.json").exists()  # promote removes the dead orchestrator's entry

    # 4. Clean up, once the tray shows the promotion: the stale entry goes, every live one stays.
    desktop.wait_for(lambda: "3 live session(s)" in desktop.window_name(window)
                     and "no orchestrator" not in desktop.window_name(window), timeout=10)
    menu = current_menu(registry_dir)
    clean_label = next(item.text for item in menu if item.action == m.Action(m.ActionKind.CLEAN))
    desktop.click_popup(x, y, button=3)
    desktop.key(*keys_for(menu, [clean_label]))
    desktop.wait_for(lambda: not Path(registry_dir, "b-gone.json").exists(), timeout=10)
    assert sorted(p.name for p in Path(registry_dir).glob("*.json")) == ["a-orch.json", "a-work.json",
                                                                        "b-work.json"]
    assert sorted(p.name for p in activities.iterdir()) == ["a-work"]

    # 5. Quit from the menu: the process exits by itself, with status 0.
    desktop.click_popup(x, y, button=3)
    desktop.key("Up", "Return")
    assert tray.wait(timeout=15) == 0
    log = log_file.read_text()
    assert "tray stopped" in log and "Traceback" not in log
    # The tray has exited, so every notice it sent is in: one per death, a late duplicate fails here.
    assert len(died_notices()) == 1, died_notices()
    # Its own output (stdout and stderr): no GTK warning on an XEmbed host.
    output = (tmp_path / "desktop" / "tray.log").read_text()
    assert "Gdk-CRITICAL" not in output and "Traceback" not in output, output


def test_tray_without_display_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({"PYTHONPATH": str(REPO), "ORCHESTRAY_STATE_DIR": str(tmp_path / "state"),
                "ORCHESTRAY_LOG_DIR": str(tmp_path / "log")})
    done = subprocess.run(tray_command(), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestray: no display: the tray needs a graphical session (DISPLAY is not set)"
    ]


def test_second_tray_is_refused_while_the_first_runs(desktop, tmp_path: Path) -> None:
    env = tray_env(desktop, tmp_path, str(tmp_path / "registry"))
    first = desktop.popen(tray_command(), env=env, log="first.log")
    desktop.find_window("^Orchestray", timeout=20)
    second = subprocess.run(tray_command(), env=env, capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert second.stderr.strip() == f"orchestray: Orchestray is already running (pid {first.pid})"
    first.terminate()
    assert first.wait(timeout=15) == 0


def test_tray_without_a_menu_capable_backend_names_what_to_install(desktop, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(desktop.env)
    env.update({"PYTHONPATH": str(REPO), "PYSTRAY_BACKEND": "xorg",
                "ORCHESTRAY_LOG_DIR": str(tmp_path / "log"), "ORCHESTRAY_STATE_DIR": str(tmp_path / "state")})
    done = subprocess.run(tray_command(), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot show menus" in lines[0] and "PyGObject" in lines[0]



def test_tray_without_a_session_bus_runs_and_ends_on_sigterm(desktop, tmp_path: Path, procs) -> None:
    """A bare X session (startx with a window manager and trayer, or WSLg): a display and an XEmbed host, but no
    D-Bus session bus and no ``dbus-launch`` to start one. pystray's GTK backends ask for the session bus as
    they start (their own notifier); the tray still shows its icon, says so in one log line, and ends on
    SIGTERM. (It used to stop on that error and then hang, waiting for pystray's setup thread.)"""
    registry_dir = str(tmp_path / "registry")
    env = tray_env(desktop, tmp_path, registry_dir)
    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):  # GLib looks for $XDG_RUNTIME_DIR/bus too
        env.pop(name, None)
    bare = tmp_path / "bin"
    bare.mkdir()
    env["PATH"] = str(bare)  # no dbus-launch: GLib cannot start a bus of its own either
    repo = make_repo(tmp_path / "gamma")
    session = procs.spawn()
    done = cli(env, "register", "--session-id", "g-orch", "--pid", str(session.pid), "--cwd", str(repo))
    assert done.returncode == 0, done.stderr

    # Started here, not by desktop.popen (which would put this desktop's bus address back); ended by PID below.
    tray = subprocess.Popen([*tray_command(), "tray", "--poll-interval", "0.5"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        desktop.find_window("^Orchestray: 1 project\\(s\\), 1 live session\\(s\\); all ok$", timeout=30)
        log_file = tmp_path / "log" / "orchestray.log"
        desktop.wait_for(lambda: "pystray's notifier needs a session bus" in log_file.read_text(), timeout=10)
        assert "tray backend gtk: XEmbed tray: no session bus" in log_file.read_text()
        tray.terminate()
        assert tray.wait(timeout=15) == 0
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.wait(timeout=15)
    log = log_file.read_text()
    assert "tray stopped" in log and "tray stopped on an error" not in log and "Traceback" not in log
