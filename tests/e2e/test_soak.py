"""Soak: 100 real sessions start, register through the real hook, prompt, /clear, end, get killed, promoted and
cleaned at random, while the tray's poll loop and an independent reader watch the registry.

What is proved, afterwards:

- no registry file was ever unreadable (a reader thread parses every file, continuously);
- no live session's entry was ever removed: every file that disappears belonged to a dead process, or was a
  deliberate SessionEnd or `/clear` (the reader checks each disappearance with a fresh liveness question);
- every orchestrator death produced exactly one "orchestrator died" event from the tray's poll loop
  (`TrayController.poll_once`), and no other session was ever reported dead: after every step the driver waits
  for a poll that started after it, so the poll before a kill saw the victim's role and a poll after it sees
  the death;
- no project ever had two live orchestrators (in any poll), and every project ends with at most one;
- each session registered its own PID (the process that ran the hook through `/bin/sh -c`, named `claude` like
  Claude Code), was told its role, and every promoted session was told so exactly once, at its next prompt;
- promotion follows the rule: granted in a project without a live orchestrator, refused while one lives;
- no hook logged a failure.

Sessions are real processes (one per session, its own process group, killed with SIGKILL, hooks and all).
Duration: `ORCHESTRAY_SOAK_SECONDS` (default 90 s of activity; the run also lasts until every session has
started), sessions: `ORCHESTRAY_SOAK_SESSIONS` (default 100), random seed: `ORCHESTRAY_SOAK_SEED` (default
`DEFAULT_SEED`, so every run draws the same random numbers; the seed is printed first and is in every failure
message, so a failing run can be replayed, closely rather than exactly: session starts are paced by the clock
as well as by the step count, so a fast machine does not leave sessions to end one by one before the next start).

Not part of the default `pytest` run (marker `soak`, deselected in pyproject.toml); run it with
`python -m pytest -m soak tests/test_soak.py` (CI does, as a step of its own).
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from helpers import REPO, cli_env, run_cli

from tray.core import actions, events
from tray.core.liveness import LivenessProbe
from tray.core.log import HOOK_LOG_NAME
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.soak,
    pytest.mark.skipif(sys.platform != "linux", reason="sessions rename themselves through /proc (Linux)"),
]

SOAK_SECONDS = float(os.environ.get("ORCHESTRAY_SOAK_SECONDS", "90"))
SESSIONS = int(os.environ.get("ORCHESTRAY_SOAK_SESSIONS", "100"))
DEFAULT_SEED = 20261201
SEED = int(os.environ.get("ORCHESTRAY_SOAK_SEED", str(DEFAULT_SEED)))
PROJECTS = 10
MAX_LIVE = 20
TYPICAL_LIVE = 14  # sessions running at once, most of the time
#: What a run must have gone through before it ends: it goes on past SOAK_SECONDS (up to three times as long)
#: until it has, since the seed fixes the choices, not how many steps a loaded machine gets through in 90 s.
MIN_KILLS = SESSIONS // 4
MIN_PROMOTIONS = 3
#: About how many steps a run takes on a 2-core machine in SOAK_SECONDS: sessions start at whichever of the clock
#: and the step count is ahead, so a machine faster than that still keeps TYPICAL_LIVE sessions going.
PLANNED_STEPS = int(10 * SOAK_SECONDS)
PROJECT_WEIGHTS = (5, 4, 3, 2, 1, 1, 1, 1, 1, 1)  # a few busy projects (many workers), a few quiet ones
REPLY_TIMEOUT = 60.0
HOOK = os.path.join(REPO, "tray", "hook.py")
ROLES = ("orchestrator", "worker", "vacating")

# One Claude Code session: names itself `claude` (what tray.core.ancestry looks for), runs its hooks as Claude
# Code does (`/bin/sh -c COMMAND`, JSON on stdin, CLAUDE_CODE_SESSION_ID set), prompts now and then on its own,
# and obeys the driver: one JSON command per line on stdin, one JSON reply per line on stdout.
SESSION_SCRIPT = r'''
import json, os, random, select, subprocess, sys, time

hook_prefix, log_path, seed, session, cwd, config_dir = sys.argv[1:7]
rng = random.Random(int(seed))
try:
    with open("/proc/self/comm", "w") as handle:
        handle.write("claude")
except OSError:
    pass
log = open(log_path, "a", buffering=1, encoding="utf-8")


def hook(event, name, **fields):
    data = {"session_id": session, "cwd": cwd, "hook_event_name": name,
            "transcript_path": os.path.join(config_dir, "projects", "soak", session + ".jsonl")}
    data.update(fields)
    env = dict(os.environ, CLAUDE_CODE_SESSION_ID=session, CLAUDE_PROJECT_DIR=cwd, CLAUDECODE="1")
    done = subprocess.run(["/bin/sh", "-c", hook_prefix + " " + event], input=json.dumps(data), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    context = ""
    if done.stdout.strip():
        try:
            context = json.loads(done.stdout)["hookSpecificOutput"]["additionalContext"]
        except (ValueError, KeyError, TypeError):
            context = "UNPARSABLE: " + done.stdout
    return {"session": session, "event": event, "exit": done.returncode, "stderr": done.stderr,
            "context": context}


def reply(data):
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def prompt(source):
    result = hook("prompt", "UserPromptSubmit", prompt_id=str(rng.random()), permission_mode="default",
                  prompt="step %d" % rng.randrange(1000))
    result["source"] = source
    log.write(json.dumps(result) + "\n")
    return result


reply(hook("session-start", "SessionStart", source="startup"))
next_prompt = time.monotonic() + rng.uniform(1.0, 4.0)
while True:
    if not select.select([sys.stdin], [], [], max(0.0, next_prompt - time.monotonic()))[0]:
        prompt("own")
        next_prompt = time.monotonic() + rng.uniform(1.5, 5.0)
        continue
    line = sys.stdin.readline()
    if not line:
        break
    command = json.loads(line)
    if command["op"] == "prompt":
        reply(prompt("driver"))
    elif command["op"] == "clear":
        steps = []
        if command["end"]:
            steps.append(hook("session-end", "SessionEnd", reason="clear"))
        session = command["new"]
        steps.append(hook("session-start", "SessionStart", source="clear"))
        reply({"steps": steps})
    elif command["op"] == "end":
        reply(hook("session-end", "SessionEnd", reason="prompt_input_exit"))
        break
'''


# --- the observers -----------------------------------------------------------------------------------------


@dataclass
class PollRecord:
    number: int
    start: float
    end: float
    live_orchestrators: frozenset  # session ids that were live orchestrators in this poll's snapshot
    found: List[events.Event]


class RecordingView:
    """The tray's view, minus the GUI: remembers what it was asked to show and say."""

    def __init__(self) -> None:
        self.shown = 0
        self.notified: List[Tuple[str, str]] = []

    def show(self, state: str, count: int, title: str, menu: Any) -> None:
        self.shown += 1

    def notify(self, title: str, body: str, buttons=(), on_click=None) -> bool:
        self.notified.append((title, body))
        return True

    def stop(self) -> None:
        pass


