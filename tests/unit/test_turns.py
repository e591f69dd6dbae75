"""Turn changes without a hook (Esc, an approved permission), read from Claude Code's own files, and the
activity files' life cycle (`/clear`, `deregister`, `clean`).

The session file and transcript lines have the shape Claude Code 2.1.332 writes (observed with the real client;
the real-client tests in tests/e2e/test_real_claude.py drive the same paths end to end).
"""

from __future__ import annotations

import io
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from helpers import Sleepers, write_entry

from tray.core import activity as act
from tray.core import fsutil, turns
from tray.core.actions import ORPHAN_ACTIVITY_GRACE, clean, deregister, promote, register, vacate
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot
from tray.hooks.handlers import run_hook

NOW = 1_800_000_000.0
SESSION = "5fde98a7-cbfa-4d7b-84c6-d4da49db0175"


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Claude:
    """A Claude Code config folder as the client leaves it: `projects/<slug>/<id>.jsonl`, `sessions/<pid>.json`."""

    def __init__(self, root: Path, pid: int = 4242, session: str = SESSION) -> None:
        self.config = root / "claude"
        self.pid = pid
        self.session = session
        self.transcript = self.config / "projects" / "-home-me-project" / f"{session}.jsonl"
        self.transcript.parent.mkdir(parents=True)
        (self.config / "sessions").mkdir()

    def status(self, status: str, at: float, **extra: Any) -> None:
        data = {"pid": self.pid, "sessionId": self.session, "cwd": "/home/me/project", "status": status,
                "updatedAt": int(at * 1000), "statusUpdatedAt": int(at * 1000), "kind": "interactive"}
        data.update(extra)
        (self.config / "sessions" / f"{self.pid}.json").write_text(json.dumps(data), encoding="utf-8")

    def log(self, kind: str, at: float, content: Any) -> None:
        line = {"type": kind, "message": {"role": kind, "content": content}, "timestamp": iso_ms(at),
                "sessionId": self.session}
        with open(self.transcript, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def activity(self, state: str, since: float = NOW) -> act.Activity:
        return act.Activity(state, since, "", "the prompt", str(self.transcript))

    def refine(self, state: str, since: float = NOW) -> act.Activity:
        return turns.refine(self.activity(state, since), self.pid, self.session)


# ---------------------------------------------------------------------------------------------------------
# Claude Code's session file
# ---------------------------------------------------------------------------------------------------------


def test_config_folder_comes_from_the_transcript_path(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    assert turns.claude_config_of(str(claude.transcript)) == str(claude.config)
    assert turns.claude_config_of("/somewhere/else/t.jsonl") == ""
    assert turns.claude_config_of(str(claude.config / "projects" / "x" / "t.txt")) == ""


def test_esc_working_becomes_waiting_when_the_client_went_idle_after_the_prompt(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.status("idle", NOW + 3)
    refined = claude.refine(act.WORKING)
    assert (refined.state, refined.since, refined.prompt) == (act.WAITING, NOW + 3, "the prompt")


def test_a_status_older_than_the_prompt_does_not_end_the_turn(tmp_path: Path) -> None:
    """At a prompt the hook can write before Claude Code updates its own file."""
    claude = Claude(tmp_path)
    claude.status("idle", NOW - 1)
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)


def test_approved_permission_needs_you_becomes_working(tmp_path: Path) -> None:
    """Claude Code is busy again after the permission prompt the hook recorded: the permission was answered."""
    claude = Claude(tmp_path)
    claude.status("busy", NOW - 2)  # left over from before the prompt: not an answer
    assert claude.refine(act.ATTENTION) == claude.activity(act.ATTENTION)
    claude.status("busy", NOW + 2)
    refined = claude.refine(act.ATTENTION)
    assert (refined.state, refined.since, refined.detail) == (act.WORKING, NOW + 2, "")


def test_still_waiting_for_the_permission_stays_needs_you(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.status("waiting", NOW + 1, waitingFor="permission")
    assert claude.refine(act.ATTENTION) == claude.activity(act.ATTENTION)
    refined = claude.refine(act.WORKING)  # the dialog opened before the (delayed) Notification hook ran
    assert (refined.state, refined.detail) == (act.ATTENTION, "permission")


def test_waiting_is_never_refined_and_nothing_is_read_for_it(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.status("busy", NOW + 5)
    assert claude.refine(act.WAITING) == claude.activity(act.WAITING)


@pytest.mark.parametrize(
    "change",
    ["other-session", "other-pid", "not-json", "a-list", "no-status", "unknown-status", "bool-time", "huge", "fifo",
     "symlink", "folder"],
)
def test_a_session_file_that_is_not_this_sessions_changes_nothing(tmp_path: Path, change: str) -> None:
    claude = Claude(tmp_path)
    path = claude.config / "sessions" / f"{claude.pid}.json"
    claude.status("idle", NOW + 3)
    good = path.read_text()
    if change == "other-session":  # after /clear the file names the new id; a stale entry must not be moved
        claude.status("idle", NOW + 3, sessionId="another")
    elif change == "other-pid":
        claude.status("idle", NOW + 3, pid=claude.pid + 1)
    elif change == "not-json":
        path.write_text(good[:20])
    elif change == "a-list":
        path.write_text("[1, 2]")
    elif change == "no-status":
        path.write_text(json.dumps({k: v for k, v in json.loads(good).items() if k != "status"}))
    elif change == "unknown-status":
        claude.status("sleeping", NOW + 3)
    elif change == "bool-time":
        claude.status("idle", NOW + 3, statusUpdatedAt=True)
    elif change == "huge":
        path.write_text(good[:-1] + ', "pad": "' + "x" * turns.STATUS_FILE_LIMIT + '"}')
    elif change == "fifo":  # must not block the tray
        path.unlink()
        os.mkfifo(path)
    elif change == "symlink":
        target = tmp_path / "elsewhere.json"
        target.write_text(good)
        path.unlink()
        path.symlink_to(target)
    elif change == "folder":
        path.unlink()
        path.mkdir()
    # No usable file, and nothing in the transcript: the hooks' record stands.
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)


# ---------------------------------------------------------------------------------------------------------
# The transcript's tail, when there is no session file
# ---------------------------------------------------------------------------------------------------------


def test_transcript_interruption_after_the_prompt_ends_the_turn(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.log("user", NOW - 30, "an older prompt")
    claude.log("user", NOW - 29, [{"type": "text", "text": "[Request interrupted by user]"}])  # an older episode
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)
    claude.log("user", NOW + 0.1, "go slow please")
    claude.log("assistant", NOW + 0.2, [{"type": "text", "text": "Let me think"}])
    claude.log("user", NOW + 0.3, [{"type": "text", "text": "[Request interrupted by user]"}])
    refined = claude.refine(act.WORKING)
    assert (refined.state, refined.detail) == (act.WAITING, "interrupted")
    assert refined.since == pytest.approx(NOW + 0.3, abs=0.002)


def test_transcript_tool_result_after_a_permission_prompt_means_it_was_answered(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.log("assistant", NOW - 1, [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}])
    assert claude.refine(act.ATTENTION) == claude.activity(act.ATTENTION)
    claude.log("user", NOW + 4, [{"tool_use_id": "toolu_1", "type": "tool_result", "content": "", "is_error": False}])
    assert claude.refine(act.ATTENTION).state == act.WORKING
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)  # a tool result does not end a turn


def test_a_new_prompt_after_an_interruption_is_left_to_its_own_hook(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    claude.log("user", NOW + 1, [{"type": "text", "text": "[Request interrupted by user]"}])
    claude.log("user", NOW + 2, "the next prompt")
    assert claude.refine(act.WORKING).state == act.WORKING


def test_only_the_tail_of_a_huge_transcript_is_read_and_torn_lines_are_skipped(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    for index in range(3000):  # about 400 KB of older turns
        claude.log("assistant", NOW - 100, [{"type": "text", "text": f"old answer {index} " + "x" * 60}])
    with open(claude.transcript, "a", encoding="utf-8") as handle:
        handle.write("{not json\n\n")
    claude.log("user", NOW + 1, [{"type": "text", "text": "[Request interrupted by user]"}])
    with open(claude.transcript, "a", encoding="utf-8") as handle:
        handle.write('{"type": "user", "message": {"content": "half writ')  # being written
    assert claude.transcript.stat().st_size > 5 * turns.TRANSCRIPT_TAIL
    assert len(list(turns.transcript_tail(str(claude.transcript)))) < 600
    assert claude.refine(act.WORKING).state == act.WAITING


def test_a_transcript_that_is_a_fifo_does_not_block(tmp_path: Path) -> None:
    claude = Claude(tmp_path)
    os.mkfifo(claude.transcript)
    started = time.monotonic()
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)
    assert time.monotonic() - started < 30  # a blocked open would hang here forever


# ---------------------------------------------------------------------------------------------------------
# The hooks record the transcript; the snapshot shows the refined activity
# ---------------------------------------------------------------------------------------------------------


def hook(event: str, registry: Path, payload: Dict[str, Any]) -> str:
    out = io.StringIO()
    assert run_hook(event, str(registry), stdin=io.StringIO(json.dumps(payload)), stdout=out) == 0
    return out.getvalue()


def test_the_snapshot_shows_an_interrupted_turn_as_waiting(tmp_path: Path, procs: Sleepers) -> None:
    process = procs.spawn()
    claude = Claude(tmp_path, pid=process.pid)
    registry = tmp_path / "registry"
    write_entry(str(registry), SESSION, process.pid, str(tmp_path))
    hook("prompt", registry, {"session_id": SESSION, "transcript_path": str(claude.transcript),
                              "cwd": str(tmp_path), "hook_event_name": "UserPromptSubmit", "prompt": "go slow"})
    recorded = act.read_all(str(registry))[SESSION]
    assert (recorded.state, recorded.transcript, recorded.prompt) == (act.WORKING, str(claude.transcript), "go slow")

    def shown() -> Optional[str]:
        session = build_snapshot(Registry(str(registry))).session(SESSION)
        assert session is not None and session.activity is not None
        return session.activity.state

    claude.status("busy", recorded.since - 0.5)
    assert shown() == act.WORKING
    claude.status("idle", recorded.since + 1)  # Esc
    assert shown() == act.WAITING
    assert act.read_all(str(registry))[SESSION].state == act.WORKING  # a view: nothing was written


def test_stop_failure_marks_waiting_with_the_error(tmp_path: Path, procs: Sleepers) -> None:
    registry = tmp_path / "registry"
    write_entry(str(registry), SESSION, procs.spawn().pid, str(tmp_path))
    hook("prompt", registry, {"session_id": SESSION, "prompt": "hi"})
    assert hook("stop-failure", registry, {"session_id": SESSION, "hook_event_name": "StopFailure",
                                           "error": "rate_limit"}) == ""
    found = act.read_all(str(registry))[SESSION]
    assert (found.state, found.detail, found.prompt) == (act.WAITING, "turn failed: rate_limit", "hi")
    # Not registered: nothing is written.
    hook("stop-failure", registry, {"session_id": "someone-else", "error": "unknown"})
    assert set(act.read_all(str(registry))) == {SESSION}


# ---------------------------------------------------------------------------------------------------------
# /clear and the activity files' life cycle
# ---------------------------------------------------------------------------------------------------------


def test_session_end_for_clear_keeps_the_entry_and_the_new_id_inherits_everything(
    tmp_path: Path, procs: Sleepers
) -> None:
    registry = Registry(str(tmp_path / "registry"))
    project = str(tmp_path)
    orchestrator, worker = procs.spawn().pid, procs.spawn().pid
    register(registry, "orch-1", orchestrator, project)
    register(registry, "work-1", worker, project)
    started = registry.get("work-1").started_at  # type: ignore[union-attr]
    vacate(registry, "orch-1")
    promote(registry, "work-1")  # the worker takes over; it has not been told yet
    act.write_activity(registry.directory, "work-1", act.WAITING, prompt="secret plans")

    hook("session-end", Path(registry.directory), {"session_id": "work-1", "reason": "clear"})
    assert {e.session_id for e in registry.scan()} == {"orch-1", "work-1"}  # kept for the SessionStart
    result = register(registry, "work-2", worker, project)
    assert result.replaced == "work-1"
    entry = result.entry
    assert (entry.role, entry.started_at, entry.extra.get("promotionPending")) == ("orchestrator", started, True)
    assert "work-1" not in act.read_all(registry.directory)  # the old id's prompt went with its entry

    hook("session-end", Path(registry.directory), {"session_id": "orch-1", "reason": "clear"})
    assert register(registry, "orch-2", orchestrator, project).entry.role == "vacating"

    # Any other reason ends the session: the entry and its activity go.
    act.write_activity(registry.directory, "orch-2", act.WAITING, prompt="x")
    hook("session-end", Path(registry.directory), {"session_id": "orch-2", "reason": "prompt_input_exit"})
    assert {e.session_id for e in registry.scan()} == {"work-2"}
    assert "orch-2" not in act.read_all(registry.directory)


def test_session_end_for_resume_keeps_the_entry_for_the_resumed_id(tmp_path: Path, procs: Sleepers) -> None:
    """`/resume` inside a session: SessionEnd (reason resume), then SessionStart with the resumed conversation's
    id in the same process, which inherits the role and `startedAt`."""
    registry = Registry(str(tmp_path / "registry"))
    orchestrator, worker = procs.spawn().pid, procs.spawn().pid
    register(registry, "orch", orchestrator, str(tmp_path))
    started = register(registry, "now", worker, str(tmp_path)).entry.started_at
    vacate(registry, "orch")
    hook("session-end", Path(registry.directory), {"session_id": "now", "reason": "resume"})
    assert {e.session_id for e in registry.scan()} == {"orch", "now"}
    result = register(registry, "earlier", worker, str(tmp_path))
    assert (result.replaced, result.entry.role, result.entry.started_at) == ("now", "worker", started)


def test_deregister_removes_the_activity(tmp_path: Path, procs: Sleepers) -> None:
    registry = Registry(str(tmp_path / "registry"))
    register(registry, "s1", procs.spawn().pid, str(tmp_path))
    act.write_activity(registry.directory, "s1", act.WORKING, prompt="my secret prompt")
    assert deregister(registry, "s1")
    assert act.read_all(registry.directory) == {}


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


@pytest.mark.parametrize("dir_fd", [True, False], ids=["dir-fd", "paths-as-on-windows"])
def test_clean_removes_activity_files_whose_entry_is_gone(
    tmp_path: Path, procs: Sleepers, monkeypatch: pytest.MonkeyPatch, dir_fd: bool
) -> None:
    monkeypatch.setattr(fsutil, "DIR_FD", dir_fd)  # Windows has no dir_fd calls: the folder is used by path
    registry = Registry(str(tmp_path / "registry"))
    live, dead = procs.spawn(), procs.spawn()
    register(registry, "live", live.pid, str(tmp_path))
    register(registry, "dead", dead.pid, str(tmp_path))
    folder = Path(act.activity_dir(registry.directory))
    for name in ("live", "dead", "gone-old", "gone-young"):
        act.write_activity(registry.directory, name, act.WAITING, prompt=f"prompt of {name}")
    _age(folder / "gone-old", ORPHAN_ACTIVITY_GRACE + 5)
    (folder / "gone-old.123.456.tmp").write_text("half")  # a crashed hook's temporary
    _age(folder / "gone-old.123.456.tmp", ORPHAN_ACTIVITY_GRACE + 5)
    target = tmp_path / "not-ours.txt"
    target.write_text("keep me")
    (folder / "a-link").symlink_to(target)
    _age(folder / "a-link", ORPHAN_ACTIVITY_GRACE + 5)
    (folder / "a-folder").mkdir()
    _age(folder / "a-folder", ORPHAN_ACTIVITY_GRACE + 5)
    procs.kill(dead)

    preview = clean(registry, dry_run=True)
    assert sorted(os.listdir(folder)) == sorted(["live", "dead", "gone-old", "gone-young", "gone-old.123.456.tmp",
                                                 "a-link", "a-folder"])
    assert preview.activities == ("a-link", "gone-old", "gone-old.123.456.tmp")
    result = clean(registry)
    assert [s.session_id for s in result.removed] == ["dead"]
    assert sorted(os.listdir(folder)) == ["a-folder", "gone-young", "live"]
    assert target.read_text() == "keep me"  # the link went, not what it pointed to


def test_clean_keeps_the_activity_of_an_entry_it_cannot_read(tmp_path: Path) -> None:
    registry = Registry(str(tmp_path / "registry"))
    os.makedirs(registry.directory)
    Path(registry.directory, "mystery.json").write_text("{torn")
    act.write_activity(registry.directory, "mystery", act.WAITING)
    _age(Path(act.activity_dir(registry.directory)) / "mystery", ORPHAN_ACTIVITY_GRACE + 5)
    assert clean(registry).activities == ()
    assert "mystery" in act.read_all(registry.directory)


def test_clean_removes_the_activity_of_an_entry_it_moves_aside(tmp_path: Path) -> None:
    """An unreadable entry past the grace period leaves the registry (into .quarantine): its last prompt goes
    with it in the same clean, not one clean later as an orphan."""
    registry = Registry(str(tmp_path / "registry"))
    os.makedirs(registry.directory)
    for name in ("torn", "young"):
        Path(registry.directory, f"{name}.json").write_text("{torn")
        act.write_activity(registry.directory, name, act.WAITING, prompt=f"secret of {name}")
    _age(Path(registry.directory, "torn.json"), 3600)
    preview = clean(registry, dry_run=True)
    assert [u.session_id for u in preview.quarantined] == ["torn"]
    assert sorted(act.read_all(registry.directory)) == ["torn", "young"]  # a dry run removes nothing
    result = clean(registry)
    assert [u.session_id for u in result.quarantined] == ["torn"] and not result.problems
    assert sorted(act.read_all(registry.directory)) == ["young"]  # the young file may still be mid-write
    assert sorted(os.listdir(act.activity_dir(registry.directory))) == ["young"]


def test_promote_removes_the_activity_of_the_dead_orchestrator_it_removes(tmp_path: Path, procs: Sleepers) -> None:
    registry = Registry(str(tmp_path / "registry"))
    boss, worker = procs.spawn(), procs.spawn()
    register(registry, "boss", boss.pid, str(tmp_path))
    register(registry, "worker", worker.pid, str(tmp_path))
    for name in ("boss", "worker"):
        act.write_activity(registry.directory, name, act.WAITING, prompt=f"secret of {name}")
    procs.kill(boss)
    result = promote(registry, "worker")
    assert result.removed == ("boss",) and result.entry.role == "orchestrator"
    assert {e.session_id for e in registry.scan()} == {"worker"}
    assert sorted(act.read_all(registry.directory)) == ["worker"]  # the dead one's prompt went with its entry


def test_the_transcript_line_is_optional_and_one_line(tmp_path: Path) -> None:
    reg = str(tmp_path)
    folder = Path(act.activity_dir(reg))
    folder.mkdir()
    (folder / "old").write_text(f"{act.MAGIC}\nworking\n{NOW!r}\n\nan old prompt\n")  # before the line existed
    assert act.read_all(reg)["old"] == act.Activity(act.WORKING, NOW, "", "an old prompt", "")
    act.write_activity(reg, "s1", act.WORKING, prompt="p", transcript="/c/projects/x/s1.jsonl", now=NOW)
    act.write_activity(reg, "s1", act.WAITING, now=NOW + 1)  # the Stop hook does not know it: kept
    assert act.read_all(reg)["s1"].transcript == "/c/projects/x/s1.jsonl"
    act.write_activity(reg, "s2", act.WORKING, transcript="/evil\nworking", now=NOW)
    assert act.read_all(reg)["s2"].transcript == ""
    assert oct((folder / "s1").stat().st_mode & 0o777) == "0o600"


def test_transcript_lines_of_other_shapes_are_skipped(tmp_path: Path) -> None:
    """Transcript lines of every shape Claude Code writes are read without error (system, cost, summaries)."""
    claude = Claude(tmp_path)
    lines: List[Dict[str, Any]] = [
        {"type": "system", "subtype": "turn_duration", "timestamp": iso_ms(NOW + 1)},
        {"type": "cost-state", "sessionId": SESSION, "totalCostUSD": 0.1},
        {"type": "user", "message": "not an object", "timestamp": iso_ms(NOW + 1)},
        {"type": "user", "message": {"content": [1, None, "x"]}, "timestamp": "yesterday"},
        {"type": "user", "message": {"content": [{"type": "text", "text": 5}]}, "timestamp": iso_ms(NOW + 1)},
    ]
    claude.transcript.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert claude.refine(act.WORKING) == claude.activity(act.WORKING)
