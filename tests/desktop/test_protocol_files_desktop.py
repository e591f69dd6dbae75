"""TRAFFIC.md and HANDOVER.md in the running tray on a StatusNotifierItem desktop (Xvfb, the SNI watcher and
host, dunst on a private bus): a project of real sleeping processes and real files.

The labels are read from the menu the tray exports over D-Bus (what the host draws), the clash notice from
dunst, "Create HANDOVER.md from template" is picked with the keyboard from the host's menu, and the opener is a
recording `xdg-open` first on the tray's PATH (it writes down its argv; nothing is opened).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import List, Optional

import pytest
from desktop import Desktop, MenuNode
from test_tray_desktop import cli, make_repo, tray_command, tray_env
from test_tray_sni import POLL, project

from tray.app.pystray_view import ICON_NAME

pytestmark = pytest.mark.desktop

ORCH = "7c1e2a90-1111-4aaa-8bbb-000000000001"
WORKER = "3e8a6c55-2222-4aaa-8bbb-000000000002"

TRAFFIC = f"""# Traffic Control — delta

## Active Sessions
| Session | Role | Domain | Branch | Last Update | Notes |
|---------|------|--------|--------|-------------|-------|
| {ORCH[:8]} | orchestrator | auth module | feature/auth | 2026-12-01 10:30 | extra column |
| {WORKER[:8]} | worker | dashboard | feature/dash |

## Claimed Files
| File | Claimed By | Since |
|------|------------|-------|
| app/auth.py | {ORCH[:8]} | 10:30 |
| app/dash.py | {WORKER[:8]} | 10:45 |
| app/auth.py | {WORKER[:8]} | 10:50 |

## Recent Handoffs
| From | To | Branch | Status |
|------|----|--------|--------|
"""


def recording_opener(folder: Path) -> Path:
    """An `xdg-open` that appends its arguments to a file (one line per call); returns that file."""
    folder.mkdir()
    record = folder / "opened.txt"
    script = folder / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return record


def test_menu_shows_claims_warns_once_and_creates_handover(sni_desktop: Desktop, tmp_path: Path, procs) -> None:
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    record = recording_opener(tmp_path / "bin")
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    repo = make_repo(tmp_path / "delta")
    (repo / "TRAFFIC.md").write_text(TRAFFIC, encoding="utf-8")
    traffic_before = (repo / "TRAFFIC.md").read_bytes()
    for session_id in (ORCH, WORKER):
        done = cli(env, "register", "--session-id", session_id, "--pid", str(procs.spawn().pid), "--cwd", str(repo))
        assert done.returncode == 0, done.stderr

    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")

    def listed() -> Optional[List[MenuNode]]:
        menu = d.sni_menu(ICON_NAME)
        return menu if project(menu, "delta") else None

    menu = d.wait_for(listed, timeout=30)
    node = project(menu, "delta")
    assert node is not None
    labels = [child.label for child in node.children]
    assert f"⚠ app/auth.py claimed by {ORCH[:8]}, {WORKER[:8]}" in labels, labels
    orchestrator = node.find(f"Orchestrator: {ORCH[:8]}")
    assert [c.label for c in orchestrator.children[:2]] == ["auth module · feature/auth", "Claims: app/auth.py"]
    worker = node.find(WORKER[:8])
    assert [c.label for c in worker.children[:2]] == ["dashboard · feature/dash", "Claims: app/dash.py, app/auth.py"]
    assert "Open TRAFFIC.md" in labels and "Create HANDOVER.md from template" in labels, labels

    # Pick "Create HANDOVER.md from template" from the host's menu: the file appears from the template and the
    # opener is asked to open it.
    icon = d.wait_for(lambda: d.icons_in_bar(d.host_bar()), timeout=10)
    d.sni_pick(ICON_NAME, icon.center, ["delta", "Create HANDOVER.md"], POLL)
    handover = repo / "HANDOVER.md"
    d.wait_for(lambda: record.exists() and str(handover) in record.read_text(), timeout=15)
    assert record.read_text().splitlines() == [str(handover)]
    assert handover.read_text(encoding="utf-8").startswith("# Handover — delta — ")
    assert "## Next Tasks (ordered)" in handover.read_text(encoding="utf-8")

    # The menu now offers to open it, with its age.
    def aged() -> Optional[MenuNode]:
        found = project(d.sni_menu(ICON_NAME), "delta")
        return found if found and any(c.label.startswith("Open HANDOVER.md, ") for c in found.children) else None

    d.wait_for(aged, timeout=20)

    tray.terminate()
    try:
        assert tray.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not stop")
    clash = [n for n in d.notifications() if n["summary"] == "delta: two sessions claim one file"]
    assert len(clash) == 1, clash
    assert (repo / "TRAFFIC.md").read_bytes() == traffic_before  # read, never rewritten
    assert "Traceback" not in (tmp_path / "desktop" / "tray.log").read_text()
