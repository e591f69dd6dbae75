"""Liveness of an entry's process, with real processes: alive, killed, zombie, reused PID, AccessDenied."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest
from helpers import REPO, cli_json, create_time, iso, unused_pid, write_entry, zombie

from tray.core import liveness
from tray.core.liveness import LivenessProbe, process_create_time
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot


def test_a_running_child_is_alive(procs):
    child = procs.spawn()
    started = create_time(child.pid)
    assert process_create_time(child.pid) == pytest.approx(started)
    # The entry is written after the process started, with whole seconds: both forms count as alive.
    assert LivenessProbe().alive(child.pid, started)
    assert LivenessProbe().alive(child.pid, float(int(started)))
    assert LivenessProbe().alive(child.pid, started + 3600)  # registered long after it started


def test_a_killed_and_reaped_child_is_dead(procs):
    child = procs.spawn()
    started = create_time(child.pid)
    procs.kill(child)
    assert not psutil.pid_exists(child.pid)
    assert process_create_time(child.pid) is None
    assert not LivenessProbe().alive(child.pid, started)
    assert not LivenessProbe().alive_fast(child.pid, started)


def test_a_killed_but_unreaped_zombie_is_dead(procs):
    child = procs.spawn()
    started = create_time(child.pid)
    zombie(child)
    assert psutil.pid_exists(child.pid)  # the PID is still taken by the zombie ...
    assert process_create_time(child.pid) is None  # ... but nobody is running there
    assert not LivenessProbe().alive(child.pid, started)
    assert not LivenessProbe().alive_fast(child.pid, started)  # kill(pid, 0) succeeds on a zombie: psutil decides


def test_an_entry_older_than_its_process_is_a_reused_pid(procs):
    """The PID runs, but was created well after the entry's startedAt: another program now has it.

    Literal numbers, not the code's own constant: an entry a minute older than its process is somebody else's
    PID, one two seconds older is the same process (clock rounding, the late write of startedAt). A tolerance
    raised to minutes would keep dead sessions alive; one cut below a second would kill live ones.
    """
    child = procs.spawn()
    created = create_time(child.pid)
    for probe in (LivenessProbe().alive, LivenessProbe().alive_fast):
        assert not probe(child.pid, created - 6 * 3600)
        assert not probe(child.pid, created - 60)
        assert probe(child.pid, created - 2)
        assert probe(child.pid, float(int(created - 2)))  # startedAt has whole seconds
        assert probe(child.pid, created + 3600)  # registered an hour after it started: the prompt hook's repair


def test_reused_pid_seen_by_the_user_as_dead(procs, tmp_path):
    """What `orchestray list` (and so the tray, `clean` and `promote`) says about the same three cases."""
    child = procs.spawn()
    registry = str(tmp_path / "registry")
    cwd = str(tmp_path)
    created = create_time(child.pid)
    write_entry(registry, "hours-older", child.pid, cwd, "orchestrator", started_at=iso(created - 6 * 3600))
    write_entry(registry, "minute-older", child.pid, cwd, "worker", started_at=iso(created - 60))
    write_entry(registry, "seconds-older", child.pid, cwd, "worker", started_at=iso(created - 2))
    write_entry(registry, "real-session", child.pid, cwd, "worker", started_at=iso(created))
    rows = {row["sessionId"]: row["alive"] for row in cli_json(["list"], registry)}
    assert rows == {"hours-older": False, "minute-older": False, "seconds-older": True, "real-session": True}


def test_nonexistent_and_nonpositive_pids_are_dead():
    assert process_create_time(unused_pid()) is None
    assert process_create_time(0) is None
    assert process_create_time(-1) is None
    assert not LivenessProbe().alive(unused_pid(), 0.0)


def test_access_denied_counts_as_alive(monkeypatch):
    """The OS refuses to say anything about the process: it exists, so it must not be cleaned away.

    We run as root and Linux shows every process's /proc/PID/stat to everybody, so a real AccessDenied cannot
    be produced here; psutil's answer is simulated (the test of the branch, not of psutil). The real
    unprivileged case is `test_a_process_of_another_user_is_alive` below.
    """

    class Denied:
        def __init__(self, pid: int) -> None:
            self.pid = pid

        def oneshot(self):
            raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(liveness.psutil, "Process", Denied)
    assert process_create_time(4242) == float("-inf")
    assert LivenessProbe().alive(4242, 0.0)


@pytest.mark.skipif(not hasattr(os, "setuid") or os.geteuid() != 0, reason="needs root to drop to another user")
def test_a_process_of_another_user_is_alive(procs):
    """An unprivileged user looks at a root-owned live session: it must count as alive."""
    child = procs.spawn()  # owned by root
    started = create_time(child.pid)
    code = (
        "import os, sys; from tray.core.liveness import LivenessProbe;"  # imported first: root's files are private
        "os.setgid(65534); os.setuid(65534);"
        f"sys.exit(0 if LivenessProbe().alive_fast({child.pid}, {started!r}) else 3)"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_probe_asks_each_pid_once(procs, tmp_path, monkeypatch):
    a, b = procs.many(2)
    calls = []
    real = liveness.process_create_time

    def counting(pid):
        calls.append(pid)
        return real(pid)

    monkeypatch.setattr(liveness, "process_create_time", counting)
    probe = LivenessProbe()
    for _ in range(5):
        assert probe.alive(a.pid, create_time(a.pid))
        assert probe.alive(b.pid, create_time(b.pid))
        assert not probe.alive(a.pid, create_time(a.pid) - 3600)
    assert sorted(calls) == sorted([a.pid, b.pid])

    # The same through a snapshot of a registry where many entries name the same processes.
    registry = str(tmp_path / "registry")
    for index in range(6):
        write_entry(registry, f"s{index}", (a, b)[index % 2].pid, str(tmp_path), "worker")
    calls.clear()
    snapshot = build_snapshot(Registry(registry))
    assert len(snapshot.sessions) == 6 and all(s.alive for s in snapshot.sessions)
    assert sorted(calls) == sorted([a.pid, b.pid])


def test_probe_answers_are_per_snapshot(procs):
    """A new probe sees a death that happened after the previous probe looked."""
    child = procs.spawn()
    started = create_time(child.pid)
    first = LivenessProbe()
    assert first.alive(child.pid, started)
    procs.kill(child)
    assert first.alive(child.pid, started)  # cached for the snapshot it belongs to
    assert not LivenessProbe().alive(child.pid, started)
