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
import sys
from pathlib import Path
from typing import List, Optional

import psutil
import pytest
from desktop import Desktop, MenuNode, require_tools
from tray_under_test import POLL, cli, make_repo, project, tray_command, tray_env

from tests.support.task_files import task, write_list
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


def test_menu_shows_claims_tasks_warns_once_and_creates_handover(sni_desktop: Desktop, tmp_path: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    record = recording_opener(tmp_path / "bin")
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    repo = make_repo(tmp_path / "delta")
    (repo / "TRAFFIC.md").write_text(TRAFFIC, encoding="utf-8")
    traffic_before = (repo / "TRAFFIC.md").read_bytes()
    # The sessions: real processes sharing one task list (CLAUDE_CODE_TASK_LIST_ID, as the protocol has every
    # terminal export it), with the list's files where Claude Code keeps them (their CLAUDE_CONFIG_DIR).
    config = tmp_path / "claude-config"
    session_env = dict(os.environ, CLAUDE_CODE_TASK_LIST_ID="delta-tasks", CLAUDE_CONFIG_DIR=str(config))
    sessions = [subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], env=session_env,
                                 stdin=subprocess.PIPE) for _ in (ORCH, WORKER)]
    request.addfinalizer(lambda: [(s.kill(), s.wait(timeout=10)) for s in sessions])
    write_list(config, "delta-tasks", [
        task("1", "Design the schema", "completed"),
        task("2", "Log-in page", "in_progress", owner=WORKER[:8]),
        task("3", "Backfill", blocked_by=["2"]),
        task("4", "Docs"),
    ])
    (config / "tasks" / "delta-tasks" / "5.json").write_bytes(b'{"id": "5", "subj')  # half-written
    for session_id, process in zip((ORCH, WORKER), sessions):
        done = cli(env, "register", "--session-id", session_id, "--pid", str(process.pid), "--cwd", str(repo))
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
    assert [c.label for c in worker.children[:3]] == ["dashboard · feature/dash", "Claims: app/dash.py, app/auth.py",
                                                      "Task #2: Log-in page"]
    assert "Tasks: 1 open · 1 in progress · 1 blocked · 1 done · ⚠ 1 unreadable" in labels, labels
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


def fake_claude(folder: Path, record: Path) -> Path:
    """A `claude` that writes down its working directory and argv, then stays running (as a session would)."""
    script = folder / "claude"
    script.write_text(f'#!/bin/sh\n{{ pwd; printf "%s\\n" "$@"; }} > "{record}.tmp"\nmv "{record}.tmp" "{record}"\n'
                      "sleep 600\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _claude_processes(script: Path) -> List[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if len(cmdline) >= 2 and cmdline[1] == str(script):
            found.append(process)
    return found


def _end_tree(process: psutil.Process) -> None:
    """End a terminal we caused to start, and what runs in it, each by PID."""
    try:
        family = [*process.children(recursive=True), process]
    except psutil.NoSuchProcess:
        return
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def test_new_worker_opens_a_real_xterm_running_claude_worktree_in_the_root(
        sni_desktop: Desktop, tmp_path: Path, procs) -> None:
    d = sni_desktop
    require_tools(["xterm"], "xterm")
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    (tmp_path / "bin").mkdir()
    record = tmp_path / "claude-argv.txt"
    script = fake_claude(tmp_path / "bin", record)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["TERMINAL"] = "xterm"
    repo = make_repo(tmp_path / "epsilon")
    (repo / "sub").mkdir()
    done = cli(env, "register", "--session-id", ORCH, "--pid", str(procs.spawn().pid), "--cwd", str(repo / "sub"))
    assert done.returncode == 0, done.stderr
    terminals: List[psutil.Process] = []
    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    try:
        d.wait_for(lambda: project(d.sni_menu(ICON_NAME), "epsilon"), timeout=30)
        icon = d.wait_for(lambda: d.icons_in_bar(d.host_bar()), timeout=10)
        d.sni_pick(ICON_NAME, icon.center, ["epsilon", "New worker"], POLL)
        d.wait_for(record.exists, timeout=30)
        assert record.read_text().splitlines() == [str(repo), "--worktree"]  # in the project's root
        (claude,) = d.wait_for(lambda: _claude_processes(script), timeout=10)
        terminal = claude.parent()
        assert terminal is not None
        terminals.append(terminal)
        assert terminal.name() == "xterm" and terminal.cmdline() == ["xterm", "-e", str(script), "--worktree"]
        assert claude.cwd() == str(repo)

        # The command line does the same, with a name, from a subfolder of the project.
        record.unlink()
        spawned = cli(env, "spawn", "--name", "feature-b", "--cwd", str(repo / "sub"))
        assert spawned.returncode == 0, spawned.stderr
        assert spawned.stdout.strip() == f"started xterm running claude --worktree in {repo}"
        d.wait_for(record.exists, timeout=30)
        assert record.read_text().splitlines() == [str(repo), "--worktree", "feature-b"]
        second = d.wait_for(lambda: [p for p in _claude_processes(script) if p.pid != claude.pid], timeout=10)
        terminals.append(second[0].parent())
        assert terminals[-1].cmdline() == ["xterm", "-e", str(script), "--worktree", "feature-b"]
        refused = cli(env, "spawn", "--name=-rf;x", "--cwd", str(repo))
        assert refused.returncode == 2 and "not a usable worktree name" in refused.stderr
    finally:
        for terminal in terminals:
            _end_tree(terminal)
        tray.terminate()
        tray.wait(timeout=15)
