"""Regression tests for the hostile-files findings (issue 11), each through the real command line or the real
hook script in a subprocess, with real FIFOs, real symlinks, real 255-byte names, real huge numbers and real
processes. Every subprocess runs under a deadline: a hang is a failure, never a stuck test run.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from helpers import (
    REPO,
    cli_env,
    create_time,
    fingerprints,
    iso,
    one_line_error,
    read_bytes,
    run_cli,
    seed_entry,
    write_entry,
)

from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import actions, activity
from tray.core.registry import Registry

pytestmark = pytest.mark.timeout(180)

HOOK = os.path.join(REPO, "tray", "hook.py")
DEADLINE = 20.0  # seconds any one command may take before it counts as hung
OLD = time.time() - 3600  # an mtime past clean's five-minute grace period


def cli(registry: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return run_cli(list(args), registry_dir=str(registry), env=env or {}, timeout=DEADLINE)


def hook(event: str, payload: Dict[str, object], registry: Path, logs: Path, cwd: Optional[Path] = None,
         session: Optional[str] = None) -> subprocess.CompletedProcess:
    """The installed hook command, run as Claude Code runs it: JSON on stdin, the session in the environment."""
    cwd = cwd or registry.parent
    cwd.mkdir(parents=True, exist_ok=True)
    env = cli_env(str(registry), {"ORCHESTRAY_LOG_DIR": str(logs)})
    if session:
        env["CLAUDE_CODE_SESSION_ID"] = session
    completed = subprocess.run(
        [sys.executable, HOOK, "hook", event], input=json.dumps(payload).encode(), env=env,
        cwd=str(cwd), capture_output=True, timeout=DEADLINE,
    )
    assert completed.returncode == 0, completed.stderr  # never 2: that would block Claude Code
    return completed


def log_text(logs: Path) -> str:
    """Everything logged in the folder (the tray's `orchestray.log`, the hooks' and commands' `hooks.log`)."""
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(logs.glob("*.log*")))


def live_entry(registry: Path, session: str, process: subprocess.Popen, cwd: Path, role: str = "worker") -> bytes:
    path = write_entry(str(registry), session, process.pid, str(cwd), role, started_at=iso(create_time(process.pid)))
    return read_bytes(path)


# --- 1. FIFOs -------------------------------------------------------------------------------------------


def test_the_issue_repro_register_with_a_fifo_git_does_not_hang(tmp_path: Path, procs) -> None:
    """`mkdir p; mkfifo p/.git; orchestray register --session-id a --cwd p --pid $$` must not hang."""
    project = tmp_path / "p"
    project.mkdir()
    os.mkfifo(project / ".git")
    registry = tmp_path / "registry"
    shell = procs.spawn()
    done = cli(registry, "register", "--session-id", "a", "--cwd", str(project), "--pid", str(shell.pid))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "orchestrator"
    # The registry lock was not held forever: a second session registers at once, a worker of the same project.
    other = procs.spawn()
    done = cli(registry, "register", "--session-id", "b", "--cwd", str(project), "--pid", str(other.pid))
    assert (done.returncode, done.stdout.strip()) == (0, "worker")
    for command in (["list"], ["check"], ["status", "--json"], ["clean"], ["clean", "--dry-run"]):
        assert cli(registry, *command).returncode == 0, command
    assert stat.S_ISFIFO(os.lstat(project / ".git").st_mode)


def test_a_git_file_pointing_at_a_fifo_commondir_does_not_hang(tmp_path: Path, procs) -> None:
    gitdir = tmp_path / "main" / ".git" / "worktrees" / "wt"
    gitdir.mkdir(parents=True)
    os.mkfifo(gitdir / "commondir")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {gitdir}\n")
    registry = tmp_path / "registry"
    session = procs.spawn()
    done = cli(registry, "register", "--session-id", "w", "--cwd", str(worktree), "--pid", str(session.pid))
    assert (done.returncode, done.stdout.strip()) == (0, "orchestrator"), done.stderr
    [project] = json.loads(cli(registry, "status", "--json").stdout)["projects"]
    assert project["root"] == str(worktree)  # a .git file we cannot follow: the folder is the project


