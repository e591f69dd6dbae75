"""Claude Code's shared task lists as the client 2.1.332 writes them: counts (blocked as the client decides),
which task each session holds, which list a real process uses (its environment), and hostile task files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, List

import pytest
from controller_world import NOW, ORCH, W_OLD, session

from tests.support.task_files import task, write_list
from tray.app import menu as m
from tray.core import tasklists
from tray.core.projectfiles import ProjectFiles
from tray.core.snapshot import snapshot_from_sessions

SHARED = [
    task("1", "Design the schema", "completed", owner=ORCH[:8]),
    task("2", "Write the migration", "in_progress", owner=ORCH),
    task("3", "Backfill old rows", blocked_by=["2"]),
    task("4", "Update the docs", blocked_by=["1"]),  # its blocker is done: open
    task("5", "Dashboard", "in_progress", owner="researcher"),
]


def test_counts_and_blocked_as_the_client_decides(tmp_path: Path):
    write_list(tmp_path, "my project!", SHARED)
    found = tasklists.read_list(str(tmp_path), "my project!")
    assert found is not None and found.folder == str(tmp_path / "tasks" / "my-project-")
    assert found.counts() == {"open": 1, "in progress": 2, "blocked": 1, "done": 1}
    assert found.summary() == "1 open · 2 in progress · 1 blocked · 1 done"
    assert [t.id for t in tasklists.held(found, ORCH, own_list=False)] == ["2"]
    assert tasklists.held(found, W_OLD, own_list=False) == ()
    assert tasklists.read_list(str(tmp_path), "no-such-list") is None


def test_a_sessions_own_list_gives_it_the_unowned_task_in_progress(tmp_path: Path):
    write_list(tmp_path, W_OLD, [task("1", "Fix the login", "in_progress"), task("2", "Later")])
    found = tasklists.read_list(str(tmp_path), W_OLD)
    assert found is not None
    assert [t.subject for t in tasklists.held(found, W_OLD, own_list=True)] == ["Fix the login"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "1", "subject": "half', b"\x00\x01binary", b"[]", b'{"id": 1, "subject": "x", "status": "pending"}',
        json.dumps(task("1", "x", status="done")).encode(), json.dumps(task("1", "x", blocked_by=[2])).encode(),
        json.dumps(task("2", "id does not match its file name")).encode(), b"{" * 100_000,
    ],
)
def test_a_task_file_that_is_not_a_task_is_counted_unreadable(tmp_path: Path, content: bytes):
    folder = write_list(tmp_path, "l", [task("2", "fine")])
    (folder / "1.json").write_bytes(content)
    found = tasklists.read_list(str(tmp_path), "l")
    assert found is not None and found.unreadable == 1 and [t.id for t in found.tasks] == ["2"]
    assert found.summary() == "1 open · ⚠ 1 unreadable"


def test_huge_fifo_and_folder_task_files_are_refused_without_blocking(tmp_path: Path):
    folder = write_list(tmp_path, "l", [task("1", "fine")])
    (folder / "2.json").write_bytes(b" " * (tasklists.TASK_LIMIT + 1))
    os.mkfifo(folder / "3.json")  # nobody writes it: opening it for reading would hang
    (folder / "4.json").mkdir()
    (folder / "notes.txt").write_text("ignored: not a task file name")
    done: List[Any] = []
    reader = threading.Thread(target=lambda: done.append(tasklists.read_list(str(tmp_path), "l")), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert done and done[0].unreadable == 3 and len(done[0].tasks) == 1


def test_a_real_process_environment_names_its_list_and_config(tmp_path: Path):
    env = dict(os.environ, CLAUDE_CODE_TASK_LIST_ID="shared-list", CLAUDE_CONFIG_DIR=str(tmp_path / "cfg"))
    child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"  # exec'd: its own environment
        found = tasklists.where(ORCH, tasklists.process_environ(child.pid, ORCH))
        assert found == tasklists.Where(str(tmp_path / "cfg"), "shared-list")
        write_list(tmp_path / "cfg", "shared-list", SHARED)
        lists, holding = tasklists.for_sessions([(ORCH, child.pid), (W_OLD, child.pid)])
        assert [t.list_id for t in lists] == ["shared-list"]  # read once for both
        assert {sid: [t.id for t in tasks] for sid, tasks in holding.items()} == {ORCH: ["2"]}
    finally:
        child.kill()
        child.wait(timeout=10)
    assert tasklists.where(W_OLD, None, home=str(tmp_path)) == tasklists.Where(str(tmp_path / ".claude"), W_OLD)


def test_the_menu_shows_task_counts_and_the_task_each_session_holds(tmp_path: Path):
    write_list(tmp_path, "shared", SHARED)
    found = tasklists.read_list(str(tmp_path), "shared")
    assert found is not None
    snapshot = snapshot_from_sessions("/reg", [session(ORCH, "orchestrator"), session(W_OLD, "worker")], [])
    files = {"/p/alpha": ProjectFiles(task_lists=(found,), holding={ORCH: tasklists.held(found, ORCH, False)})}
    (project, *_rest) = m.build_menu(snapshot, m.MenuSettings(), lambda root, name: None, now=NOW, files=files)
    texts = [item.text for item in project.children]
    assert "Tasks: 1 open · 2 in progress · 1 blocked · 1 done" in texts
    assert project.children[0].children[0].text == "Task #2: Write the migration"