class PollLoop(threading.Thread):
    """The tray's poll loop (`TrayController.poll_once`), as fast as it goes, with a barrier for the driver."""

    def __init__(self, controller: Any) -> None:
        super().__init__(name="soak-poll", daemon=True)
        self.controller = controller
        self.cond = threading.Condition()
        self.records: List[PollRecord] = []
        self.errors: List[str] = []
        self.conflicts: List[str] = []  # two live orchestrators of different processes in one project
        self.same_process_conflicts: List[str] = []  # /clear without SessionEnd, seen mid-register
        self.halt = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.halt.is_set():
            start = time.monotonic()
            try:
                found = self.controller.poll_once()
            except Exception as error:  # noqa: BLE001 - recorded, asserted on at the end
                self.errors.append(f"poll {number}: {type(error).__name__}: {error}")
                found = []
            end = time.monotonic()
            snapshot = self.controller.snapshot
            live: Set[str] = set()
            if snapshot is not None:
                for view in snapshot.projects:
                    live.update(s.session_id for s in view.orchestrators)
                    if len(view.orchestrators) > 1:
                        pids = {s.entry.pid for s in view.orchestrators}
                        what = f"poll {number}: {view.name}: " + ", ".join(
                            f"{s.session_id} (pid {s.entry.pid})" for s in view.orchestrators
                        )
                        (self.conflicts if len(pids) > 1 else self.same_process_conflicts).append(what)
            with self.cond:
                self.records.append(PollRecord(number, start, end, frozenset(live), found))
                self.cond.notify_all()
            number += 1
            self.halt.wait(0.02)

    def barrier(self, timeout: float = 60.0) -> PollRecord:
        """Wait for a poll that started after now, and return it."""
        after = time.monotonic()
        with self.cond:
            ok = self.cond.wait_for(lambda: self.records[-1].start > after if self.records else False, timeout)
            assert ok, f"the poll loop made no progress for {timeout} s; errors: {self.errors[-3:]}"
            return self.records[-1]

    def last(self) -> PollRecord:
        with self.cond:
            return self.records[-1]

    def events(self) -> List[events.Event]:
        with self.cond:
            return [event for record in self.records for event in record.found]