def test_a_fifo_entry_never_stalls_the_prompt_hook(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    os.mkfifo(registry / "s1.json")
    done = hook("prompt", {"session_id": "s1", "prompt": "hi"}, registry, tmp_path / "logs", session="s1")
    assert done.stdout == b""
    assert stat.S_ISFIFO(os.lstat(registry / "s1.json").st_mode)  # left alone: not ours to rewrite
    [row] = json.loads(cli(registry, "list").stdout)
    assert row["error"] == "file is not a regular file"


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_session_end_leaves_a_fifo_or_folder_under_its_name_alone(tmp_path: Path, kind: str) -> None:
    """Like `clean`, the session's end never removes what is not an entry; its activity (the prompt) still goes."""
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    for name in ("s1", "s2"):
        os.mkfifo(registry / f"{name}.json") if kind == "fifo" else (registry / f"{name}.json").mkdir()
        activity.write_activity(str(registry), name, activity.WAITING, prompt="my secret words")
    logs = tmp_path / "logs"
    hook("session-end", {"session_id": "s1", "reason": "prompt_input_exit"}, registry, logs, session="s1")
    done = cli(registry, "deregister", "--session-id", "s2")
    assert done.returncode == 1
    assert "s2.json is not a regular file; left alone" in one_line_error(done)
    for name in ("s1", "s2"):
        mode = os.lstat(registry / f"{name}.json").st_mode
        assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISDIR(mode)
    assert activity.read_all(str(registry)) == {}
    log = log_text(logs)
    assert "Traceback" not in log and "s1.json is not a regular file; left alone" in log


# --- 2. huge numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["pid", "extra", "nested"])
def test_a_number_of_5000_digits_is_one_unreadable_entry(tmp_path: Path, procs, where: str) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    valid = live_entry(registry, "ok", procs.spawn(), project, "orchestrator")
    digits = "9" * 5000
    body = json.dumps(seed_entry("big", 4242, str(project))).replace('"pid": 4242', {
        "pid": f'"pid": {digits}', "extra": f'"pid": 4242, "n": {digits}', "nested": f'"pid": 4242, "n": [[{digits}]]',
    }[where])
    (registry / "big.json").write_text(body)
    os.utime(registry / "big.json", (OLD, OLD))
    rows = {row["sessionId"]: row for row in json.loads(cli(registry, "list").stdout)}
    assert "error" not in rows["ok"] and "digits" in rows["big"]["error"]
    assert "ok" in cli(registry, "check").stdout
    status = json.loads(cli(registry, "status", "--json").stdout)
    assert [u["sessionId"] for u in status["unreadable"]] == ["big"]
    assert cli(registry, "register", "--session-id", "new", "--cwd", str(project),
               "--pid", str(procs.spawn().pid)).stdout.strip() == "worker"
    done = cli(registry, "clean")
    assert done.returncode == 0 and "moved aside unreadable big.json" in done.stdout
    assert read_bytes(str(registry / "ok.json")) == valid
    [aside] = os.listdir(registry / ".quarantine")
    assert (registry / ".quarantine" / aside).read_text() == body


def test_a_hook_payload_with_a_huge_number_still_registers_the_session(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    env = cli_env(str(registry), {"ORCHESTRAY_LOG_DIR": str(tmp_path / "logs"), "CLAUDE_CODE_SESSION_ID": "s1"})
    raw = ('{"session_id": "s1", "cwd": ' + json.dumps(str(tmp_path)) + ', "n": ' + "9" * 5000 + "}").encode()
    done = subprocess.run([sys.executable, HOOK, "hook", "session-start"], input=raw, env=env, cwd=str(tmp_path),
                          capture_output=True, timeout=DEADLINE)
    assert done.returncode == 0
    [row] = json.loads(cli(registry, "list").stdout)
    assert row["sessionId"] == "s1" and row["alive"] is True


# --- 3. long names --------------------------------------------------------------------------------------


def test_clean_goes_on_past_a_255_byte_file_name(tmp_path: Path, procs) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    valid = live_entry(registry, "live", procs.spawn(), project)
    names = ["a" + "x" * 249 + ".json", "é" * 125 + ".json", "zz-after.json", "名" * 83 + ".json"]
    for index, name in enumerate(names):
        assert len(name.encode()) <= 255
        (registry / name).write_bytes(b"broken %d" % index)
        os.utime(registry / name, (OLD, OLD))
    done = cli(registry, "clean")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(registry)) == sorted([".orchestray.lock", ".quarantine", "live.json"])
    aside = os.listdir(registry / ".quarantine")
    assert len(aside) == 4 and all(len(n.encode()) <= 255 for n in aside)
    assert sorted((registry / ".quarantine" / n).read_bytes() for n in aside) == [b"broken %d" % i for i in range(4)]
    assert read_bytes(str(registry / "live.json")) == valid
    # A second batch with the same long names on the same second: never overwrites the first.
    for index, name in enumerate(names):
        (registry / name).write_bytes(b"again %d" % index)
        os.utime(registry / name, (OLD, OLD))
    result = actions.clean(Registry(str(registry)), grace=0, now=time.time())
    result = actions.clean(Registry(str(registry)), grace=0, now=time.time())
    assert not result.problems
    assert len(os.listdir(registry / ".quarantine")) == 8


def test_clean_never_overwrites_an_earlier_quarantined_file(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    quarantine = registry / ".quarantine"
    quarantine.mkdir(parents=True, mode=0o700)
    now = OLD + 3600
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    (quarantine / f"a.json.{stamp}").write_text("earlier")
    (registry / "a.json").write_text("{")
    os.utime(registry / "a.json", (OLD, OLD))
    result = actions.clean(Registry(str(registry)), now=now)
    assert len(result.quarantined) == 1 and not result.problems
    assert (quarantine / f"a.json.{stamp}").read_text() == "earlier"
    assert (quarantine / f"a.json.{stamp}.2").read_text() == "{"


# --- 4. prompts never in a log; logs user-only -------------------------------------------------------------


class RecordingView:
    def __init__(self) -> None:
        self.notified: List[tuple] = []

    def show(self, *shown: object) -> None:
        pass

    def notify(self, title: str, body: str, **options: object) -> bool:
        self.notified.append((title, body))
        return True

    def stop(self) -> None:
        pass


def test_the_tray_log_never_holds_prompt_text_and_is_user_only(tmp_path: Path, procs) -> None:
    """The tray notifies about a session that needs an answer (the notification quotes the prompt, for the
    user) and logs the event without the prompt, in a 0600 file in a 0700 folder."""
    script = f"""
import json, os, sys, time
sys.path.insert(0, {REPO!r})
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import activity
from tray.core.registry import Registry
class View:
    def show(self, *a): pass
    def notify(self, title, body, **options): print(json.dumps([title, body]), flush=True); return True
    def stop(self): pass
registry = Registry(sys.argv[1])
controller = TrayController(registry, view=View(), config_store=ConfigStore(sys.argv[2]))
controller.poll_once()
"""
    registry = tmp_path / "registry"
    project = tmp_path / "project"
    project.mkdir()
    session = procs.spawn()
    live_entry(registry, "s1", session, project, "orchestrator")
    secret = "deploy with password hunter2 please"
    activity.write_activity(str(registry), "s1", activity.ATTENTION, "Claude needs your permission", secret)
    logs = tmp_path / "logs"
    env = cli_env(str(registry), {"ORCHESTRAY_LOG_DIR": str(logs)})
    done = subprocess.run([sys.executable, "-c", script, str(registry), str(tmp_path / "config")], env=env,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    [(title, body)] = [json.loads(line) for line in done.stdout.splitlines()]
    assert secret in body  # the user is told...
    log = log_text(logs)
    assert "needs-you" in log and "s1" in log
    assert "hunter2" not in log  # ...the log is not
    files = list(logs.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700


def test_the_controller_in_process_logs_no_prompt(tmp_path: Path, procs, caplog: pytest.LogCaptureFixture) -> None:
    registry = tmp_path / "registry"
    project = tmp_path / "project"
    project.mkdir()
    live_entry(registry, "s1", procs.spawn(), project, "orchestrator")
    activity.write_activity(str(registry), "s1", activity.ATTENTION, "permission", "my secret prompt text")
    view = RecordingView()
    import logging

    logger = logging.getLogger("orchestray")
    logger.addHandler(caplog.handler)
    try:
        TrayController(Registry(str(registry)), view=view, config_store=ConfigStore(str(tmp_path / "c"))).poll_once()
    finally:
        logger.removeHandler(caplog.handler)
    assert view.notified and "my secret prompt text" in view.notified[0][1]
    assert any("needs-you" in r.getMessage() for r in caplog.records)
    assert not any("my secret prompt" in r.getMessage() for r in caplog.records)


# --- 5. user-only registry -------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["prompt-hook", "session-start-hook", "cli-register"])
def test_whoever_touches_the_registry_first_creates_it_user_only(tmp_path: Path, procs, first: str) -> None:
    registry = tmp_path / "home" / ".claude" / "active"
    old = os.umask(0o022)  # the usual umask: without care, folders come out 0755 and files 0644
    try:
        if first == "cli-register":
            done = cli(registry, "register", "--session-id", "s1", "--cwd", str(tmp_path),
                       "--pid", str(procs.spawn().pid))
            assert done.returncode == 0, done.stderr
        else:
            hook(first.replace("-hook", ""), {"session_id": "s1", "prompt": "hi", "cwd": str(tmp_path)}, registry,
                 tmp_path / "logs", session="s1")
    finally:
        os.umask(old)
    assert stat.S_IMODE(registry.stat().st_mode) == 0o700
    if first == "cli-register":
        assert stat.S_IMODE((registry / "s1.json").stat().st_mode) == 0o600
        assert stat.S_IMODE((registry / ".orchestray.lock").stat().st_mode) == 0o600
        return
    assert stat.S_IMODE((registry / ".activity").stat().st_mode) == 0o700
    assert stat.S_IMODE((registry / ".activity" / "s1").stat().st_mode) == 0o600
    # Both hooks registered the session (the prompt hook repairs a missing registration): user-only too.
    assert stat.S_IMODE((registry / "s1.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((registry / ".orchestray.lock").stat().st_mode) == 0o600


def test_entries_are_written_0600_and_a_loose_registry_gets_one_warning(procs) -> None:
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="orchestray-loose-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        if not all(os.stat(p).st_mode & 0o001 for p in [base, *base.parents]):
            pytest.skip("the temporary folder is not reachable by others here")
        registry = base / "registry"
        registry.mkdir(mode=0o755)
        os.chmod(registry, 0o755)
        done = cli(registry, "register", "--session-id", "s1", "--cwd", str(base), "--pid", str(procs.spawn().pid))
        assert done.returncode == 0
        line = one_line_error(done)
        assert line.startswith("orchestray: warning: the registry") and "0755" in line and "chmod 700" in line
        assert stat.S_IMODE((registry / "s1.json").stat().st_mode) == 0o600
        assert stat.S_IMODE(registry.stat().st_mode) == 0o755  # the user's folder: warned about, not changed
        os.chmod(registry, 0o700)
        assert cli(registry, "check").stderr == ""
    finally:
        shutil.rmtree(base)


# --- 6. planted symlinks ---------------------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Dict[str, Path]:
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    return {"registry": registry, "outside": outside}


def test_a_planted_lock_link_is_refused_and_nothing_is_created_outside(planted: Dict[str, Path], procs) -> None:
    registry, outside = planted["registry"], planted["outside"]
    (registry / ".orchestray.lock").symlink_to(outside / "lock")
    before = fingerprints(outside)
    done = cli(registry, "register", "--session-id", "s1", "--cwd", str(outside), "--pid", str(procs.spawn().pid))
    assert done.returncode == 1
    line = one_line_error(done)
    assert "symbolic link" in line and ".orchestray.lock" in line
    assert fingerprints(outside) == before and not (outside / "lock").exists()
    assert not (registry / "s1.json").exists()


def test_a_planted_lock_link_is_one_clear_notice_for_the_tray(planted: Dict[str, Path], procs,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The tray's Clean meets the planted lock: one notice that says why, a warning line, no traceback."""
    import logging

    from tray.app.menu import Action, ActionKind

    registry, outside = planted["registry"], planted["outside"]
    dead = procs.spawn()
    live_entry(registry, "dead", dead, outside)
    procs.kill(dead)
    (registry / ".orchestray.lock").symlink_to(outside / "lock")
    view = RecordingView()
    controller = TrayController(Registry(str(registry)), view=view,
                                config_store=ConfigStore(str(registry.parent / "c")))
    logger = logging.getLogger("orchestray")
    logger.addHandler(caplog.handler)
    try:
        controller.perform(Action(ActionKind.CLEAN))
    finally:
        logger.removeHandler(caplog.handler)
    [(title, body)] = [n for n in view.notified if "symbolic link" in n[1]]
    assert title == "Orchestray: not cleaned" and ".orchestray.lock" in body
    assert not any(r.exc_info for r in caplog.records)
    assert (registry / "dead.json").exists() and not (outside / "lock").exists()


def test_a_planted_lock_link_is_one_log_line_for_the_hook(planted: Dict[str, Path]) -> None:
    registry, outside = planted["registry"], planted["outside"]
    (registry / ".orchestray.lock").symlink_to(outside / "lock")
    logs = registry.parent / "logs"
    done = hook("session-start", {"session_id": "s1", "cwd": str(outside)}, registry, logs, session="s1")
    assert done.stdout == b"" and not (outside / "lock").exists()
    log = log_text(logs)
    assert "Traceback" not in log
    assert [line for line in log.splitlines() if "symbolic link" in line and "orchestray.lock" in line]


def test_a_planted_quarantine_link_is_refused_and_clean_does_the_rest(planted: Dict[str, Path], procs) -> None:
    registry, outside = planted["registry"], planted["outside"]
    (registry / ".quarantine").symlink_to(outside)
    (registry / "junk.json").write_text("{")
    os.utime(registry / "junk.json", (OLD, OLD))
    dead = procs.spawn()
    live_entry(registry, "dead", dead, outside)
    procs.kill(dead)
    before = fingerprints(outside)
    done = cli(registry, "clean")
    assert done.returncode == 1
    line = one_line_error(done)
    assert ".quarantine is a symbolic link" in line
    assert "removed stale worker dead" in done.stdout  # the rest of the clean was done
    assert not (registry / "dead.json").exists() and (registry / "junk.json").exists()
    assert fingerprints(outside) == before


def test_a_planted_activity_link_gets_no_prompt_text(planted: Dict[str, Path], procs) -> None:
    registry, outside = planted["registry"], planted["outside"]
    (registry / ".activity").symlink_to(outside)
    logs = registry.parent / "logs"
    before = fingerprints(outside)
    for event, payload in (("session-start", {"cwd": str(outside)}), ("prompt", {"prompt": "secret words"}),
                           ("stop", {}), ("session-end", {})):
        done = hook(event, dict(payload, session_id="s1"), registry, logs, session="s1")
        assert event != "prompt" or done.stdout == b""
    assert fingerprints(outside) == before
    log = log_text(logs)
    assert "secret words" not in log
    assert "session activity not recorded" in log and ".activity is a symbolic link" in log
    rows = json.loads(cli(registry, "list").stdout)
    assert rows == []  # session-end removed the entry: the hooks' real work was done all along


# --- 7. the hook never writes an entry the registry rejects ---------------------------------------------


@pytest.mark.parametrize("kind", ["nul", "too-long", "relative"])
def test_the_hook_registers_a_usable_cwd(tmp_path: Path, kind: str) -> None:
    registry = tmp_path / "registry"
    logs = tmp_path / "logs"
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    given = {"nul": str(work) + "\x00evil", "too-long": "/" + "d" * 5000, "relative": "sub"}[kind]
    hook("session-start", {"session_id": "s1", "cwd": given, "source": "startup"}, registry, logs, cwd=work,
         session="s1")
    [row] = json.loads(cli(registry, "list").stdout)
    assert "error" not in row and row["alive"] is True
    assert row["cwd"] == (str(work / "sub") if kind == "relative" else str(work))
    log = log_text(logs)
    assert {"nul": "NUL character", "too-long": "longer than 4096", "relative": "relative session folder"}[kind] in log
    result = actions.clean(Registry(str(registry)), grace=0, now=time.time() + 3600)
    assert result.quarantined == () and (registry / "s1.json").exists()


def test_the_cli_refuses_a_too_long_cwd_in_one_line(tmp_path: Path, procs) -> None:
    done = cli(tmp_path / "registry", "register", "--session-id", "s1", "--cwd", "/" + "d" * 5000,
               "--pid", str(procs.spawn().pid))
    assert done.returncode == 2 and "longer than 4096" in one_line_error(done)


# --- 8. smaller ------------------------------------------------------------------------------------------


def test_a_future_started_at_does_not_keep_a_reused_pid_alive(tmp_path: Path, procs) -> None:
    """The entry says 2099; its file was written before the process with that PID started: that process is
    not the session (PID reuse), so the entry is stale and `clean` removes it. The same entry written after
    the process started stays."""
    registry = tmp_path / "registry"
    process = procs.spawn()
    started = create_time(process.pid)
    for name, mtime in (("reused", started - 60), ("same", started + 1)):
        path = write_entry(str(registry), name, process.pid, str(tmp_path), started_at="2099-01-01T00:00:00Z")
        os.utime(path, (mtime, mtime))
    rows = {r["sessionId"]: r for r in json.loads(cli(registry, "list").stdout)}
    assert (rows["reused"]["alive"], rows["same"]["alive"]) == (False, True)
    done = cli(registry, "clean")
    assert "removed stale worker reused" in done.stdout
    assert sorted(p.name for p in registry.glob("*.json")) == ["same.json"]


def test_clean_dry_run_classifies_thousands_of_unreadable_files(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    for index in range(3000):
        path = registry / f"bad{index}.json"
        path.write_text("{")
        if index % 3 == 0:
            os.utime(path, (OLD, OLD))
    os.mkfifo(registry / "fifo.json")
    result = actions.clean(Registry(str(registry)), dry_run=True)
    assert (len(result.quarantined), len(result.waiting), len(result.ignored)) == (1000, 2000, 1)
    assert len(os.listdir(registry)) == 3002  # dry run: nothing moved (the lock file was created)


# --- FIFOs at the names of the files we write beside the registry: the log, settings.json's marker, the icon


def test_a_fifo_at_the_log_file_never_stalls_a_hook(tmp_path: Path) -> None:
    """The hook logs (its stdin is not JSON) to `hooks.log`, which is a FIFO nobody reads: it must neither wait
    for a reader nor fail Claude Code; it registers the session all the same."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    os.mkfifo(logs / "hooks.log")
    registry = tmp_path / "registry"
    env = cli_env(str(registry), {"ORCHESTRAY_LOG_DIR": str(logs), "CLAUDE_CODE_SESSION_ID": "s1",
                                  "CLAUDE_PROJECT_DIR": str(tmp_path)})
    done = subprocess.run([sys.executable, HOOK, "hook", "session-start"], input=b"not json at all", env=env,
                          cwd=str(tmp_path), capture_output=True, timeout=DEADLINE)
    assert done.returncode == 0
    assert "hook stdin is not JSON" in done.stderr.decode()  # the log line went to stderr instead
    [row] = json.loads(cli(registry, "list").stdout)
    assert row["sessionId"] == "s1" and row["alive"] is True
    assert stat.S_ISFIFO(os.lstat(logs / "hooks.log").st_mode)


def test_a_fifo_at_the_settings_marker_does_not_hang_hooks_install(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"  # missing: install creates it and marks it as created by us
    os.mkfifo(tmp_path / "settings.json.orchestray-created")
    done = run_cli(["hooks", "install", "--settings", str(settings)], registry_dir=str(tmp_path / "registry"),
                   env={"ORCHESTRAY_LOG_DIR": str(tmp_path / "logs")}, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert "UserPromptSubmit" in json.loads(settings.read_text())["hooks"]
    assert stat.S_ISFIFO(os.lstat(tmp_path / "settings.json.orchestray-created").st_mode)


def test_the_self_test_reads_its_icon_without_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tray import selftest
    from tray.platform import autostart

    os.mkfifo(tmp_path / "orchestray.png")
    monkeypatch.setattr(autostart, "default_icon_path", lambda: str(tmp_path / "orchestray.png"))
    check = selftest._run(selftest.Check("assets"), selftest.check_assets)  # returns: the FIFO is never opened
    assert check.ok is False and "not a regular file" in check.error


# --- 9. Claude Code's own files, read for session turns ----------------------------------------------------


def test_hostile_transcript_and_session_status_files_are_skipped(tmp_path: Path) -> None:
    from tray.core import turns

    transcript = tmp_path / "t.jsonl"
    good = json.dumps({"type": "user", "timestamp": "2026-12-01T12:00:00Z"})
    transcript.write_text("\n".join([good, "[" * 5_000 + "]" * 5_000, '{"n": ' + "9" * 5000 + "}", good]) + "\n")
    assert [entry["type"] for entry in turns.transcript_tail(str(transcript))] == ["user", "user"]
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    assert list(turns.transcript_tail(str(fifo))) == []  # never blocks on a FIFO
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    (sessions / "42.json").write_text('{"pid": 42, "a": ' + "[" * 5_000 + "]" * 5_000 + "}")
    assert turns.client_status(str(tmp_path), 42, "s1") is None
    (sessions / "43.json").write_text('{"pid": ' + "9" * 5000 + "}")
    assert turns.client_status(str(tmp_path), 43, "s1") is None


# --- 5. names that would drive the terminal -------------------------------------------------------------


def test_check_and_clean_print_hostile_names_as_plain_text(tmp_path: Path, procs) -> None:
    """A folder or file name with an escape sequence or a newline reaches `check` and `clean` as plain text:
    it must not recolour or clear the user's terminal, nor fake a line of the summary."""
    registry = tmp_path / "registry"
    registry.mkdir()
    hostile = tmp_path / "proj\x1b[2J\x1b[31mred\nFAKE LINE"
    (hostile / "sub\x07dir").mkdir(parents=True)
    live_entry(registry, "live", procs.spawn(), hostile / "sub\x07dir", role="orchestrator")
    gone = procs.spawn()
    live_entry(registry, "gone", gone, hostile)
    procs.kill(gone)
    odd = "odd\x1b]0;title\x07.json"
    (registry / odd).write_bytes(b"not json")
    os.utime(registry / odd, (OLD, OLD))

    check = cli(registry, "check")
    assert check.returncode == 0, check.stderr
    for text in (check.stdout, check.stderr):
        assert not any(ch in text for ch in "\x1b\x07"), repr(text)
    assert not any(line.startswith("FAKE LINE") for line in check.stdout.splitlines()), check.stdout
    assert "proj\\x1b[2J\\x1b[31mred\\nFAKE LINE" in check.stdout, check.stdout  # shown escaped, one line
    assert "sub\\x07dir" in check.stdout and "odd\\x1b]0;title\\x07.json" in check.stdout, check.stdout

    clean = cli(registry, "clean")
    assert clean.returncode == 0, clean.stderr
    assert not any(ch in clean.stdout + clean.stderr for ch in "\x1b\x07"), repr(clean.stdout)
    assert "removed stale worker gone" in clean.stdout, clean.stdout
    assert "moved aside unreadable odd\\x1b]0;title\\x07.json" in clean.stdout, clean.stdout
    assert "live.json" in os.listdir(registry)
