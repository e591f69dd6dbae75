"""The real Claude Code client, on a pseudo-terminal, with Orchestray's hooks installed by the real installer.

Each test drives the native ``claude`` binary (``tests/support/real_claude.py``) against the stand-in API
(``tests/support/claude_api.py``) and checks what a user would see: the registry, and ``orchestray status
--json``. The client starts slowly on a loaded machine, so each test starts as few sessions as it can and every
wait has a generous deadline.
"""

from __future__ import annotations

from pathlib import Path

from claude_api import Slow
from real_claude import ClaudeWorld, wait_until


def test_a_real_session_registers_works_waits_and_deregisters_on_exit(
    claude_world: ClaudeWorld, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    answer = claude_world.api.when("say hello", Slow("Hello from the stand-in."))
    client = claude_world.start(project)
    entry = claude_world.wait_entry(client, "registered at start")
    assert (entry["cwd"], entry["role"]) == (str(project), "orchestrator")
    session = entry["sessionId"]
    claude_world.wait_activity(session, "waiting")

    mark = client.prompt("please say hello")
    claude_world.wait_activity(session, "working")  # the prompt hook started the turn
    answer.release()
    client.wait_for("Hello from the stand-in.", since=mark)
    claude_world.wait_activity(session, "waiting")  # Stop ended the turn
    assert claude_world.session_view(session)["lastPrompt"] == "please say hello"

    client.slash("/exit")
    assert client.wait_exit() == 0
    wait_until(lambda: claude_world.entries() == [], 60, "the registry to be empty after /exit")
