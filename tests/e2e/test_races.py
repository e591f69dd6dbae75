"""Races between real processes running the real CLI at the same moment.

A launcher process imports the package once, then forks one racer per command; each racer redirects its output,
waits for a start signal (a file appearing) and runs `tray.cli.main(argv)`, which is what `python -m tray ARGV`
runs. So every racer is its own process going through the whole CLI, and all of them reach the registry within
a millisecond or so of each other instead of being spread out by interpreter start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import List, Sequence, Tuple

import pytest
from helpers import cli_env, entry_files, read_bytes, reap, seed_entry, temp_files, write_entry

from tray.core.entry import Entry
from tray.core.registry import Registry

RACERS = 20
ROUNDS = 5

LAUNCHER = """
import json, os, sys, time
import psutil, tray.cli, tray.core.actions, tray.core.snapshot  # start-up cost paid before the start line
work, registry = sys.argv[1], sys.argv[2]
go = os.path.join(work, "go")
with open(os.path.join(work, "commands.json")) as handle:
    commands = json.load(handle)
children = []
for index, command in enumerate(commands):
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            for fd, name in ((1, "out"), (2, "err")):
                target = os.open(os.path.join(work, f"{name}-{index}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(target, fd)
                os.close(target)
            open(os.path.join(work, f"ready-{index}"), "w").close()
            deadline = time.monotonic() + 60
            while not os.path.exists(go) and time.monotonic() < deadline:
                time.sleep(0.001)
            try:
                code = tray.cli.main(["--registry-dir", registry] + command)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
            except BaseException:
                import traceback
                traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    children.append(pid)
codes = []
for pid in children:
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
with open(os.path.join(work, "codes.json"), "w") as handle:
    json.dump(codes, handle)
"""


def race(commands: Sequence[Sequence[object]], registry: str, work: str) -> List[Tuple[int, str, str]]:
    """Start one racer per command, release them together, return (exit code, stdout, stderr) for each."""
    os.makedirs(work)
    with open(os.path.join(work, "commands.json"), "w") as handle:
        json.dump([[str(c) for c in command] for command in commands], handle)
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, work, registry], env=cli_env())
    try:
        deadline = time.monotonic() + 60
        while not all(os.path.exists(os.path.join(work, f"ready-{i}")) for i in range(len(commands))):
            assert time.monotonic() < deadline, "racers did not get ready"
            assert launcher.poll() is None, "the launcher died before the start"
            time.sleep(0.005)
        open(os.path.join(work, "go"), "w").close()
        assert launcher.wait(timeout=60) == 0
    finally:
        reap(launcher)
    with open(os.path.join(work, "codes.json")) as handle:
        codes = json.load(handle)
    results = []
    for index, code in enumerate(codes):
        with open(os.path.join(work, f"out-{index}")) as out, open(os.path.join(work, f"err-{index}")) as err:
            result = (code, out.read(), err.read())
        assert "Traceback" not in result[1] + result[2], result[2]
        results.append(result)
    return results


def parsed_entries(registry: str) -> List[Entry]:
    reg = Registry(registry)
    records = reg.scan()
    assert len(records) == len(entry_files(registry))
    for record in records:
        assert isinstance(record, Entry), f"unreadable after the race: {record}"
    assert temp_files(registry) == []
    return records  # type: ignore[return-value]


@pytest.mark.slow
def test_simultaneous_registrations_elect_exactly_one_orchestrator(tmp_path, procs):
    sleepers = procs.many(RACERS)
    project = tmp_path / "project"
    project.mkdir()
    for round_ in range(ROUNDS):
        registry = str(tmp_path / f"registry-{round_}")
        commands = [
            ["register", "--session-id", f"s{n}", "--cwd", str(project), "--pid", sleepers[n].pid]
            for n in range(RACERS)
        ]
        results = race(commands, registry, str(tmp_path / f"signals-{round_}"))
        assert [code for code, _, _ in results] == [0] * RACERS, [err for _, _, err in results]
        said = [out.strip() for _, out, _ in results]
        assert sorted(said) == ["orchestrator"] + ["worker"] * (RACERS - 1), f"round {round_}: {said}"
        entries = {e.session_id: e for e in parsed_entries(registry)}
        assert sorted(entries) == sorted(f"s{n}" for n in range(RACERS))
        for n in range(RACERS):
            assert entries[f"s{n}"].role == said[n], f"round {round_}: s{n} printed {said[n]}"
            assert entries[f"s{n}"].pid == sleepers[n].pid


def test_simultaneous_registrations_in_two_projects(tmp_path, procs):
    sleepers = procs.many(RACERS)
    projects = [tmp_path / "alpha", tmp_path / "beta"]
    for project in projects:
        project.mkdir()
    registry = str(tmp_path / "registry")
    commands = [
        ["register", "--session-id", f"s{n}", "--cwd", str(projects[n % 2]), "--pid", sleepers[n].pid]
        for n in range(RACERS)
    ]
    results = race(commands, registry, str(tmp_path / "signals"))
    assert all(code == 0 for code, _, _ in results)
    entries = parsed_entries(registry)
    for which, project in enumerate(projects):
        roles = sorted(e.role for e in entries if e.cwd == str(project))
        assert roles == ["orchestrator"] + ["worker"] * (RACERS // 2 - 1), (project, roles)
        assert sorted(out.strip() for n, (_, out, _) in enumerate(results) if n % 2 == which) == roles


def orphaned_project(tmp_path, procs, name: str, workers: int) -> Tuple[str, str, List[str]]:
    """A project whose orchestrator died, with `workers` live workers (entries as registry.py writes them)."""
    registry = str(tmp_path / f"registry-{name}")
    project = str(tmp_path / name)
    os.makedirs(project)
    dead = procs.spawn()
    write_entry(registry, "boss", dead.pid, project, "orchestrator")
    procs.kill(dead)
    ids = []
    for n in range(workers):
        write_entry(registry, f"w{n}", procs.spawn().pid, project, "worker")
        ids.append(f"w{n}")
    return registry, project, ids


def test_promote_storm_without_force_leaves_one_orchestrator(tmp_path, procs):
    for round_ in range(3):
        registry, _, workers = orphaned_project(tmp_path, procs, f"p{round_}", 12)
        results = race([["promote", w] for w in workers], registry, str(tmp_path / f"signals-{round_}"))
        codes = [code for code, _, _ in results]
        assert sorted(codes) == [0] + [1] * (len(workers) - 1), [err for _, _, err in results]
        winner = workers[codes.index(0)]
        assert f"{winner} is now the orchestrator" in results[codes.index(0)][1]
        for code, out, err in results:
            if code == 1:
                assert out == "" and len(err.splitlines()) == 1 and "orchestrator" in err
        entries = {e.session_id: e for e in parsed_entries(registry)}
        assert "boss" not in entries  # the dead orchestrator's entry went with the first promotion
        assert [sid for sid, e in entries.items() if e.role == "orchestrator"] == [winner]
        assert sorted(entries) == sorted(workers)


def test_promote_storm_against_a_live_orchestrator_is_all_refused(tmp_path, procs):
    registry = str(tmp_path / "registry")
    project = str(tmp_path / "project")
    os.makedirs(project)
    boss = procs.spawn()
    write_entry(registry, "boss", boss.pid, project, "orchestrator")
    workers = [f"w{n}" for n in range(8)]
    for sid in workers:
        write_entry(registry, sid, procs.spawn().pid, project, "worker", note=sid)
    before = {name: read_bytes(os.path.join(registry, name)) for name in entry_files(registry)}
    results = race([["promote", w] for w in workers], registry, str(tmp_path / "signals"))
    assert [code for code, _, _ in results] == [1] * len(workers)
    after = {name: read_bytes(os.path.join(registry, name)) for name in entry_files(registry)}
    assert after == before
    assert seed_entry("boss", boss.pid, project, "orchestrator").keys() <= set(Registry(registry).get("boss").to_json())
