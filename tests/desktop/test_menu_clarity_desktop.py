"""The menu as a person reads it on a real StatusNotifierItem desktop (Xvfb, the SNI watcher and host, dunst on a
private bus): the points first seen there. The orchestrator's line is not greyed out, ages carry a word ("up"),
a project whose sessions all ended lists its stale entries instead of "(0 sessions)", a folder name with a
newline or escape codes stays one line, and a session working in `/` or with a file as its `cwd` gets a project
name that says so, not "/" or "passwd".

The labels are read from the menu the tray exports over D-Bus (dbusmenu ``GetLayout``), which is what the host
draws; sessions are real processes, the stale one a real process that was killed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List, Optional

import pytest
from desktop import Desktop, MenuNode
from tray_under_test import POLL, cli, make_repo, project, tray_command, tray_env

from tray.app.pystray_view import ICON_NAME

pytestmark = pytest.mark.desktop

ORCH = "7c1e2a90-1111-4aaa-8bbb-000000000001"
WORKER = "3e8a6c55-2222-4aaa-8bbb-000000000002"
GONE = "9b4f0d11-3333-4aaa-8bbb-000000000003"
ODD = "5d2c7e44-4444-4aaa-8bbb-000000000004"
ROOTED = "1a6b3f22-5555-4aaa-8bbb-000000000005"
FILED = "8e0d4c33-6666-4aaa-8bbb-000000000006"


def _every(items: List[MenuNode]) -> List[MenuNode]:
    out: List[MenuNode] = []
    for item in items:
        out += [item, *_every(item.children)]
    return out


def test_the_menu_reads_clearly_on_a_real_desktop(sni_desktop: Desktop, tmp_path: Path, procs) -> None:
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    delta = make_repo(tmp_path / "delta")
    gamma = make_repo(tmp_path / "gamma")
    odd = tmp_path / "two\nlines\x1b[31m"
    odd.mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "passwd").write_text("not a folder\n")

    def register(session_id: str, cwd: Path, pid: int) -> None:
        done = cli(env, "register", "--session-id", session_id, "--pid", str(pid), "--cwd", str(cwd))
        assert done.returncode == 0, done.stderr

    register(ORCH, delta, procs.spawn().pid)
    register(WORKER, delta, procs.spawn().pid)
    gone = procs.spawn()
    register(GONE, gamma, gone.pid)
    procs.kill(gone)  # a session that ended without deregistering: its project has only a stale entry
    register(ODD, odd, procs.spawn().pid)
    register(ROOTED, Path("/"), procs.spawn().pid)
    register(FILED, notes / "passwd", procs.spawn().pid)

    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    try:
        def listed() -> Optional[List[MenuNode]]:
            menu = d.sni_menu(ICON_NAME)
            names = ("delta", "gamma", "two lines", "filesystem root", "notes")
            return menu if all(project(menu, name) for name in names) else None

        menu = d.wait_for(listed, timeout=30)

        # The orchestrator's line reads as live: enabled (not greyed), with the word for its age.
        delta_node = project(menu, "delta")
        assert delta_node is not None
        line = delta_node.find(f"Orchestrator: {ORCH[:8]}")
        assert line.enabled and line.children, line
        assert " · up " in line.label, line.label
        assert " · up " in delta_node.find(WORKER[:8]).label

        # A project whose only session is gone says so and lists the stale entry.
        gamma_node = project(menu, "gamma")
        assert gamma_node is not None
        assert gamma_node.label == "○ gamma — stale (1 stale entry)", gamma_node.label
        labels = [child.label for child in gamma_node.children]
        assert f"Stale orchestrator: {GONE[:8]} · pid {gone.pid} gone" in labels, labels
        assert not any("0 sessions" in item.label for item in _every(menu))

        # Odd folders: one line each, and names that say what they are.
        assert not any(ch in item.label for item in _every(menu) for ch in "\n\r\x1b\x07"), \
            [item.label for item in _every(menu)]
        odd_node = project(menu, "two lines")
        assert odd_node is not None and odd_node.label.startswith("● two lines[31m — ok"), odd_node.label
        assert project(menu, "filesystem root") is not None
        notes_node = project(menu, "notes")
        assert notes_node is not None and notes_node.label.startswith("● notes — ok"), notes_node.label
        assert not any(item.label.startswith(("● / ", "● passwd")) for item in menu)
    finally:
        tray.terminate()
        try:
            tray.wait(timeout=15)
        except subprocess.TimeoutExpired:
            tray.kill()
            tray.wait(timeout=10)
    assert "Traceback" not in (tmp_path / "desktop" / "tray.log").read_text()
    assert os.path.isfile(notes / "passwd")  # a file given as a folder is only read about, never touched
