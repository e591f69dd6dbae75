"""The user's story, end to end through the real `orchestray` command, with real processes as sessions."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Dict, List

import pytest
from helpers import (
    Sleepers,
    by_session,
    cli_json,
    create_time,
    entry_files,
    iso,
    one_line_error,
    project_of,
    read_json,
    run_cli,
    unused_pid,
    wait_until,
    write_entry,
)


class World:
    """One registry, a few project folders and the sleepers standing in for Claude Code sessions."""

    def __init__(self, tmp_path, procs: Sleepers) -> None:
        self.registry = str(tmp_path / "registry")
        self.root = tmp_path
        self.procs = procs
        self.project = self.folder("project")
        self.pids: Dict[str, int] = {}
        self.processes: Dict[str, object] = {}

    def folder(self, name: str) -> str:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return str(path)

    def cli(self, *args, expect: int = 0):
        result = run_cli(list(args), registry_dir=self.registry)
        assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr)
        if expect == 0:
            assert result.stderr == "", result.stderr
        return result

    def register(self, session_id: str, cwd: str = "", pid: int = 0) -> str:
        if not pid:
            process = self.procs.spawn()
            self.processes[session_id] = process
            pid = process.pid
        self.pids[session_id] = pid
        return self.cli("register", "--session-id", session_id, "--cwd", cwd or self.project, "--pid", pid)\
            .stdout.strip()

    def past_start_of(self, *session_ids: str) -> None:
        """Wait until the clock has left the whole second these sessions' `startedAt` names, so that anything
        registered (or rewritten) from now on has a later `startedAt` (it has whole seconds)."""
        latest = max(datetime.fromisoformat(read_json(self.file(s))["startedAt"].replace("Z", "+00:00")).timestamp()
                     for s in session_ids)
        wait_until(lambda: time.time() >= latest + 1, "the next whole second", timeout=5, interval=0.01)

    def kill(self, session_id: str) -> None:
        self.procs.kill(self.processes[session_id])

    def list(self) -> Dict[str, dict]:
        return by_session(cli_json(["list"], self.registry))

    def status(self) -> dict:
        return cli_json(["status", "--json"], self.registry)

    def check(self) -> str:
        return self.cli("check").stdout

    def file(self, session_id: str) -> str:
        return os.path.join(self.registry, session_id + ".json")

    def role(self, session_id: str) -> str:
        return read_json(self.file(session_id))["role"]

    def snapshot_bytes(self) -> Dict[str, bytes]:
        result = {}
        for name in entry_files(self.registry):
            with open(os.path.join(self.registry, name), "rb") as handle:
                result[name] = handle.read()
        return result


@pytest.fixture
def world(tmp_path, procs) -> World:
    return World(tmp_path, procs)


def line_of(text: str, word: str) -> str:
    lines = [line for line in text.splitlines() if word in line]
    assert lines, f"{word!r} not in:\n{text}"
    return lines[0]


# --- the story --------------------------------------------------------------------------------------------


def test_shells_register_then_the_orchestrator_dies(world):
    assert world.register("boss") == "orchestrator"
    assert world.register("w-old") == "worker"
    world.past_start_of("w-old")  # startedAt has whole seconds: the next worker is measurably younger
    assert world.register("a-new") == "worker"  # sorts first by name, but is the younger worker

    shown = world.check()
    assert "[ok]" in line_of(shown, "project")
    assert "orchestrator" in line_of(shown, "boss") and str(world.pids["boss"]) in line_of(shown, "boss")
    assert "worker" in line_of(shown, "w-old") and "worker" in line_of(shown, "a-new")
    assert "suggested" not in shown  # nobody needs to take over

    world.kill("boss")
    shown = world.check()
    assert "ORPHANED" in line_of(shown, "project")
    assert "suggested successor" in line_of(shown, "w-old")
    assert "suggested" not in line_of(shown, "a-new")
    assert "orchestray promote w-old" in shown
    assert "stale" in line_of(shown, "boss")
    rows = world.list()
    assert rows["boss"]["alive"] is False and rows["w-old"]["alive"] is True and rows["a-new"]["alive"] is True
    view = project_of(world.status(), rows["w-old"]["project"])
    assert view["state"] == "orphaned" and view["suggested"] == "w-old" and view["orchestrator"] is None
    assert [s["sessionId"] for s in view["stale"]] == ["boss"]

    promoted = world.cli("promote", "w-old")
    assert "removed dead orchestrator boss" in promoted.stdout
    assert "w-old is now the orchestrator" in promoted.stdout
    assert not os.path.exists(world.file("boss"))
    assert world.role("w-old") == "orchestrator" and world.role("a-new") == "worker"
    assert project_of(world.status(), rows["w-old"]["project"])["state"] == "ok"


def test_promote_is_refused_while_the_orchestrator_lives(world):
    world.register("boss")
    world.register("w1")
    before = world.snapshot_bytes()
    refused = world.cli("promote", "w1", expect=1)
    message = one_line_error(refused)
    assert "boss" in message and "--force" in message
    assert refused.stdout == ""
    assert world.snapshot_bytes() == before


def test_promote_force_demotes_the_live_orchestrator(world):
    world.register("boss")
    world.register("w1")
    world.register("w2")
    forced = world.cli("promote", "w2", "--force")
    assert "demoted boss to worker" in forced.stdout
    assert (world.role("boss"), world.role("w1"), world.role("w2")) == ("worker", "worker", "orchestrator")
    view = world.status()["projects"][0]
    assert view["state"] == "ok" and view["orchestrator"]["sessionId"] == "w2"
    assert sorted(w["sessionId"] for w in view["workers"]) == ["boss", "w1"]


def test_vacating_orchestrator_hands_over(world):
    world.register("boss")
    world.register("w1")
    assert "vacating" in world.cli("vacate", "--session-id", "boss").stdout
    assert world.role("boss") == "vacating"
    shown = world.check()
    assert "VACATING" in line_of(shown, "project") and "orchestray promote w1" in shown
    view = world.status()["projects"][0]
    assert view["state"] == "vacating" and view["suggested"] == "w1"
    assert [s["sessionId"] for s in view["vacating"]] == ["boss"]

    world.cli("promote", "w1")
    assert world.role("w1") == "orchestrator"
    assert world.role("boss") == "vacating"  # still handing over, still alive: stays
    view = world.status()["projects"][0]
    assert view["state"] == "ok" and [s["sessionId"] for s in view["vacating"]] == ["boss"]
    # A new session now joins as a worker: the vacating one no longer counts, the promoted one does.
    assert world.register("late") == "worker"


def test_a_worker_cannot_vacate(world):
    world.register("boss")
    world.register("w1")
    before = world.snapshot_bytes()
    refused = world.cli("vacate", "--session-id", "w1", expect=1)
    assert "w1" in one_line_error(refused) and "orchestrator" in one_line_error(refused)
    assert world.snapshot_bytes() == before


def test_promote_of_unknown_or_dead_sessions(world):
    world.register("boss")
    world.register("w1")
    unknown = world.cli("promote", "nobody", expect=2)
    assert "nobody" in one_line_error(unknown)
    world.kill("w1")
    dead = world.cli("promote", "w1", expect=1)
    assert "w1" in one_line_error(dead)
    assert world.role("boss") == "orchestrator"


def test_clean_removes_the_dead_and_never_the_living(world, procs):
    world.register("boss")
    world.register("w1")
    world.register("w2")
    world.kill("w2")
    other = world.folder("other")
    world.register("gone", cwd=other)
    world.kill("gone")
    # A session registered long after its process started (the prompt hook repairing a lost registration):
    # the process is older than the entry, which is fine. Only a process *newer* than the entry is a reused PID.
    veteran = procs.spawn()
    write_entry(world.registry, "veteran", veteran.pid, other, "worker",
                started_at=iso(create_time(veteran.pid) + 3 * 3600))
    # The same PID in an entry that claims to be hours older than the process: a reused PID, dead.
    write_entry(world.registry, "reused", veteran.pid, other, "orchestrator",
                started_at=iso(create_time(veteran.pid) - 3 * 3600))
    rows = world.list()
    assert rows["veteran"]["alive"] is True and rows["reused"]["alive"] is False

    dry = world.cli("clean", "--dry-run")
    assert "would remove" in line_of(dry.stdout, "w2") and "gone" in dry.stdout and "reused" in dry.stdout
    assert "veteran" not in dry.stdout and "boss" not in dry.stdout
    assert sorted(entry_files(world.registry)) == sorted(f"{s}.json" for s in
                                                         ("boss", "w1", "w2", "gone", "veteran", "reused"))

    done = world.cli("clean")
    assert "removed" in line_of(done.stdout, "w2") and "gone" in done.stdout and "reused" in done.stdout
    assert sorted(entry_files(world.registry)) == ["boss.json", "veteran.json", "w1.json"]
    assert world.cli("clean").stdout.strip() == "nothing to clean"
    assert sorted(world.list()) == ["boss", "veteran", "w1"]


def clear_twin(world: World, session_id: str, twin: str) -> None:
    """The moment of Claude Code's `/clear`: the same process under a second session id, both on disk.

    Written as the new session's registration writes it (same PID, same startedAt, the old role) before the
    old entry is removed; a tool that ignores our lock may leave the pair for longer.
    """
    old = read_json(world.file(session_id))
    write_entry(world.registry, twin, old["pid"], old["cwd"], old["role"], started_at=old["startedAt"])


def test_clean_never_removes_a_live_vacating_session_or_a_clear_pair(world):
    """Live entries of every role, each with its `/clear` twin, survive `clean`; only dead ones of any role go."""
    assert world.register("boss") == "orchestrator"
    assert world.register("w1") == "worker"
    world.cli("vacate", "--session-id", "boss")
    world.cli("promote", "w1")  # boss now hands over (vacating, alive), w1 orchestrates
    assert world.register("w2") == "worker"
    for sid in ("boss", "w1", "w2"):
        clear_twin(world, sid, sid + "-cleared")
    # Dead ones: a vacating session whose process died, and a /clear pair whose process died.
    other = world.folder("other")
    world.register("old-boss", cwd=other)
    world.cli("vacate", "--session-id", "old-boss")
    world.register("old-w", cwd=other)
    clear_twin(world, "old-w", "old-w-cleared")
    world.kill("old-boss")
    world.kill("old-w")
    live = ["boss", "boss-cleared", "w1", "w1-cleared", "w2", "w2-cleared"]
    dead = ["old-boss", "old-w", "old-w-cleared"]
    rows = world.list()
    assert {sid: rows[sid]["alive"] for sid in rows} == {**{s: True for s in live}, **{s: False for s in dead}}
    assert (rows["boss"]["role"], rows["boss-cleared"]["role"]) == ("vacating", "vacating")
    view = project_of(world.status(), rows["boss"]["project"])
    assert view["state"] == "ok"  # one orchestrator process, under two ids for the moment of /clear
    before = {name: data for name, data in world.snapshot_bytes().items() if name[:-5] in live}

    dry = world.cli("clean", "--dry-run").stdout
    for sid in dead:
        assert sid in dry
    assert "boss-cleared" not in dry and " w1" not in dry and " w2" not in dry
    assert sorted(entry_files(world.registry)) == sorted(f"{s}.json" for s in live + dead)

    world.cli("clean")
    assert sorted(entry_files(world.registry)) == sorted(f"{s}.json" for s in live)
    assert world.snapshot_bytes() == before  # the survivors byte for byte
    assert world.cli("clean").stdout.strip() == "nothing to clean"


def test_promote_with_a_vacating_session_and_clear_pairs(world):
    """/clear twins of the orchestrator are one orchestrator (promote is refused, --force demotes both); a
    vacating session and its twin stay untouched while a worker takes over."""
    world.register("boss")
    world.register("w1")
    world.register("w2")
    clear_twin(world, "boss", "boss-cleared")
    project = project_of(world.status(), world.list()["boss"]["project"])
    assert project["state"] == "ok"  # not a conflict: one process
    before = world.snapshot_bytes()
    refused = world.cli("promote", "w2", expect=1)
    assert "boss" in one_line_error(refused)
    assert world.snapshot_bytes() == before

    world.cli("promote", "w2", "--force")
    assert (world.role("boss"), world.role("boss-cleared"), world.role("w2")) == ("worker", "worker", "orchestrator")
    world.cli("vacate", "--session-id", "w2")
    clear_twin(world, "w2", "w2-cleared")
    assert (world.role("w2"), world.role("w2-cleared")) == ("vacating", "vacating")
    view = world.status()["projects"][0]
    assert view["state"] == "vacating" and view["suggested"] == "boss"  # the longest-running worker
    handing = {name: data for name, data in world.snapshot_bytes().items() if name.startswith("w2")}

    world.cli("promote", "w1")  # no --force needed: a vacating session is not an orchestrator
    assert world.role("w1") == "orchestrator"
    assert {n: d for n, d in world.snapshot_bytes().items() if n.startswith("w2")} == handing
    view = world.status()["projects"][0]
    assert view["state"] == "ok" and view["orchestrator"]["sessionId"] == "w1"
    assert sorted(s["sessionId"] for s in view["vacating"]) == ["w2", "w2-cleared"]
    world.cli("clean")
    assert sorted(world.list()) == ["boss", "boss-cleared", "w1", "w2", "w2-cleared"]


def test_register_never_makes_a_second_orchestrator(world, procs):
    """Asking for the orchestrator role while one lives is refused; a session resumed in a new process keeps
    its old orchestrator role only while nobody else took over."""
    world.register("boss")
    world.register("w1")
    before = world.snapshot_bytes()
    newcomer = procs.spawn()
    refused = world.cli("register", "--session-id", "pushy", "--cwd", world.project, "--pid", newcomer.pid,
                        "--role", "orchestrator", expect=1)
    assert "boss" in one_line_error(refused)
    assert world.snapshot_bytes() == before

    # "old" orchestrated in a process that is gone; "boss" has taken over since. "old" comes back (claude
    # --resume: the same session id in a new process): its entry says orchestrator, but it must rejoin as worker.
    gone = procs.spawn()
    write_entry(world.registry, "old", gone.pid, world.project, "orchestrator", started_at=iso(create_time(gone.pid)))
    procs.kill(gone)
    resumed = procs.spawn()
    assert world.cli("register", "--session-id", "old", "--cwd", world.project, "--pid", resumed.pid)\
        .stdout.strip() == "worker"
    view = world.status()["projects"][0]
    assert view["state"] == "ok" and [o["sessionId"] for o in view["orchestrators"]] == ["boss"]


def test_register_is_idempotent(world):
    assert world.register("boss") == "orchestrator"
    assert world.register("w1") == "worker"
    before = world.snapshot_bytes()
    world.past_start_of("boss", "w1")  # a rewrite would now change startedAt
    assert world.register("w1", pid=world.pids["w1"]) == "worker"
    assert world.register("boss", pid=world.pids["boss"]) == "orchestrator"
    assert world.snapshot_bytes() == before


def test_clear_starts_a_new_session_in_the_same_process(world):
    """Claude Code's /clear: a new session id, the same process. It replaces the old entry and keeps its role."""
    world.register("boss")
    world.register("w1")
    started = read_json(world.file("boss"))["startedAt"]
    assert world.register("boss-2", pid=world.pids["boss"]) == "orchestrator"
    assert not os.path.exists(world.file("boss"))
    assert read_json(world.file("boss-2"))["startedAt"] == started  # same process, same age
    assert world.register("w1-2", pid=world.pids["w1"]) == "worker"
    assert not os.path.exists(world.file("w1"))
    assert sorted(world.list()) == ["boss-2", "w1-2"]
    assert world.status()["projects"][0]["orchestrator"]["sessionId"] == "boss-2"


