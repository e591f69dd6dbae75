"""The real Claude Code client, on a pseudo-terminal, with Orchestray's hooks installed by the real installer.

Each test drives the native ``claude`` binary (``tests/support/real_claude.py``) against the stand-in API
(``tests/support/claude_api.py``) and checks what a user would see: the registry, and ``orchestray status
--json``. The client starts slowly on a loaded machine, so each test starts as few sessions as it can and every
wait has a generous deadline.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict

from claude_api import BashToolUse, HTTPError, Slow
from real_claude import ClaudeWorld, RealClaude, wait_until


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


def _session_of(world: ClaudeWorld, client: RealClaude) -> str:
    return str(world.wait_entry(client, "registered")["sessionId"])


def test_a_turn_that_fails_at_the_api_ends_waiting(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """The API refuses the turn: Claude Code fires StopFailure (no Stop); the session must not stay "working"."""
    claude_world.api.when("please fail", HTTPError(400))
    client = claude_world.start(_project(tmp_path))
    session = _session_of(claude_world, client)

    mark = client.prompt("please fail this turn")
    client.wait_for("refused on purpose", since=mark)  # what the user sees: the API error
    claude_world.wait_activity(session, "waiting")
    view = claude_world.session_view(session)
    assert view is not None and view["activityDetail"].startswith("turn failed")  # told by StopFailure's hook


def test_an_approved_permission_goes_back_to_working(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """The permission prompt marks the session "needs you"; approving it fires no hook, yet it works again."""
    project = _project(tmp_path)
    claude_world.api.when("make the file", BashToolUse("touch approved.txt"))
    after = Slow("All done.")
    claude_world.api.after_tool = after  # the turn goes on after the tool ran, until released
    client = claude_world.start(project)
    session = _session_of(claude_world, client)

    client.prompt("please make the file")
    client.wait_for("Do you want to proceed?")
    claude_world.wait_activity(session, "attention")  # "needs you"
    client.approve_permission()
    wait_until(lambda: (project / "approved.txt").exists(), 60, "the approved command to run")
    claude_world.wait_activity(session, "working")
    after.release()
    client.wait_for("All done.")
    claude_world.wait_activity(session, "waiting")


def test_esc_ends_working(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """Esc fires no hook: an interrupted turn, before any answer and in the middle of one, ends "working"."""
    silent = claude_world.api.when("think quietly", Slow("never shown"))
    talking = claude_world.api.when("think aloud", Slow("never shown either", preamble="Let me think"))
    client = claude_world.start(_project(tmp_path))
    session = _session_of(claude_world, client)

    for answer, words in ((silent, "please think quietly"), (talking, "please think aloud")):
        mark = client.prompt(words)
        claude_world.api.wait_for(lambda r, w=words: r.kind == "main" and w in r.last_user_text, 60, words)
        if answer.preamble:
            client.wait_for(answer.preamble, since=mark)
        claude_world.wait_activity(session, "working")
        client.escape()
        claude_world.wait_activity(session, "waiting")
        client.write(b"\x15")  # Ctrl-U: Esc before any answer puts the prompt back in the box
    assert silent.released.is_set() is False and talking.released.is_set() is False  # no answer ended a turn


def test_clear_keeps_orchestrator_worker_vacating_and_started_at(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """`/clear` ends the session (SessionEnd, reason clear) and starts a new id in the same process: the new id
    keeps the role, `startedAt` and place in line, for a worker, a vacating orchestrator (cleared right after it
    ran `orchestray vacate` itself) and an orchestrator; a promotion not yet told reaches the new id at its first
    prompt."""
    project = _project(tmp_path)
    first = claude_world.start(project)
    first_entry = claude_world.wait_entry(first, "registered")
    second = claude_world.start(project)
    second_entry = claude_world.wait_entry(second, "registered")
    _next_second(second_entry)  # the third is younger by startedAt, so the line is second, then third
    third = claude_world.start(project)
    third_entry = claude_world.wait_entry(third, "registered")
    roles = [e["role"] for e in (first_entry, second_entry, third_entry)]
    assert roles == ["orchestrator", "worker", "worker"]

    # A worker stays a worker (it does not jump the line).
    second_entry = _clear(claude_world, second, second_entry)
    assert second_entry["role"] == "worker"

    # The orchestrator runs `orchestray vacate` itself (as it is told to), and its user clears right after:
    # it stays vacating, its handover is not cancelled.
    claude_world.api.when("hand over now", BashToolUse(f"{sys.executable} -m tray vacate"))
    mark = first.prompt("please hand over now")
    first.approve_permission()
    first.wait_for("The command ran.", since=mark)
    assert claude_world.entry_of(first)["role"] == "vacating"  # type: ignore[index]
    first_entry = _clear(claude_world, first, first_entry)
    assert first_entry["role"] == "vacating"
    mark = first.prompt("who am i now")  # the new conversation is told it is handing over
    request = claude_world.api.wait_for(lambda r: r.kind == "main" and "who am i now" in r.last_user_text, 60, "who")
    assert "you are VACATING project" in json.dumps(request.body) and "ORCHESTRATOR" not in json.dumps(request.body)
    first.wait_for("Done.", since=mark)
    view = claude_world.status()["projects"][0]
    assert (view["state"], view["suggested"]) == ("vacating", second_entry["sessionId"])

    # The younger worker clears while the project has no orchestrator: it stays a worker behind the suggested one.
    third_entry = _clear(claude_world, third, third_entry)
    assert third_entry["role"] == "worker"
    view = claude_world.status()["projects"][0]
    assert (view["state"], view["suggested"]) == ("vacating", second_entry["sessionId"])

    # The worker is promoted, then clears before its next prompt: it stays the orchestrator, and the notice
    # (read HANDOVER.md) reaches the new conversation.
    (project / "HANDOVER.md").write_text("# Handover\n", encoding="utf-8")
    promoted = claude_world.cli("promote", second_entry["sessionId"])
    assert promoted.returncode == 0, promoted.stderr
    second_entry = _clear(claude_world, second,
                          claude_world.wait_entry(second, "promoted", lambda e: e["role"] == "orchestrator"))
    assert second_entry["role"] == "orchestrator"
    client_mark = second.prompt("what now")
    request = claude_world.api.wait_for(lambda r: r.kind == "main" and "what now" in r.last_user_text, 60, "what now")
    assert "PROMOTED" in json.dumps(request.body) and "HANDOVER.md" in json.dumps(request.body)
    second.wait_for("Done.", since=client_mark)
    assert claude_world.wait_entry(second, "told", lambda e: "promotionPending" not in e)["role"] == "orchestrator"
    assert claude_world.wait_entry(first, "still vacating")["role"] == "vacating"

    # The orchestrator, told, clears again: still the orchestrator, with the same startedAt.
    second_entry = _clear(claude_world, second, second_entry)
    assert second_entry["role"] == "orchestrator"
    view = claude_world.status()["projects"][0]
    assert view["state"] == "ok" and [s["sessionId"] for s in view["orchestrators"]] == [second_entry["sessionId"]]


def test_clear_in_an_orphaned_project_keeps_the_place_in_line(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """The orchestrator died without a SessionEnd; of the two workers, the longer-running one is the suggested
    successor. The younger one clearing does not make itself the orchestrator, and the older one clearing keeps
    its `startedAt`, so it is still the one suggested."""
    project = _project(tmp_path)
    boss = claude_world.start(project)
    claude_world.wait_entry(boss, "registered")
    older = claude_world.start(project)
    older_entry = claude_world.wait_entry(older, "registered")
    _next_second(older_entry)
    younger = claude_world.start(project)
    younger_entry = claude_world.wait_entry(younger, "registered")
    boss.process.kill()  # SIGKILL: no SessionEnd, its entry stays behind, stale
    boss.wait_exit()
    view = claude_world.status()["projects"][0]
    assert (view["state"], view["suggested"]) == ("orphaned", older_entry["sessionId"])

    younger_entry = _clear(claude_world, younger, younger_entry)
    assert younger_entry["role"] == "worker"
    older_entry = _clear(claude_world, older, older_entry)
    assert older_entry["role"] == "worker"
    view = claude_world.status()["projects"][0]
    assert (view["state"], view["suggested"]) == ("orphaned", older_entry["sessionId"])
    assert [s["sessionId"] for s in view["workers"]] == [older_entry["sessionId"], younger_entry["sessionId"]]


def test_resume_inside_a_session_keeps_the_role_and_started_at(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """`/resume` inside a session is `/clear`'s sequence with reason `resume` and the resumed conversation's id: a
    worker that resumes while its orchestrator hands over stays a worker, with its `startedAt`, still the one
    suggested."""
    project = _project(tmp_path)
    boss = claude_world.start(project)
    boss_entry = claude_world.wait_entry(boss, "registered")
    worker = claude_world.start(project)
    first = claude_world.wait_entry(worker, "registered")
    mark = worker.prompt("the first conversation")
    worker.wait_for("Done.", since=mark)
    second = _clear(claude_world, worker, first)
    vacated = claude_world.cli("vacate", "--session-id", boss_entry["sessionId"])
    assert vacated.returncode == 0, vacated.stderr

    worker.slash("/resume")
    worker.wait_screen("the first conversation")
    chosen = [line for line in worker.screen().splitlines() if "❯" in line and "the first conversation" in line]
    assert chosen, "the picker does not highlight the first conversation:\n" + worker.screen()
    worker.write(b"\r")
    resumed = claude_world.wait_entry(worker, "the resumed conversation's id",
                                      lambda e: e["sessionId"] == first["sessionId"])
    assert (resumed["role"], resumed["startedAt"], resumed["pid"]) == ("worker", first["startedAt"], first["pid"])
    assert second["sessionId"] not in [e["sessionId"] for e in claude_world.entries()]
    view = claude_world.status()["projects"][0]
    assert (view["state"], view["suggested"]) == ("vacating", first["sessionId"])


def _clear(world: ClaudeWorld, client: RealClaude, old: Dict[str, Any]) -> Dict[str, Any]:
    """Type `/clear`; the process's entry under its new session id, which kept `startedAt`; the old id is gone."""
    client.slash("/clear")
    new = world.wait_entry(client, "a new session id after /clear", lambda e: e["sessionId"] != old["sessionId"])
    assert new["startedAt"] == old["startedAt"] and new["pid"] == old["pid"]
    assert [e["sessionId"] for e in world.entries()].count(old["sessionId"]) == 0
    wait_until(lambda: not (world.registry / ".activity" / old["sessionId"]).exists(), 60,
               "the old id's activity (its last prompt) to go with its entry")
    return new


