"""End to end: Claude Code's hooks, as installed in settings.json, driven by a fake Claude Code (issue #3).

Nothing under test is mocked: ``tray.hooks.settings.install`` (or the real CLI) writes the commands into a
settings.json; ``tests/support/fake_claude.py`` runs as a real long-lived process named ``claude`` and runs those
commands through ``/bin/sh -c`` as its own children, with the hook JSON on stdin and Claude Code's environment, exactly
as Claude Code does; the hooks find that process among their ancestors and write the real registry; the test
reads the registry files and runs the real ``orchestray`` CLI in subprocesses.

Each fake Claude Code is killed (SIGKILL) and reaped at teardown; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import psutil
import pytest
from hook_sandbox import (
    EVENTS,
    Sandbox,
    assert_clean,
    assert_silent,
    git,
    only_hook,
    role_context,
    stat_of,
)

from tray.hooks import settings as hook_settings


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    try:
        yield box
    finally:
        box.close()


@pytest.fixture
def installed(sandbox: Sandbox) -> Sandbox:
    sandbox.install()
    return sandbox



@pytest.fixture
def project(tmp_path: Path) -> Dict[str, Path]:
    """A real git repository with a linked worktree (`git worktree add`, what `claude --worktree` makes)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "init", cwd=repo)
    worktree = tmp_path / "worktrees" / "feature"
    git("worktree", "add", "-q", "-b", "feature", str(worktree), cwd=repo)
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    assert (worktree / ".git").is_file()
    return {"repo": repo, "worktree": worktree, "sub": sub}



# --------------------------------------------------------------------------------------------------------
# Registration, roles, prompts
# --------------------------------------------------------------------------------------------------------


def test_session_start_registers_claude_code_pid_and_tells_the_role(
    installed: Sandbox, project: Dict[str, Path]
) -> None:
    first = installed.claude(cwd=project["repo"])
    reply = first.start("sess-orch", project["repo"])
    context = role_context(reply)
    assert "ORCHESTRATOR" in context and "repo" in context

    entry = installed.entry("sess-orch")
    assert entry["pid"] == first.pid  # Claude Code's PID ...
    assert entry["pid"] != reply["hooks"][0]["shell_pid"]  # ... not the `sh -c` that ran the hook ...
    assert entry["pid"] != os.getpid()  # ... nor anything of the test; the hook process itself is gone
    assert psutil.Process(entry["pid"]).name() == "claude"
    assert entry["sessionId"] == "sess-orch"
    assert entry["cwd"] == str(project["repo"])
    assert entry["role"] == "orchestrator"
    assert entry["startedAt"].endswith("Z")

    # A second Claude Code in a linked worktree of the same repository: same project, so a worker.
    second = installed.claude(cwd=project["worktree"])
    context = role_context(second.start("sess-wt", project["worktree"]))
    assert "WORKER" in context and "sess-orch" in context and str(first.pid) in context
    entry = installed.entry("sess-wt")
    assert (entry["pid"], entry["cwd"], entry["role"]) == (second.pid, str(project["worktree"]), "worker")

    # A third one in a subfolder of the main worktree: a worker too.
    third = installed.claude(cwd=project["sub"])
    assert "WORKER" in role_context(third.start("sess-sub", project["sub"]))
    assert installed.entry("sess-sub")["role"] == "worker"
    assert installed.entry("sess-sub")["pid"] == third.pid

    # The real CLI agrees: one project, ok, one orchestrator and two workers.
    status = json.loads(installed.cli("status", "--json").stdout)
    assert len(status["projects"]) == 1
    view = status["projects"][0]
    assert view["state"] == "ok"
    assert view["orchestrator"]["sessionId"] == "sess-orch"
    assert sorted(w["sessionId"] for w in view["workers"]) == ["sess-sub", "sess-wt"]