def test_deregister(world):
    world.register("boss")
    assert "deregistered boss" in world.cli("deregister", "--session-id", "boss").stdout
    assert entry_files(world.registry) == []
    assert "was not registered" in world.cli("deregister", "--session-id", "boss").stdout


# --- status --json and the states -------------------------------------------------------------------------

PROJECT_KEYS = {"key", "name", "state", "orchestrator", "workers", "vacating", "stale", "suggested"}
ENTRY_KEYS = {"pid", "startedAt", "sessionId", "cwd", "role", "alive", "project", "file"}


def test_every_state_is_reachable_and_status_has_the_documented_shape(world, procs):
    folders = {state: world.folder(state) for state in ("ok", "orphaned", "vacating", "conflict", "stale")}
    assert world.register("ok-boss", folders["ok"]) == "orchestrator"
    assert world.register("ok-w", folders["ok"]) == "worker"
    world.register("orph-boss", folders["orphaned"])
    world.register("orph-w", folders["orphaned"])
    world.kill("orph-boss")
    world.register("vac-boss", folders["vacating"])
    world.register("vac-w", folders["vacating"])
    world.cli("vacate", "--session-id", "vac-boss")
    for sid in ("c1", "c2"):  # two live orchestrators, written by hand (by a tool that ignores the rule)
        process = procs.spawn()
        write_entry(world.registry, sid, process.pid, folders["conflict"], "orchestrator",
                    started_at=iso(create_time(process.pid)))
    world.register("stale-1", folders["stale"])
    world.register("stale-2", folders["stale"])
    world.kill("stale-1")
    world.kill("stale-2")
    with open(os.path.join(world.registry, "broken.json"), "w") as handle:
        handle.write("{")

    status = world.status()
    assert {"registry", "projects", "unreadable"} <= set(status)
    assert status["registry"] == world.registry
    rows = world.list()
    states = {}
    for view in status["projects"]:
        assert set(view) >= PROJECT_KEYS, set(view)
        assert isinstance(view["name"], str) and isinstance(view["key"], str)
        for bucket in ("workers", "vacating", "stale"):
            for item in view[bucket]:
                assert set(item) >= ENTRY_KEYS and item == rows[item["sessionId"]]  # entries as in `list`
        if view["orchestrator"] is not None:
            assert view["orchestrator"] == rows[view["orchestrator"]["sessionId"]]
        assert view["suggested"] is None or isinstance(view["suggested"], str)
        states[view["name"]] = view
    assert {name: view["state"] for name, view in states.items()} == {s: s for s in folders}
    assert states["ok"]["orchestrator"]["sessionId"] == "ok-boss"
    assert states["orphaned"]["suggested"] == "orph-w" and states["orphaned"]["orchestrator"] is None
    assert states["vacating"]["suggested"] == "vac-w"
    assert states["conflict"]["orchestrator"]["sessionId"] in ("c1", "c2")
    assert sorted(s["sessionId"] for s in states["stale"]["stale"]) == ["stale-1", "stale-2"]
    assert states["stale"]["suggested"] is None and states["stale"]["workers"] == []
    assert status["unreadable"] == [{"sessionId": "broken", "file": os.path.join(world.registry, "broken.json"),
                                     "error": rows["broken"]["error"]}]

    shown = world.check()
    for word in ("ORPHANED", "VACATING", "CONFLICT", "stale: no live session", "[ok]"):
        assert word in shown, word
    assert "broken.json" in shown


