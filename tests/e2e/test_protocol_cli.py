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
        f"no HANDOVER.md in {project}: write one there before you go (the tray can create it from the template)",
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