def test_prompt_of_a_registered_session_prints_nothing_and_does_not_rewrite(
    installed: Sandbox, project: Dict[str, Path]
) -> None:
    claude = installed.claude(cwd=project["repo"])
    role_context(claude.start("sess-1", project["repo"]))
    path = installed.entry_path("sess-1")
    before = stat_of(path)
    for text in ("hello", "please refactor the parser", '{"json": "in a prompt"}', "sess-1"):
        assert_silent(claude.prompt("sess-1", text))
    assert stat_of(path) == before
    # Starting again (`claude --resume` in the same process) keeps the entry as it is.
    role_context(claude.start("sess-1", project["repo"], "resume"))
    assert stat_of(path) == before


def test_stop_and_notification_never_deregister_and_session_end_does(
    installed: Sandbox, project: Dict[str, Path]
) -> None:
    claude = installed.claude(cwd=project["repo"])
    role_context(claude.start("sess-1", project["repo"]))
    before = stat_of(installed.entry_path("sess-1"))
    for _ in range(3):  # Stop fires after every answer of the model
        assert_silent(claude.prompt("sess-1"))
        assert_silent(claude.stop("sess-1"))
    assert_silent(claude.notify("sess-1"))
    assert installed.sessions() == ["sess-1"]
    assert stat_of(installed.entry_path("sess-1")) == before

    assert_silent(claude.end("sess-1", "prompt_input_exit"))
    assert installed.sessions() == []
    assert claude.process.poll() is None  # the hook removed the entry; nobody touched Claude Code


@pytest.mark.parametrize("handover", [True, False], ids=["with-handover", "without-handover"])
def test_promoted_worker_is_told_once_at_its_next_prompt(
    installed: Sandbox, project: Dict[str, Path], handover: bool
) -> None:
    orchestrator = installed.claude(cwd=project["repo"])
    worker = installed.claude(cwd=project["worktree"])
    role_context(orchestrator.start("sess-orch", project["repo"]))
    role_context(worker.start("sess-work", project["worktree"]))
    if handover:
        (project["repo"] / "HANDOVER.md").write_text("# Handover\n", encoding="utf-8")

    orchestrator.kill()  # SIGKILL: no SessionEnd, its entry stays behind, dead
    refused = installed.cli("promote", "sess-work")
    assert refused.returncode == 0, refused.stderr
    assert installed.sessions() == ["sess-work"]  # the dead orchestrator's entry is gone
    assert installed.entry("sess-work")["role"] == "orchestrator"

    reply = worker.prompt("sess-work", "carry on")
    hook = only_hook(reply)
    specific = json.loads(hook["stdout"])["hookSpecificOutput"]
    assert specific["hookEventName"] == "UserPromptSubmit"
    notice = specific["additionalContext"]
    assert reply["context"] == [notice]
    assert "PROMOTED" in notice and "orchestrator" in notice
    if handover:
        assert str(project["repo"] / "HANDOVER.md") in notice
    else:
        assert "There is no HANDOVER.md" in notice

    # Told exactly once.
    assert_silent(worker.prompt("sess-work", "and again"))
    assert_silent(worker.prompt("sess-work", "and again"))
    entry = installed.entry("sess-work")
    assert entry["role"] == "orchestrator" and entry["pid"] == worker.pid
    assert "promotionPending" not in entry


