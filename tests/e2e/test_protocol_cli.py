"""`orchestray vacate` says where HANDOVER.md is and whether this session wrote it; `orchestray spawn` opens a
terminal running `claude --worktree` (see tests/desktop for a real xterm)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.helpers import run_cli

ORCH = "7c1e2a90-1111-4aaa-8bbb-000000000001"


def test_vacate_names_the_handover_and_says_whether_it_is_fresh(tmp_path: Path, procs):
    registry = str(tmp_path / "reg")
    project = tmp_path / "alpha"
    (project / "sub").mkdir(parents=True)
    (project / ".git").mkdir()
    boss = procs.spawn()
    done = run_cli(["register", "--session-id", ORCH, "--pid", boss.pid, "--cwd", project / "sub"],
                   registry_dir=registry)
    assert done.returncode == 0, done.stderr
    said = run_cli(["vacate", "--session-id", ORCH], registry_dir=registry)
    assert said.returncode == 0, said.stderr
    assert said.stdout.splitlines() == [
        f"{ORCH} is vacating: promote a worker to take over",
        f"no HANDOVER.md in {project}: write one there before you go (`orchestray handover --create` or the tray's "
        "menu makes one from the template)",
    ]
    handover = project / "HANDOVER.md"
    handover.write_text("# Handover\n")
    old = time.time() - 3 * 86400  # written long before this session started
    os.utime(handover, (old, old))
    said = run_cli(["vacate", "--session-id", ORCH], registry_dir=registry)
    assert said.stdout.splitlines()[1] == (
        f"HANDOVER.md: {handover} is older than this session (written 3d ago): bring it up to date"
    ), said.stdout
    os.utime(handover, None)  # now: written during this session
    said = run_cli(["vacate", "--session-id", ORCH], registry_dir=registry)
    line = said.stdout.splitlines()[1]
    assert line.startswith(f"HANDOVER.md: {handover} (fresh: written ") and line.endswith(" ago, during this session)")


WORKER = "3e8a6c55-2222-4aaa-8bbb-000000000002"


def test_check_shows_traffic_claims_tasks_handover_age_and_teams(tmp_path: Path):
    """`orchestray check` says what the tray's menu says beside the registry, for real processes and real files:
    each session's domain, branch and claimed files from TRAFFIC.md, a file two of them claim, the task list
    they share (from their own environment) and the task each holds, HANDOVER.md's age, and the agent team
    whose lead is one of them (a teammate whose liveness cannot be known says "unknown")."""
    import json
    import subprocess
    import sys

    from tests.support.task_files import task, write_list

    registry = str(tmp_path / "reg")
    project = tmp_path / "delta"
    (project / ".git").mkdir(parents=True)
    (project / "TRAFFIC.md").write_text(
        "# Traffic Control — delta\n\n## Active Sessions\n| Session | Role | Domain | Branch |\n|---|---|---|---|\n"
        f"| {ORCH[:8]} | orchestrator | auth module | feature/auth |\n| {WORKER[:8]} | worker | dashboard | |\n\n"
        "## Claimed Files\n| File | Claimed By | Since |\n|---|---|---|\n"
        f"| app/auth.py | {ORCH[:8]} | 10:30 |\n| app/auth.py | {WORKER[:8]} | 10:50 |\n", encoding="utf-8")
    before = (project / "TRAFFIC.md").read_bytes()
    handover = project / "HANDOVER.md"
    handover.write_text("# Handover\n")
    old = time.time() - 3 * 3600
    os.utime(handover, (old, old))
    config = tmp_path / "claude-config"
    write_list(config, "delta-tasks", [task("1", "Design the schema", "completed"),
                                       task("2", "Log-in page", "in_progress", owner=WORKER[:8]), task("3", "Docs")])
    team = config / "teams" / "delta-team" / "config.json"
    team.parent.mkdir(parents=True)
    team.write_text(json.dumps({
        "name": "delta-team", "leadAgentId": "team-lead@delta-team", "leadSessionId": ORCH,
        "members": [{"agentId": "team-lead@delta-team", "name": "team-lead", "backendType": "in-process"},
                    {"agentId": "tester@delta-team", "name": "tester", "tmuxPaneId": "%3", "backendType": "tmux"}]}))
    env = dict(os.environ, CLAUDE_CODE_TASK_LIST_ID="delta-tasks", CLAUDE_CONFIG_DIR=str(config))
    sessions = [subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], env=env,
                                 stdin=subprocess.PIPE) for _ in (ORCH, WORKER)]
    try:
        for session_id, process in zip((ORCH, WORKER), sessions):
            done = run_cli(["register", "--session-id", session_id, "--pid", process.pid, "--cwd", project],
                           registry_dir=registry)
            assert done.returncode == 0, done.stderr
        said = run_cli(["check"], registry_dir=registry)
        assert said.returncode == 0, said.stderr
        lines = said.stdout.splitlines()
        for expected in (
            f"  {ORCH[:8]}: auth module · feature/auth · claims app/auth.py",
            f"  {WORKER[:8]}: dashboard · claims app/auth.py",
            f"  ! app/auth.py claimed by {ORCH[:8]}, {WORKER[:8]}",
            "  tasks (delta-tasks): 1 open · 1 in progress · 1 done",
            f"  {WORKER[:8]} holds task #2: Log-in page",
            "  HANDOVER.md: 3h old",
            "  lead (orchestrator)  team-lead  alive",
            "  teammate (worker)    tester  unknown",
        ):
            assert expected in lines, said.stdout
        assert f"team delta-team  {team}" in lines, said.stdout
        assert (project / "TRAFFIC.md").read_bytes() == before  # read, never written
    finally:
        for process in sessions:
            process.kill()
            process.wait(timeout=10)


def test_handover_and_traffic_are_created_from_the_template_and_never_over_a_file(tmp_path: Path):
    """What the menu's "Create ..." items do, from the command line: the template with the project's name (and
    the date), the path printed; a file already there (or a FIFO of that name) is left exactly as it is."""
    import stat

    project = tmp_path / "alpha"
    (project / "sub").mkdir(parents=True)
    (project / ".git").mkdir()
    said = run_cli(["handover", "--cwd", project / "sub"])
    assert said.returncode == 1 and said.stderr == f"orchestray: no HANDOVER.md in {project}\n"
    days = {time.strftime("%Y-%m-%d")}
    made = run_cli(["handover", "--create", "--cwd", project / "sub"])
    days.add(time.strftime("%Y-%m-%d"))  # a run across midnight may write either day
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"created {project / 'HANDOVER.md'}\n"
    first = (project / "HANDOVER.md").read_text(encoding="utf-8").splitlines()[0]
    assert first in {f"# Handover — alpha — {day}" for day in days}, first
    assert run_cli(["handover", "--cwd", project]).stdout == f"{project / 'HANDOVER.md'}\n"

    assert run_cli(["traffic", "--cwd", project]).returncode == 1
    made = run_cli(["traffic", "--create", "--cwd", project])
    assert made.returncode == 0 and made.stdout == f"created {project / 'TRAFFIC.md'}\n", made.stderr
    text = (project / "TRAFFIC.md").read_text(encoding="utf-8")
    assert text.startswith("# Traffic Control — alpha\n") and "## Active Sessions" in text
    assert run_cli(["traffic", "--cwd", project]).stdout == f"{project / 'TRAFFIC.md'}\n"

    # Never over what is there: the user's edits, or (where there are FIFOs) one that a reader would block on.
    (project / "TRAFFIC.md").write_bytes(b"hand edited \x00")
    fifo = hasattr(os, "mkfifo")
    if fifo:
        os.mkfifo(project / "HANDOVER.md.fifo")
        os.replace(project / "HANDOVER.md.fifo", project / "HANDOVER.md")
    for name in ("traffic", "handover"):
        again = run_cli([name, "--create", "--cwd", project])
        assert again.returncode == 1 and "exists already" in again.stderr and again.stdout == "", again
    assert (project / "TRAFFIC.md").read_bytes() == b"hand edited \x00"
    assert stat.S_ISFIFO(os.lstat(project / "HANDOVER.md").st_mode) == fifo
    assert sorted(os.listdir(project)) == [".git", "HANDOVER.md", "TRAFFIC.md", "sub"]  # no temp file left
