"""A writer killed with SIGKILL at random moments never leaves a torn entry; its temporaries are cleaned late.

The writer is a real forked process looping over `Registry.write` with large-ish entries (tens of KiB, so a
write, with its fsync, takes a while); it logs "start N" / "done N" around every write so that after the kill we
know exactly which versions a file may hold: the last one completed, or the one being written (never a mix).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from typing import Dict, Tuple

from helpers import by_session, cli_json, create_time, iso, read_bytes, run_cli, temp_files

from tray.core import actions
from tray.core.entry import Entry, new_entry
from tray.core.registry import Registry

SESSIONS = ("c0", "c1", "c2")
KILLS = 40
ROLES = ("worker", "orchestrator", "vacating")
FORK = multiprocessing.get_context("fork")


def version(session_id: str, n: int, pid: int, started_at: str, cwd: str) -> Entry:
    """The n-th version of an entry: its role, fields and size all change from one version to the next."""
    size = 20_000 + (n * 7919) % 25_000
    extra = {
        "version": n,
        "payload": chr(ord("a") + n % 26) * size,
        "items": list(range(n % 50)),
        "nested": {"n": n, "odd": n % 2 == 1},
    }
    entry = new_entry(session_id, pid, cwd, ROLES[n % 3], started_at=started_at)
    return entry.replace(extra=extra)


def writer(directory: str, log_path: str, first: int, pid: int, started_at: str, cwd: str) -> None:
    """Forked child: rewrite the entries forever, logging each write's start and end."""
    registry = Registry(directory)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    n = first
    while True:
        session_id = SESSIONS[n % len(SESSIONS)]
        os.write(log, f"start {session_id} {n}\n".encode())
        registry.write(version(session_id, n, pid, started_at, cwd))
        os.write(log, f"done {session_id} {n}\n".encode())
        n += 1


def progress(log_path: str, first: int) -> Tuple[Dict[str, int], Dict[str, int], int]:
    """(last completed version per session, last started version per session, next version number).

    `first` is the version the last writer started from: on a loaded machine the kill can land before the
    writer has even opened the log, and then nothing was written and the next writer starts there again.
    """
    done: Dict[str, int] = {}
    started: Dict[str, int] = {}
    last = first - 1
    if not os.path.exists(log_path):
        return done, started, first
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                continue  # the kill landed inside the log write itself
            word, session_id, number = line.split()
            (done if word == "done" else started)[session_id] = int(number)
            last = max(last, int(number))
    return done, started, last + 1


def kill_after(process, delay: float) -> None:
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)
    assert process.exitcode == -signal.SIGKILL