@pytest.mark.parametrize("session_end", [True, False], ids=["with-session-end", "session-start-only"])
def test_clear_starts_a_new_session_id_that_replaces_the_old_entry_and_keeps_the_role(
    installed: Sandbox, project: Dict[str, Path], session_end: bool
) -> None:
    """`/clear`: SessionEnd(reason clear) for the old id, then SessionStart(source clear) for a new one.

    Without the SessionEnd (its hook timed out, or an older Claude Code), the new id must still replace the
    old entry of the same process rather than leave two.
    """
    orchestrator = installed.claude(cwd=project["repo"])
    worker = installed.claude(cwd=project["worktree"])
    role_context(orchestrator.start("orch-1", project["repo"]))
    role_context(worker.start("work-1", project["worktree"]))
    started = installed.entry("work-1")["startedAt"]
    extra = [] if session_end else ["noend"]

    steps = worker.send("clear", "work-1", "work-2", *extra)["steps"]
    assert [s["event"] for s in steps] == (["SessionEnd"] if session_end else []) + ["SessionStart"]
    if session_end:
        assert_silent(steps[0])
    assert "WORKER" in role_context(steps[-1])
    assert installed.sessions() == ["orch-1", "work-2"]
    entry = installed.entry("work-2")
    assert (entry["pid"], entry["role"], entry["cwd"]) == (worker.pid, "worker", str(project["worktree"]))
    assert entry["startedAt"] == started  # the same process, replaced in place: seniority kept

    orchestrator_started = installed.entry("orch-1")["startedAt"]
    steps = orchestrator.send("clear", "orch-1", "orch-2", *extra)["steps"]
    assert "ORCHESTRATOR" in role_context(steps[-1])
    assert installed.sessions() == ["orch-2", "work-2"]
    entry = installed.entry("orch-2")
    assert (entry["pid"], entry["role"], entry["startedAt"]) == (orchestrator.pid, "orchestrator", orchestrator_started)

    # And the new ids are ordinary sessions from then on.
    assert_silent(worker.prompt("work-2"))
    assert_silent(orchestrator.prompt("orch-2"))

    # A vacating orchestrator that clears is still handing over (the handover is not silently cancelled).
    vacated = installed.cli("vacate", "--session-id", "orch-2")
    assert vacated.returncode == 0, vacated.stderr
    steps = orchestrator.send("clear", "orch-2", "orch-3", *extra)["steps"]
    assert "VACATING" in role_context(steps[-1])
    assert installed.sessions() == ["orch-3", "work-2"]
    entry = installed.entry("orch-3")
    assert (entry["role"], entry["startedAt"]) == ("vacating", orchestrator_started)
    assert not (installed.registry / ".activity" / "orch-2").exists()  # the old id's activity went with it


def test_prompt_repairs_a_lost_registration_silently(installed: Sandbox, project: Dict[str, Path]) -> None:
    orchestrator = installed.claude(cwd=project["repo"])
    worker = installed.claude(cwd=project["sub"])
    role_context(orchestrator.start("sess-orch", project["repo"]))
    role_context(worker.start("sess-work", project["sub"]))

    for session, claude, role, cwd in (
        ("sess-work", worker, "worker", project["sub"]),
        ("sess-orch", orchestrator, "orchestrator", project["repo"]),
    ):
        installed.entry_path(session).unlink()
        assert_silent(claude.prompt(session, "still here?"))
        entry = installed.entry(session)
        assert (entry["pid"], entry["role"], entry["cwd"]) == (claude.pid, role, str(cwd))
        # ... and the repaired entry is left alone by the following prompts.
        before = stat_of(installed.entry_path(session))
        assert_silent(claude.prompt(session))
        assert stat_of(installed.entry_path(session)) == before

    # The whole registry folder gone (a user cleaned up by hand): the next prompt brings it back.
    shutil.rmtree(installed.registry)
    assert_silent(worker.prompt("sess-work"))
    assert installed.sessions() == ["sess-work"]


# --------------------------------------------------------------------------------------------------------
# Hostile input: the hook never fails Claude Code
# --------------------------------------------------------------------------------------------------------