def test_list_is_one_row_per_file(world):
    world.register("boss")
    world.register("w1")
    with open(os.path.join(world.registry, "junk.json"), "w") as handle:
        handle.write("[]")
    rows = cli_json(["list"], world.registry)
    assert [row["sessionId"] for row in rows] == ["boss", "junk", "w1"]
    assert set(rows[1]) == {"sessionId", "file", "error"}
    for row in (rows[0], rows[2]):
        assert set(row) >= ENTRY_KEYS and row["alive"] is True
        assert row["file"] == world.file(row["sessionId"])
        assert row["startedAt"].endswith("Z")


def test_an_empty_or_missing_registry(world):
    assert cli_json(["list"], world.registry) == []
    status = world.status()
    assert status["projects"] == [] and status["unreadable"] == []
    assert "No sessions registered." in world.check()
    assert world.cli("clean").stdout.strip() == "nothing to clean"


# --- bad input --------------------------------------------------------------------------------------------


def bad(world: World, args: List[object], registry: str = "") -> str:
    result = run_cli(args, registry_dir=registry or world.registry)
    assert result.returncode == 2, (args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    return one_line_error(result)


def test_bad_usage_is_exit_2_and_one_line(world, tmp_path):
    sleeper = world.procs.spawn()
    assert "--bogus" in bad(world, ["list", "--bogus"])
    assert "--bogus" in bad(world, ["register", "--bogus", "--pid", sleeper.pid])
    assert "frobnicate" in bad(world, ["frobnicate"])
    assert "session id" in bad(world, ["register", "--session-id", "../escape", "--pid", sleeper.pid,
                                      "--cwd", world.project])
    assert "session id" in bad(world, ["promote", "a/b"])
    assert "session id" in bad(world, ["vacate", "--session-id", "..", "--pid", sleeper.pid])
    missing = unused_pid()
    assert str(missing) in bad(world, ["register", "--session-id", "s1", "--pid", missing, "--cwd", world.project])
    assert "pid" in bad(world, ["register", "--session-id", "s1", "--pid", "twelve"])
    assert not os.path.exists(world.registry) or entry_files(world.registry) == []

    plain_file = tmp_path / "not-a-folder"
    plain_file.write_text("I am a file\n")
    for args in (["list"], ["check"], ["status", "--json"], ["clean"],
                 ["register", "--session-id", "s1", "--pid", sleeper.pid, "--cwd", world.project]):
        message = bad(world, args, registry=str(plain_file))
        assert str(plain_file) in message, message
    assert plain_file.read_text() == "I am a file\n"


def test_json_outputs_are_json(world):
    world.register("boss")
    for args in (["list"], ["status", "--json"]):
        result = world.cli(*args)
        json.loads(result.stdout)