def parse_entry(raw: bytes, stem: str) -> Tuple[int, float]:
    """An independent check of a registry file: the protocol's fields, whole and valid; (pid, startedAt)."""
    data = json.loads(raw.decode("utf-8"))
    assert isinstance(data, dict), "not an object"
    assert data["sessionId"] == stem, "sessionId does not match the file name"
    assert isinstance(data["pid"], int) and data["pid"] > 0, "bad pid"
    assert data["role"] in ROLES, "bad role"
    assert isinstance(data["cwd"], str) and data["cwd"], "bad cwd"
    started = datetime.fromisoformat(data["startedAt"].replace("Z", "+00:00"))
    return data["pid"], started.replace(tzinfo=started.tzinfo or timezone.utc).timestamp()


class Reader(threading.Thread):
    """Parses every registry file, continuously; checks every disappearance against the process's liveness."""

    def __init__(self, directory: str, deliberate: Set[str], lock: threading.Lock) -> None:
        super().__init__(name="soak-reader", daemon=True)
        self.directory = directory
        self.deliberate = deliberate  # session ids the driver is ending or clearing on purpose
        self.deliberate_lock = lock
        self.unreadable: List[str] = []
        self.live_removed: List[str] = []
        self.removed = 0
        self.scans = 0
        self.reads = 0
        self.halt = threading.Event()

    def run(self) -> None:
        known: Dict[str, Tuple[int, float]] = {}
        while not self.halt.is_set():
            try:
                names = [n for n in os.listdir(self.directory) if n.endswith(".json") and not n.startswith(".")]
            except FileNotFoundError:
                names = []
            present = set()
            for name in names:
                stem = name[:-5]
                try:
                    with open(os.path.join(self.directory, name), "rb") as handle:
                        raw = handle.read()
                except FileNotFoundError:
                    continue  # removed between the listing and the open: judged at the next listing
                present.add(stem)
                self.reads += 1
                try:
                    known[stem] = parse_entry(raw, stem)
                except Exception as error:  # noqa: BLE001 - any failure to parse is the finding
                    self.unreadable.append(f"{name}: {type(error).__name__}: {error}: {raw[:200]!r}")
            for stem in set(known) - present:
                pid, started = known.pop(stem)
                self.removed += 1
                with self.deliberate_lock:
                    on_purpose = stem in self.deliberate
                if not on_purpose and LivenessProbe().alive(pid, started):
                    self.live_removed.append(f"{stem} (pid {pid}) was removed while its process was alive")
            self.scans += 1
            self.halt.wait(0.01)


# --- the sessions ---------------------------------------------------------------------------------------------


@dataclass
class Session:
    sid: str
    proc: subprocess.Popen
    project: int
    cwd: str
    sids: List[str] = field(default_factory=list)  # every session id this process had (/clear)
    state: str = "alive"  # alive | killed | ended


