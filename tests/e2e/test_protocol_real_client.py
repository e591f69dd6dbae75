"""The rest of the protocol with the real Claude Code client: its shared task list as the tray shows it, and a
new worker started the way "New worker" / `orchestray spawn` starts one (`claude --worktree NAME`).

The task files are the client's own: the stand-in API makes the model call ToolSearch, then TaskCreate and
TaskUpdate, and the client writes the list where it keeps it (``<config>/tasks/<list id>/``). Nothing here writes
a task file; what is checked is what the tray's menu shows for those files and the session process's own
environment (``CLAUDE_CODE_TASK_LIST_ID``, as the protocol has every sharing terminal export it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List

from claude_api import ToolUse
from real_claude import ClaudeWorld, wait_until

from tray.app import menu as m
from tray.core import projectfiles, tasklists
from tray.core.liveness import LivenessProbe
from tray.core.projects import ProjectResolver
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot
from tray.platform.spawn import claude_command

LIST_ID = "delta tasks"  # the client makes the folder name of it: "delta-tasks"
#: The client offers its task tools only to some models unless this is set (2.1.332: `mce()` in the bundle).
TASK_ENV = {"CLAUDE_CODE_ENABLE_TODO_TOOLS": "1", tasklists.LIST_ENV: LIST_ID}


def _repo(path: Path) -> Path:
    """A git repository with one commit: `claude --worktree` branches a worktree off HEAD."""
    path.mkdir()
    git = ["git", "-C", str(path), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    (path / "README.md").write_text("delta\n")
    subprocess.run([*git, "add", "README.md"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True, timeout=30)
    return path


def _labels(items: tuple) -> List[str]:
    out: List[str] = []
    for item in items:
        out += [item.text, *_labels(item.children)]
    return out


def test_the_clients_own_task_list_shows_in_the_menu_and_a_worktree_worker_joins_the_project(
        claude_world: ClaudeWorld, tmp_path: Path) -> None:
    world = claude_world
    repo = _repo(tmp_path / "delta")
    lead = world.start(repo, env=TASK_ENV)
    entry = world.wait_entry(lead, "registered as orchestrator", lambda e: e["role"] == "orchestrator")
    lead_id = str(entry["sessionId"])

    # The model plans two tasks and takes the second: the client's own tools write the files.
    api = world.api
    api.when("plan the work", ToolUse("ToolSearch", {"query": "select:TaskCreate,TaskUpdate"}))
    api.after("Tool loaded", ToolUse("TaskCreate", {"subject": "Design the schema", "description": "tables",
                                                    "activeForm": "Designing the schema"}))
    api.after("Task #1 created", ToolUse("TaskCreate", {"subject": "Log-in page", "description": "the form",
                                                        "activeForm": "Building the log-in page"}))
    api.after("Task #2 created", ToolUse("TaskUpdate", {"taskId": "2", "status": "in_progress",
                                                        "owner": lead_id[:8]}))
    lead.prompt("please plan the work")
    config = str(world.config)

    def planned() -> object:
        found = tasklists.read_list(config, LIST_ID)
        return found if found is not None and [t.status for t in found.tasks] == ["pending", "in_progress"] else None

    task_list = wait_until(planned, 120, "the client to write two tasks, the second in progress")
    assert task_list.folder == os.path.join(config, "tasks", "delta-tasks") and task_list.unreadable == 0

    # What the tray's menu shows, from the registry and the session process's environment.
    registry = Registry(str(world.registry))

    def menu() -> tuple:
        snapshot = build_snapshot(registry, ProjectResolver(), LivenessProbe())
        return m.build_menu(snapshot, m.MenuSettings(), lambda root, name: None,
                            files=projectfiles.gather(snapshot))

    (project, *_rest) = menu()
    assert project.text.startswith("● delta — ok (1 session)"), project.text
    labels = [child.text for child in project.children]
    assert "Tasks: 1 open · 1 in progress" in labels, labels
    orchestrator = next(c for c in project.children if c.text.startswith(f"Orchestrator: {lead_id[:8]}"))
    assert [c.text for c in orchestrator.children][0] == "Task #2: Log-in page"

    # A new worker as "New worker" starts it, with a name: the client makes the worktree, the hooks register it
    # as a worker of the same project.
    command = claude_command(world.binary, "feat-b")
    assert command[1:] == ["--worktree", "feat-b"]
    worktree = repo / ".claude" / "worktrees" / "feat-b"
    world.projects.append(worktree)  # trusted, as the user would have answered the folder dialog
    # Its hint line shows the shared task list ("ctrl+t to hide tasks") instead of the usual ready markers: the
    # registry entry, written by its SessionStart hook, is what is waited for.
    worker = world.start(repo, args=command[1:], env=TASK_ENV, ready=False)
    joined = world.wait_entry(worker, "registered as a worker", lambda e: e["role"] == "worker")
    assert os.path.realpath(joined["cwd"]) == os.path.realpath(worktree)
    assert subprocess.run(["git", "-C", str(worktree), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                          text=True, check=True, timeout=30).stdout.strip().endswith("feat-b")
    (project, *_rest) = menu()
    assert project.text.startswith("● delta — ok (2 sessions)"), project.text
    assert any(text.startswith(f"{str(joined['sessionId'])[:8]} · pid {worker.pid}") for text in _labels(menu()))
    assert "Tasks: 1 open · 1 in progress" in [child.text for child in project.children]  # one list, said once