def _next_second(entry: Dict[str, Any]) -> None:
    """Wait until the clock is past the second of `entry`'s `startedAt` (its resolution), so that a session
    registered next is younger by `startedAt` rather than tied with it."""
    started = datetime.strptime(entry["startedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    wait_until(lambda: time.time() >= started + 1, 5, "the clock to pass the second of " + entry["startedAt"])


def test_activity_files_go_with_their_entries(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """The activity file holds the start of the user's last prompt: readable by the user only, capped, and
    removed with the entry: by SessionEnd, and by `clean` for a session that died without one."""
    project = _project(tmp_path)
    crashed = claude_world.start(project)
    crashed_id = _session_of(claude_world, crashed)
    exiting = claude_world.start(project)
    exiting_id = _session_of(claude_world, exiting)
    long_prompt = "please " + "remember this rather long prompt " * 3 + "and finish"
    mark = crashed.prompt(long_prompt)
    crashed.wait_for("Done.", since=mark)
    claude_world.wait_activity(crashed_id, "waiting")
    activity = claude_world.registry / ".activity" / crashed_id
    assert oct(activity.stat().st_mode & 0o777) == "0o600"
    recorded = claude_world.session_view(crashed_id)["lastPrompt"]
    assert len(recorded) == 80 and long_prompt.startswith(recorded[:-1]) and recorded.endswith("…")

    exiting.slash("/exit")
    assert exiting.wait_exit() == 0
    wait_until(lambda: not (claude_world.registry / ".activity" / exiting_id).exists(), 60, "SessionEnd's clean-up")

    crashed.process.kill()  # SIGKILL: no SessionEnd; the entry and the activity stay behind
    crashed.wait_exit()
    assert activity.exists()
    cleaned = claude_world.cli("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert crashed_id in cleaned.stdout
    assert not activity.exists() and claude_world.entries() == []


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return project