class Soak:
    def __init__(self, tmp: Path, rng: random.Random) -> None:
        self.tmp = tmp
        self.rng = rng
        self.registry_dir = str(tmp / "registry")
        self.registry = Registry(self.registry_dir)
        self.log_dir = str(tmp / "log")
        self.config_dir = str(tmp / "claude")
        self.session_logs = tmp / "sessions"
        self.session_logs.mkdir()
        self.script = tmp / "session.py"
        self.script.write_text(SESSION_SCRIPT, encoding="utf-8")
        self.env = cli_env(self.registry_dir, {"ORCHESTRAY_LOG_DIR": self.log_dir,
                                               "CLAUDE_CONFIG_DIR": self.config_dir})
        self.hook_prefix = f"{shlex.quote(sys.executable)} {shlex.quote(HOOK)} hook"
        self.cwds = self._projects()
        self.sessions: List[Session] = []
        self.deliberate: Set[str] = set()
        self.deliberate_lock = threading.Lock()
        self.failures: List[str] = []
        self.expected_deaths: List[str] = []  # orchestrators killed while the tray knew them as live
        self.promotions: collections.Counter = collections.Counter()
        self.notices_told: collections.Counter = collections.Counter()
        self.counts: collections.Counter = collections.Counter()
        self.counter = 0
        self.poll: Optional[PollLoop] = None  # the tray's poll loop, set by the test
        self.live_time = 0.0  # sessions running × seconds, for the average

    def _projects(self) -> Dict[int, List[str]]:
        """10 real project folders: five git repositories (one with a linked worktree), five plain folders;
        sessions start at a project's root or in a sub-folder (or in the worktree)."""
        cwds: Dict[int, List[str]] = {}
        for index in range(PROJECTS):
            root = self.tmp / "projects" / f"proj{index}"
            (root / "src" / "lib").mkdir(parents=True)
            cwds[index] = [str(root), str(root / "src" / "lib")] if index % 2 == 0 else [str(root)]
            if index % 2 == 0:
                (root / ".git" / "refs").mkdir(parents=True)
                (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
            if index == 0:
                private = root / ".git" / "worktrees" / "feature"
                private.mkdir(parents=True)
                (private / "commondir").write_text("../..\n")
                tree = self.tmp / "projects" / "proj0-feature"
                tree.mkdir()
                (tree / ".git").write_text(f"gitdir: {private}\n")
                cwds[index].append(str(tree))
        return cwds

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def new_sid(self) -> str:
        self.counter += 1
        return f"soak-{self.counter:03d}-{self.rng.getrandbits(32):08x}"

    def live(self) -> List[Session]:
        return [s for s in self.sessions if s.state == "alive"]

    # --- talking to a session ---------------------------------------------------------------------------

    def reply(self, session: Session, timeout: float = REPLY_TIMEOUT) -> Dict[str, Any]:
        stdout = session.proc.stdout
        assert stdout is not None
        if not select.select([stdout], [], [], timeout)[0]:
            raise AssertionError(f"session {session.sid} (pid {session.proc.pid}) did not answer in {timeout} s")
        line = stdout.readline()
        if not line:
            raise AssertionError(f"session {session.sid} (pid {session.proc.pid}) exited: {self.stderr_of(session)}")
        return json.loads(line)

    def send(self, session: Session, command: Dict[str, Any]) -> None:
        assert session.proc.stdin is not None
        session.proc.stdin.write((json.dumps(command) + "\n").encode())
        session.proc.stdin.flush()

    def stderr_of(self, session: Session) -> str:
        path = self.session_logs / f"{session.sids[0]}.err"
        return path.read_text(errors="replace")[-500:] if path.exists() else ""

    def check_hook(self, result: Dict[str, Any], what: str) -> None:
        if result["exit"] != 0 or result["stderr"]:
            self.fail(f"{what}: hook exit {result['exit']}, stderr {result['stderr'][:300]!r}")

    def check_registered(self, session: Session, result: Dict[str, Any], inherited: Optional[str] = None) -> None:
        """The entry exists, names the session's own process, and the session was told the role it has."""
        self.check_hook(result, f"session-start of {session.sid}")
        record = self.registry.get(session.sid)
        if record is None or not hasattr(record, "pid"):
            self.fail(f"{session.sid} is not registered after its session-start hook: {record!r}")
            return
        if record.pid != session.proc.pid:
            self.fail(f"{session.sid} registered pid {record.pid}, not its own process {session.proc.pid}")
        told = result["context"]
        if not told.startswith("Orchestray: you are") or f" {record.role.upper()} " not in told:
            self.fail(f"{session.sid} is a {record.role} but was told {told[:120]!r}")
        if inherited is not None and record.role != inherited:
            self.fail(f"{session.sid} replaced a {inherited} of the same process but became a {record.role}")

    # --- the steps ----------------------------------------------------------------------------------------

    def start(self, count: int) -> None:
        """A burst of sessions starting at once (concurrent registrations, some in the same project)."""
        fresh = []
        for _ in range(count):
            project = self.rng.choices(range(PROJECTS), weights=PROJECT_WEIGHTS)[0]
            cwd = self.rng.choice(self.cwds[project])
            sid = self.new_sid()
            err = open(self.session_logs / f"{sid}.err", "wb")  # noqa: SIM115 - closed right after the spawn
            try:
                proc = subprocess.Popen(
                    [sys.executable, str(self.script), self.hook_prefix, str(self.session_logs / f"{sid}.log"),
                     str(self.rng.getrandbits(32)), sid, cwd, self.config_dir],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=self.env,
                    start_new_session=True,
                )
            finally:
                err.close()
            session = Session(sid, proc, project, cwd, [sid])
            self.sessions.append(session)
            fresh.append(session)
        for session in fresh:
            self.check_registered(session, self.reply(session))
        self.counts["started"] += count

    def kill(self, count: int) -> None:
        """SIGKILL whole sessions (process group: the session and any hook it is running)."""
        live = self.live()
        orchestrators = self.orchestrator_sessions()
        victims: List[Session] = []
        while live and len(victims) < count:
            pool = [s for s in live if s in orchestrators] if orchestrators and self.rng.random() < 0.6 else live
            pool = pool or live
            victim = self.rng.choice(pool)
            live.remove(victim)
            victims.append(victim)
        assert self.poll is not None
        before = self.poll.last()  # completed after the previous step: the roles as the tray knows them
        for victim in victims:
            if victim.sid in before.live_orchestrators:
                self.expected_deaths.append(victim.sid)
            os.killpg(victim.proc.pid, signal.SIGKILL)
        for victim in victims:
            victim.proc.wait(timeout=30)
            victim.state = "killed"
        self.counts["killed"] += len(victims)

    def orchestrator_sessions(self) -> List[Session]:
        snapshot = build_snapshot(self.registry)
        ids = {s.session_id for view in snapshot.projects for s in view.orchestrators}
        return [s for s in self.live() if s.sid in ids]

    def promote(self) -> None:
        """Promote a live worker: granted without a live orchestrator in its project, refused with one."""
        snapshot = build_snapshot(self.registry)
        candidates = [view for view in snapshot.projects if view.workers]
        if not candidates:
            return
        free = [view for view in candidates if not view.orchestrators]
        view = self.rng.choice(free) if free and self.rng.random() < 0.8 else self.rng.choice(candidates)
        target = view.suggested if view.suggested and self.rng.random() < 0.7 else self.rng.choice(view.workers)
        assert target is not None
        expect_ok = not view.orchestrators
        via_cli = self.rng.random() < 0.5
        if via_cli:
            done = run_cli(["promote", target.session_id], registry_dir=self.registry_dir,
                           env={"ORCHESTRAY_LOG_DIR": self.log_dir})
            ok = done.returncode == 0
            if done.returncode not in (0, 1):
                self.fail(f"promote {target.session_id}: exit {done.returncode}: {done.stderr}")
            why = done.stderr.strip()
        else:
            try:
                actions.promote(self.registry, target.session_id)
                ok, why = True, ""
            except actions.ActionRefused as refused:
                ok, why = False, str(refused)
        if ok != expect_ok:
            holder = view.orchestrator.session_id if view.orchestrator else "none"
            self.fail(f"promote {target.session_id} in {view.name} (live orchestrator: {holder}) "
                      f"{'succeeded' if ok else 'was refused'}: {why}")
        self.counts["promote refused" if not ok else "promoted"] += 1
        if ok:
            self.promotions[target.session_id] += 1
            session = next(s for s in self.sessions if s.sid == target.session_id)
            # Its next prompt tells it, once (an own prompt running meanwhile may be the one that tells it).
            self.send(session, {"op": "prompt"})
            answer = self.reply(session)
            self.check_hook(answer, f"prompt of promoted {session.sid}")

    def clean(self) -> None:
        if self.rng.random() < 0.5:
            done = run_cli(["clean"], registry_dir=self.registry_dir, env={"ORCHESTRAY_LOG_DIR": self.log_dir})
            if done.returncode != 0:
                self.fail(f"clean: exit {done.returncode}: {done.stderr}")
        else:
            actions.clean(self.registry)
        self.counts["cleaned"] += 1

    def end(self) -> None:
        """A session ends normally: SessionEnd deregisters it, then the process exits."""
        live = self.live()
        if not live:
            return
        session = self.rng.choice(live)
        with self.deliberate_lock:
            self.deliberate.add(session.sid)
        self.send(session, {"op": "end"})
        self.check_hook(self.reply(session), f"session-end of {session.sid}")
        session.proc.wait(timeout=30)
        session.state = "ended"
        if self.registry.get(session.sid) is not None:
            self.fail(f"{session.sid} is still registered after its SessionEnd")
        self.counts["ended"] += 1

    def clear(self) -> None:
        """`/clear`: a new session id in the same process, with or without the SessionEnd of the old one."""
        live = self.live()
        if not live:
            return
        session = self.rng.choice(live)
        old = self.registry.get(session.sid)
        with_end = self.rng.random() < 0.5
        new = self.new_sid()
        with self.deliberate_lock:
            self.deliberate.add(session.sid)
        self.send(session, {"op": "clear", "new": new, "end": with_end})
        steps = self.reply(session)["steps"]
        for step in steps[:-1]:
            self.check_hook(step, f"session-end (clear) of {session.sid}")
        previous, session.sid = session.sid, new
        session.sids.append(new)
        inherited = None if with_end or old is None else getattr(old, "role", None)
        self.check_registered(session, steps[-1], inherited)
        if self.registry.get(previous) is not None:
            self.fail(f"{previous} is still registered after /clear turned it into {new}")
        self.counts["cleared" if with_end else "cleared without SessionEnd"] += 1

    def vacate(self) -> None:
        orchestrators = self.orchestrator_sessions()
        if not orchestrators:
            return
        session = self.rng.choice(orchestrators)
        done = run_cli(["vacate", "--session-id", session.sid], registry_dir=self.registry_dir,
                       env={"ORCHESTRAY_LOG_DIR": self.log_dir})
        if done.returncode != 0:
            self.fail(f"vacate {session.sid}: exit {done.returncode}: {done.stderr}")
        self.counts["vacated"] += 1

    def prompt(self) -> None:
        live = self.live()
        if live:
            session = self.rng.choice(live)
            self.send(session, {"op": "prompt"})
            self.check_hook(self.reply(session), f"prompt of {session.sid}")
            self.counts["prompted"] += 1

    # --- the run ------------------------------------------------------------------------------------------

    def covered(self) -> bool:
        """The run has been through as many kills and promotions as it asserts."""
        return self.counts["killed"] >= MIN_KILLS and self.counts["promoted"] >= MIN_PROMOTIONS

    def step(self, elapsed: float, steps: int) -> None:
        live = len(self.live())
        started = len(self.sessions)
        progress = max(elapsed / (0.9 * SOAK_SECONDS), steps / (0.9 * PLANNED_STEPS))
        pace = SESSIONS * min(1.0, progress)  # starts spread over the run, by the clock or by the steps
        room = MAX_LIVE - live
        if started < SESSIONS and room > 0 and started < pace:
            self.start(self.rng.randint(1, min(4, SESSIONS - started, room)))
            return
        if started >= SESSIONS and not self.covered() and live <= TYPICAL_LIVE:
            # All have started but too few kills yet (sessions ended on their own first): more sessions start,
            # so that a run always goes through what it asserts rather than idling with nothing to kill.
            self.start(self.rng.randint(1, min(4, room)))
            return
        choices = [
            (self.kill, 8.0 if live > TYPICAL_LIVE else 0.1 if live else 0.0),
            (self.promote, 2.0),
            (self.clean, 0.5),
            (self.end, 0.3 if live else 0.0),
            (self.clear, 0.6 if live else 0.0),
            (self.vacate, 0.4),
            (self.prompt, 0.5 if live else 0.0),
        ]
        action = self.rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]
        if action == self.kill:
            self.kill(1 if self.rng.random() < 0.7 else 2)
        else:
            action()

    def teardown(self) -> None:
        for session in self.sessions:
            if session.proc.poll() is None:
                try:
                    os.killpg(session.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for session in self.sessions:
            try:
                session.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a kernel that ignores SIGKILL
                pass
            for pipe in (session.proc.stdin, session.proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass


def test_soak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    print(f"soak: seed {SEED} (ORCHESTRAY_SOAK_SEED replays it), {SESSIONS} sessions, {SOAK_SECONDS:g} s", flush=True)
    rng = random.Random(SEED)
    soak = Soak(tmp_path, rng)
    os.makedirs(soak.registry_dir)
    for name, folder in (("CONFIG", "config"), ("STATE", "state"), ("LOG", "log")):
        monkeypatch.setenv(f"ORCHESTRAY_{name}_DIR", str(tmp_path / folder))
    monkeypatch.setenv("ORCHESTRAY_REGISTRY_DIR", soak.registry_dir)
    from tray.app.controller import TrayController

    view = RecordingView()
    controller = TrayController(Registry(soak.registry_dir), view)
    poll = PollLoop(controller)
    soak.poll = poll
    reader = Reader(soak.registry_dir, soak.deliberate, soak.deliberate_lock)
    began = time.monotonic()
    steps = 0
    try:
        reader.start()
        poll.start()
        poll.barrier()
        while True:
            elapsed = time.monotonic() - began
            if elapsed >= SOAK_SECONDS and len(soak.sessions) >= SESSIONS and (
                soak.covered() or elapsed >= 3 * SOAK_SECONDS
            ):
                break  # a slow machine takes longer to get through as many kills, not fewer kills
            soak.step(elapsed, steps)
            steps += 1
            poll.barrier()  # the tray has seen the result of this step before the next one
            time.sleep(rng.uniform(0.0, 0.05))  # sessions work a little between two events
            soak.live_time += len(soak.live()) * (time.monotonic() - began - elapsed)
        # The end: what is left is cleaned, the tray has seen all of it.
        soak.clean()
        poll.barrier()
        final = build_snapshot(soak.registry, probe=LivenessProbe())
        for session in soak.sessions:
            if session.state == "alive" and session.proc.poll() is not None:
                soak.fail(f"session {session.sid} (pid {session.proc.pid}) died on its own: {soak.stderr_of(session)}")
    finally:
        # The observers stop before the sessions are killed: a poll still running while teardown kills them
        # would report "orchestrator died" for sessions that nobody killed during the run.
        poll.halt.set()
        reader.halt.set()
        poll.join(timeout=30)
        reader.join(timeout=30)
        soak.teardown()
    duration = time.monotonic() - began

    died = collections.Counter(
        e.session_id for e in poll.events() if e.kind == events.EventKind.ORCHESTRATOR_DIED
    )
    expected = collections.Counter(soak.expected_deaths)
    told = collections.Counter()
    for log in soak.session_logs.glob("*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            result = json.loads(line)
            soak.check_hook(result, f"own prompt of {result['session']}")
            if "PROMOTED" in result["context"]:
                told[result["session"]] += 1
    hook_log = Path(soak.log_dir) / HOOK_LOG_NAME
    hook_failures = [
        line for line in (hook_log.read_text(errors="replace").splitlines() if hook_log.exists() else [])
        if re.search(r"hook \S+ failed| ERROR ", line)
    ]
    summary = (
        f"seed {SEED}, {duration:.0f} s, {steps} steps, {len(poll.records)} polls, "
        f"{soak.live_time / duration:.1f} sessions running on average, "
        f"{reader.scans} reader scans "
        f"({reader.reads} file reads, {reader.removed} removals seen), {dict(soak.counts)}, "
        f"{len(expected)} orchestrator deaths expected, {sum(died.values())} reported, "
        f"{sum(soak.promotions.values())} promotions, {len(poll.same_process_conflicts)} polls saw a /clear "
        f"mid-register (same process twice)"
    )
    print(summary)

    assert not poll.errors, f"{summary}\npoll errors: {poll.errors[:5]}"
    assert not reader.unreadable, f"{summary}\nunreadable registry files: {reader.unreadable[:5]}"
    assert not reader.live_removed, f"{summary}\nlive entries removed: {reader.live_removed[:5]}"
    assert not soak.failures, f"{summary}\n" + "\n".join(soak.failures[:10])
    assert not hook_failures, f"{summary}\nhooks logged failures: {hook_failures[:5]}"
    assert died == expected, (
        f"{summary}\n'orchestrator died' events differ from the orchestrators killed: "
        f"missing {dict(expected - died)}, unexpected or repeated {dict(died - expected)}"
    )
    assert not poll.conflicts, f"{summary}\ntwo live orchestrators in one project: {poll.conflicts[:5]}"
    for view in final.projects:
        assert len(view.orchestrators) <= 1, f"{summary}\n{view.name} ends with {len(view.orchestrators)}"
    assert told == soak.promotions, (
        f"{summary}\npromotion notices {dict(told)} differ from promotions {dict(soak.promotions)}"
    )
    assert final.stale_count == 0 and not final.unreadable, f"{summary}\nleft after the last clean: {final}"
    # The run proved something: enough of everything happened.
    assert len(soak.sessions) >= SESSIONS
    assert len(expected) >= max(3, SESSIONS // 20), summary
    assert soak.counts["promoted"] >= MIN_PROMOTIONS and soak.counts["killed"] >= MIN_KILLS, summary
