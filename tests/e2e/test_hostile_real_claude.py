"""The real Claude Code client (on a pseudo-terminal, hooks installed by the real installer) in a registry full of
hostile files: a FIFO named like an entry, an entry with a 5,000-digit number, a 255-byte file name, and a link to
a folder outside planted at `.activity` (where the prompt hook writes the first line of each prompt).

The session registers, works and ends as usual; no prompt text is written through the planted link; the hooks
log one line about it and no traceback. See tests/support/real_claude.py for the harness.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Dict

import pytest
from claude_api import Slow
from real_claude import ClaudeWorld, wait_until

pytestmark = pytest.mark.timeout(600)


def fingerprints(folder: Path) -> Dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_real_session_in_a_hostile_registry(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    registry = claude_world.registry
    registry.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("not Orchestray's")
    os.mkfifo(registry / "fifo.json")
    (registry / "huge.json").write_text('{"pid": ' + "9" * 5000 + "}")
    (registry / ("L" * 250 + ".json")).write_text("{broken")
    (registry / ".activity").symlink_to(outside)
    before = fingerprints(outside)
    project = tmp_path / "project"
    project.mkdir()

    answer = claude_world.api.when("say hello", Slow("Hello from the stand-in."))
    client = claude_world.start(project)
    entry = claude_world.wait_entry(client, "registered at start")
    assert (entry["cwd"], entry["role"]) == (str(project), "orchestrator")

    mark = client.prompt("please say hello, secret words")
    answer.release()
    client.wait_for("Hello from the stand-in.", since=mark)
    client.slash("/exit")
    assert client.wait_exit() == 0
    wait_until(lambda: not (registry / f"{entry['sessionId']}.json").exists(), 60, "the entry to go at /exit")

    assert fingerprints(outside) == before  # nothing written through the planted link
    assert stat.S_ISFIFO(os.lstat(registry / "fifo.json").st_mode)
    log = "".join(p.read_text(errors="replace") for p in claude_world.logs.glob("*.log*"))
    assert "secret words" not in log and "Traceback" not in log
    assert ".activity is a symbolic link" in log