def test_sigkilled_writer_never_leaves_a_torn_entry(tmp_path, procs):
    seed = int(os.environ.get("ORCHESTRAY_TEST_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    directory = str(tmp_path / "registry")
    log_path = str(tmp_path / "progress.log")
    session = procs.spawn()  # the entries name a live process, so `clean` may not remove them
    started_at = iso(create_time(session.pid))
    cwd = str(tmp_path)
    registry = Registry(directory)
    for n, session_id in enumerate(SESSIONS):  # every entry exists before the first kill
        registry.write(version(session_id, n, session.pid, started_at, cwd))
    known: Dict[str, int] = {sid: n for n, sid in enumerate(SESSIONS)}
    next_version = len(SESSIONS)
    mid_write_kills = 0
    leftovers = set()

    for kill in range(KILLS):
        child = FORK.Process(target=writer, args=(directory, log_path, next_version, session.pid, started_at, cwd))
        child.start()
        try:
            kill_after(child, rng.uniform(0.002, 0.04))
        finally:
            if child.is_alive():
                child.kill()
                child.join()
        done, started, next_version = progress(log_path, next_version)
        for session_id in SESSIONS:
            allowed = {done.get(session_id, known[session_id]), started.get(session_id, known[session_id])}
            allowed.add(known[session_id])  # nothing completed for it in this life: the older version stands
            if started.get(session_id, -1) > done.get(session_id, -1) and started[session_id] >= next_version - 1:
                mid_write_kills += 1
            record = registry.read_file(session_id + ".json")
            context = f"seed {seed}, kill {kill}, {session_id}: {record}"
            assert isinstance(record, Entry), context
            n = record.extra.get("version")
            assert n in allowed, context
            assert record.to_json() == version(session_id, n, session.pid, started_at, cwd).to_json(), context
            known[session_id] = n
        names = sorted(os.listdir(directory))
        assert [name for name in names if not name.startswith(".")] == [sid + ".json" for sid in SESSIONS]
        leftovers.update(temp_files(directory))
        assert [r.session_id for r in registry.scan()] == list(SESSIONS)  # temporaries are never entries

    assert mid_write_kills >= 1, f"seed {seed}: no kill landed during a write; the test proved nothing"
    # What a user sees afterwards: three live, whole entries and nothing else.
    rows = by_session(cli_json(["list"], directory))
    assert sorted(rows) == list(SESSIONS)
    assert all(row["alive"] and "error" not in row for row in rows.values())
    # Leftover temporaries go only once they are older than the grace period.
    now = time.time()
    remaining = temp_files(directory)
    young = actions.clean(registry, now=now)
    assert young.removed == () and temp_files(directory) == remaining
    late = actions.clean(registry, now=now + actions.UNREADABLE_GRACE_SECONDS + 60)
    assert sorted(os.path.basename(p) for p in late.temporaries) == remaining
    assert temp_files(directory) == [] and late.removed == ()
    assert sorted(r.session_id for r in registry.scan()) == list(SESSIONS)


def blocked_writer(directory: str, entry: Entry) -> None:
    """Forked child: dies (when killed) after writing the temporary file but before renaming it."""
    os.fsync = lambda fd: time.sleep(600)  # the disk is slow today
    Registry(directory).write(entry)


def test_a_temporary_left_by_a_crash_is_kept_during_the_grace_period(tmp_path, procs):
    directory = str(tmp_path / "registry")
    registry = Registry(directory)
    session = procs.spawn()
    old = registry.write(new_entry("s1", session.pid, str(tmp_path), "orchestrator"))
    before = read_bytes(old.path)
    child = FORK.Process(target=blocked_writer, args=(directory, old.replace(role="worker", extra={"x": 1})))
    child.start()
    try:
        deadline = time.monotonic() + 10
        while not temp_files(directory):
            assert time.monotonic() < deadline, "the writer never created its temporary file"
            time.sleep(0.002)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=10)
    [temporary] = temp_files(directory)
    assert read_bytes(old.path) == before  # the old version is whole
    with open(os.path.join(directory, "notes.tmp"), "w") as handle:  # not ours: never touched
        handle.write("mine")

    listed = cli_json(["list"], directory)
    assert [row["sessionId"] for row in listed] == ["s1"] and listed[0]["role"] == "orchestrator"
    checked = run_cli(["check"], registry_dir=directory)
    assert checked.returncode == 0 and temporary not in checked.stdout

    mtime = os.lstat(os.path.join(directory, temporary)).st_mtime
    grace = actions.UNREADABLE_GRACE_SECONDS
    assert actions.clean(registry, now=mtime + grace - 5).temporaries == ()
    assert temporary in os.listdir(directory)
    dry = actions.clean(registry, dry_run=True, now=mtime + grace + 5)
    assert [os.path.basename(p) for p in dry.temporaries] == [temporary]
    assert temporary in os.listdir(directory)
    # The CLI's `clean` uses the default grace: a fresh temporary stays.
    assert run_cli(["clean"], registry_dir=directory).returncode == 0
    assert temporary in os.listdir(directory)
    done = actions.clean(registry, grace=10, now=mtime + 11)
    assert [os.path.basename(p) for p in done.temporaries] == [temporary]
    assert sorted(os.listdir(directory)) == [".orchestray.lock", "notes.tmp", "s1.json"]
    assert read_bytes(old.path) == before