GARBAGE = {
    "not-json": b"this is not json {",
    "binary": bytes(range(256)) * 64,
    "empty": b"",
    "json-list": b'[{"session_id": "sess-x", "cwd": "/"}]',
    "json-string": b'"sess-x"',
    "huge-5mb": b"x" * (5 * 1024 * 1024),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_on_stdin_exits_0_prints_nothing_and_logs(
    installed: Sandbox, project: Dict[str, Path], name: str
) -> None:
    """No session id anywhere (no `CLAUDE_CODE_SESSION_ID`): every event does nothing, says nothing, logs why.

    Stop and Notification only mark activity (a no-op for now) and do not read their payload, so they have
    nothing to log.
    """
    claude = installed.claude(cwd=project["repo"])
    for event in EVENTS:
        size = len(installed.log_text())
        reply = claude.raw(event, None, GARBAGE[name])
        assert_silent(reply)
        assert installed.sessions() == []
        logged = installed.log_text()[size:]
        if event in ("SessionStart", "UserPromptSubmit", "SessionEnd"):
            assert event_subcommand(event) in logged and ("ERROR" in logged or "WARNING" in logged), logged


def test_garbage_with_the_session_in_the_environment_keeps_the_registration(
    installed: Sandbox, project: Dict[str, Path]
) -> None:
    """Claude Code also names the session in `CLAUDE_CODE_SESSION_ID`: garbage on stdin must not hurt it."""
    claude = installed.claude(cwd=project["repo"])
    role_context(claude.start("sess-1", project["repo"]))
    path = installed.entry_path("sess-1")
    before = stat_of(path)
    for data in GARBAGE.values():
        for event in ("UserPromptSubmit", "Stop", "Notification"):
            assert_silent(claude.raw(event, "sess-1", data))
        assert stat_of(path) == before


def test_a_huge_prompt_is_read_whole_and_ignored(installed: Sandbox, project: Dict[str, Path]) -> None:
    """A user pastes 5 MB: the hook must read all of its stdin (an early exit makes Claude Code's write fail)."""
    claude = installed.claude(cwd=project["repo"])
    role_context(claude.start("sess-1", project["repo"]))
    before = stat_of(installed.entry_path("sess-1"))
    big = "lorem ipsum " * (5 * 1024 * 1024 // 12)
    assert_silent(claude.prompt("sess-1", big))
    assert stat_of(installed.entry_path("sess-1")) == before
    # Unregistered (the entry was lost) and a huge prompt: repaired all the same.
    installed.entry_path("sess-1").unlink()
    assert_silent(claude.prompt("sess-1", big))
    entry = installed.entry("sess-1")
    assert (entry["pid"], entry["cwd"], entry["role"]) == (claude.pid, str(project["repo"]), "orchestrator")


def test_a_non_ascii_cwd_is_read_as_utf8_whatever_the_locale(sandbox: Sandbox, tmp_path: Path) -> None:
    """Claude Code writes UTF-8; Python decodes a piped stdin with the locale's encoding (the ANSI code page on
    Windows). PYTHONIOENCODING=latin-1 stands in for such a locale here."""
    sandbox.install()
    folder = tmp_path / "projekt-ü-日本"
    folder.mkdir()
    env = sandbox.env
    env["PYTHONIOENCODING"] = "latin-1"
    claude = sandbox.claude(cwd=folder, env=env)
    assert "ORCHESTRATOR" in role_context(claude.start("sess-utf8", folder))
    assert sandbox.entry("sess-utf8")["cwd"] == str(folder)
    assert_silent(claude.prompt("sess-utf8", "grüße, 日本"))


def event_subcommand(event: str) -> str:
    return f"hook {hook_settings.HOOK_EVENTS[event]}"


def test_unwritable_registry_never_fails_claude_code(installed: Sandbox, project: Dict[str, Path]) -> None:
    blocker = installed.root / "registry-is-a-file"
    blocker.write_bytes(b"not a folder\n")
    env = installed.env
    env["ORCHESTRAY_REGISTRY_DIR"] = str(blocker)
    claude = installed.claude(cwd=project["repo"], env=env)
    for reply in (
        claude.start("sess-1", project["repo"]),
        claude.prompt("sess-1"),
        claude.stop("sess-1"),
        claude.notify("sess-1"),
        claude.end("sess-1"),
    ):
        assert_silent(reply)
    assert blocker.read_bytes() == b"not a folder\n"
    assert "hook session-start failed" in installed.log_text()


BAD_IDS = ["../../etc", "..", "a/b", "/etc/passwd", ".hidden", "-rf", "x" * 200, "sess\nid", ""]


def test_an_invalid_session_id_is_refused_and_nothing_is_written_outside_the_registry(
    installed: Sandbox, project: Dict[str, Path]
) -> None:
    registry = installed.root / "deep" / "er" / "registry"
    env = installed.env
    env["ORCHESTRAY_REGISTRY_DIR"] = str(registry)
    claude = installed.claude(cwd=project["repo"], env=env)

    def tree() -> List[str]:
        skip = {installed.logs, installed.root / "bin"}
        return sorted(
            str(p)
            for p in installed.root.rglob("*")
            if not any(s == p or s in p.parents for s in skip) and not p.name.startswith("fake-claude-")
        )

    before = tree()
    for bad in BAD_IDS:
        for event in EVENTS:
            body = json.dumps(
                {
                    "session_id": bad,
                    "transcript_path": str(installed.config / "projects" / "x" / "t.jsonl"),
                    "cwd": str(project["repo"]),
                    "hook_event_name": event,
                    "source": "startup",
                    "reason": "other",
                    "prompt": "hi",
                }
            )
            # Claude Code puts the same id in the environment; an empty or multi-line one cannot be passed on.
            session_env = bad if bad and "\n" not in bad else None
            assert_silent(claude.send("payload", event, session_env or "-", text=body))
    after = [p for p in tree() if not p.startswith(str(registry))]
    assert after == [p for p in before if not p.startswith(str(registry))]
    assert installed.sessions(registry) == []
    assert not (installed.root / "deep" / "etc.json").exists()
    assert "invalid session id" in installed.log_text()


# --------------------------------------------------------------------------------------------------------
# `orchestray hooks install` into a real-looking settings.json, then a whole session through it
# --------------------------------------------------------------------------------------------------------

USER_HOOK = 'cat >/dev/null; echo "$CLAUDE_CODE_SESSION_ID" >> user-hook.log'  # a well-behaved hook of the user
USER_SETTINGS = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {"allow": ["Bash(git status)", "Read(~/notes/**)"], "deny": ["Read(./.env)"]},
    "env": {"MY_FLAG": "1"},
    "statusLine": {"type": "command", "command": "echo status"},
    "hooks": {
        "UserPromptSubmit": [{"matcher": "", "hooks": [{"type": "command", "command": USER_HOOK}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true", "timeout": 5}]}],
    },
    "includeCoAuthoredBy": False,
}


def test_cli_hooks_install_then_a_full_session_through_the_installed_commands(
    sandbox: Sandbox, project: Dict[str, Path]
) -> None:
    text = json.dumps(USER_SETTINGS, indent=2) + "\n"
    sandbox.settings.write_text(text, encoding="utf-8")
    env = sandbox.env
    del env["ORCHESTRAY_REGISTRY_DIR"]  # the default: $CLAUDE_CONFIG_DIR/active, as a user would have it
    registry = sandbox.config / "active"

    completed = sandbox.cli("hooks", "install", "--settings", str(sandbox.settings), "--form", "shell")
    assert completed.returncode == 0, completed.stderr
    installed_bytes = sandbox.settings.read_bytes()
    settings = json.loads(installed_bytes)
    assert {k: v for k, v in settings.items() if k != "hooks"} == {
        k: v for k, v in USER_SETTINGS.items() if k != "hooks"
    }
    assert settings["hooks"]["PreToolUse"] == USER_SETTINGS["hooks"]["PreToolUse"]
    assert settings["hooks"]["UserPromptSubmit"][0] == USER_SETTINGS["hooks"]["UserPromptSubmit"][0]
    for event in ("SessionStart", "UserPromptSubmit", "SessionEnd"):
        commands = [h["command"] for g in settings["hooks"][event] for h in g["hooks"]]
        ours = [c for c in commands if hook_settings.orchestray_subcommand(c)]
        assert len(ours) == 1 and os.path.isabs(shlex.split(ours[0])[0]), commands
    # Idempotent: a second install does not touch the file.
    again = sandbox.cli("hooks", "install", "--settings", str(sandbox.settings), "--form", "shell")
    assert again.returncode == 0 and sandbox.settings.read_bytes() == installed_bytes
    assert "state: installed" in sandbox.cli("hooks", "status", "--settings", str(sandbox.settings)).stdout

    # A Claude Code with none of this test's PYTHONPATH, started in the worktree.
    claude = sandbox.claude(cwd=project["worktree"], env=env)
    context = role_context(claude.start("full-1", project["worktree"]))
    assert "ORCHESTRATOR" in context
    entry = sandbox.entry("full-1", registry)
    assert (entry["pid"], entry["cwd"], entry["role"]) == (claude.pid, str(project["worktree"]), "orchestrator")
    before = stat_of(sandbox.entry_path("full-1", registry))

    for turn in range(3):
        reply = claude.prompt("full-1", f"turn {turn}")
        assert len(reply["hooks"]) == 2  # the user's hook and ours, both run
        for hook in reply["hooks"]:
            assert_clean(hook)
            assert hook["stdout"] == ""
        assert_silent(claude.stop("full-1"))
    assert_silent(claude.notify("full-1"))
    assert stat_of(sandbox.entry_path("full-1", registry)) == before
    assert (project["worktree"] / "user-hook.log").read_text().split() == ["full-1"] * 3  # ran in the session's cwd

    listed = json.loads(sandbox.cli("--registry-dir", str(registry), "list").stdout)
    assert [(r["sessionId"], r["alive"], r["pid"]) for r in listed] == [("full-1", True, claude.pid)]

    assert_silent(claude.end("full-1", "prompt_input_exit"))
    assert sandbox.sessions(registry) == []
    assert sandbox.log_text() == ""  # nothing went wrong anywhere

    # Uninstall gives the user's file back, byte for byte; Claude Code then runs only the user's hooks.
    removed = sandbox.cli("hooks", "uninstall", "--settings", str(sandbox.settings))
    assert removed.returncode == 0, removed.stderr
    assert sandbox.settings.read_text(encoding="utf-8") == text
    assert claude.start("full-2", project["worktree"])["hooks"] == []
    assert sandbox.sessions(registry) == []


# --------------------------------------------------------------------------------------------------------
# The fake itself: does it run hooks the way Claude Code does?
# --------------------------------------------------------------------------------------------------------

PROBE = (
    "import json, os, sys, psutil; shell = psutil.Process(os.getppid()); "
    "print(json.dumps({'stdin': json.load(sys.stdin), 'cwd': os.getcwd(), 'shell': shell.cmdline()[:2], "
    "'claude': shell.ppid(), 'env': {k: os.environ.get(k) for k in ('CLAUDE_CODE_SESSION_ID', "
    "'CLAUDE_PROJECT_DIR', 'CLAUDECODE', 'CLAUDE_CONFIG_DIR', 'ORCHESTRAY_REGISTRY_DIR')}}))"
)


def test_the_fake_runs_hooks_as_claude_code_does(sandbox: Sandbox, project: Dict[str, Path]) -> None:
    probe = shlex.join([sys.executable, "-c", PROBE])
    sandbox.settings.write_text(
        json.dumps(
            {
                "hooks": {
                    "UserPromptSubmit": [
                        {"matcher": "", "hooks": [{"type": "command", "command": probe, "timeout": 20}]},
                        {"hooks": [{"type": "command", "command": probe}]},  # identical: run once
                        {"matcher": "", "hooks": [{"type": "command", "command": "sleep 30", "timeout": 1}]},
                    ],
                    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "false"}]}],
                }
            }
        ),
        encoding="utf-8",
    )
    claude = sandbox.claude(cwd=sandbox.root)
    assert claude.start("probe-1", project["sub"])["hooks"] == []
    reply = claude.prompt("probe-1", "what is up")
    assert [h["command"] for h in reply["hooks"]] == [probe, "sleep 30"]
    seen = json.loads(reply["hooks"][0]["stdout"])
    assert seen["claude"] == claude.pid and seen["shell"] == ["/bin/sh", "-c"]
    assert seen["cwd"] == str(project["sub"])
    assert seen["env"] == {
        "CLAUDE_CODE_SESSION_ID": "probe-1",
        "CLAUDE_PROJECT_DIR": str(project["sub"]),
        "CLAUDECODE": "1",
        "CLAUDE_CONFIG_DIR": str(sandbox.config),
        "ORCHESTRAY_REGISTRY_DIR": str(sandbox.registry),
    }
    payload = seen["stdin"]
    assert payload["session_id"] == "probe-1" and payload["hook_event_name"] == "UserPromptSubmit"
    assert payload["cwd"] == str(project["sub"]) and payload["prompt"] == "what is up"
    assert payload["transcript_path"].endswith("probe-1.jsonl") and payload["permission_mode"] == "default"
    assert payload["prompt_id"]
    slow = reply["hooks"][1]
    assert slow["timed_out"] and slow["exit_code"] != 0 and slow["seconds"] < 10
