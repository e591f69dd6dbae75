"""Registry entries: parsing and validation, unknown fields kept, session ids refused, atomic writes."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest
from helpers import (
    by_session,
    cli_json,
    entry_files,
    one_line_error,
    read_bytes,
    read_json,
    run_cli,
    seed_entry,
    temp_files,
)

from tray.core.entry import Entry, InvalidSessionId, Unreadable, check_session_id, entry_from_json, new_entry
from tray.core.registry import Registry

CWD = "/home/user/project"


def write_raw(directory, name, data) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))
    return path


def read_back(tmp_path, data, name="s1.json"):
    directory = str(tmp_path / "registry")
    write_raw(directory, name, data)
    return Registry(directory).read_file(name)


# --- parse and validate ---------------------------------------------------------------------------------


def test_the_seed_example_parses(tmp_path):
    data = {
        "pid": 12345,
        "startedAt": "2026-02-24T10:00:00Z",
        "sessionId": "abc-123-def",
        "cwd": "C:/Users/marcl/my-project",
        "role": "orchestrator",
    }
    record = read_back(tmp_path, data, "abc-123-def.json")
    assert isinstance(record, Entry)
    assert (record.pid, record.session_id, record.cwd, record.role) == (
        12345, "abc-123-def", "C:/Users/marcl/my-project", "orchestrator"
    )
    assert record.started_ts == datetime(2026, 2, 24, 10, 0, tzinfo=timezone.utc).timestamp()
    assert record.extra == {}
    assert record.to_json() == data


WRONG_TYPES = [
    ("pid", "12345"),
    ("pid", 12.5),
    ("pid", None),
    ("pid", True),  # bool is an int in Python, never a PID
    ("pid", False),
    ("pid", 0),
    ("pid", -5),
    ("pid", 2**40),
    ("pid", [1]),
    ("startedAt", 1700000000),
    ("startedAt", None),
    ("startedAt", "yesterday"),
    ("startedAt", ""),
    ("sessionId", 7),
    ("sessionId", None),
    ("sessionId", ["s1"]),
    ("cwd", 3),
    ("cwd", None),
    ("cwd", ""),
    ("cwd", {"path": "/x"}),
    ("role", "boss"),
    ("role", "Orchestrator"),
    ("role", None),
    ("role", 1),
    ("role", ""),
]


@pytest.mark.parametrize("field,value", WRONG_TYPES, ids=[f"{f}={v!r}" for f, v in WRONG_TYPES])
def test_a_wrong_field_makes_the_file_unreadable(tmp_path, field, value):
    data = seed_entry("s1", 4242, CWD, "worker")
    data[field] = value
    record = read_back(tmp_path, data)
    assert isinstance(record, Unreadable), record
    assert field in record.error
    assert record.session_id == "s1"
    assert record.path.endswith("s1.json")


@pytest.mark.parametrize("field", ["pid", "startedAt", "sessionId", "cwd", "role"])
def test_a_missing_field_makes_the_file_unreadable(tmp_path, field):
    data = seed_entry("s1", 4242, CWD, "worker")
    del data[field]
    record = read_back(tmp_path, data)
    assert isinstance(record, Unreadable)
    assert "missing" in record.error and field in record.error


@pytest.mark.parametrize("data", [[], "text", 3, None, [seed_entry("s1", 1, CWD)]])
def test_json_that_is_not_an_object_is_unreadable(tmp_path, data):
    record = read_back(tmp_path, json.dumps(data))
    assert isinstance(record, Unreadable)
    assert "object" in record.error


def test_session_id_must_match_the_file_name(tmp_path):
    record = read_back(tmp_path, seed_entry("other", 4242, CWD), "s1.json")
    assert isinstance(record, Unreadable)
    assert "file name" in record.error
    assert isinstance(entry_from_json(seed_entry("s1", 1, CWD), "s1"), Entry)
    assert isinstance(entry_from_json(seed_entry("S1", 1, CWD), "s1"), str)  # case matters


def test_started_at_forms_are_the_same_moment(tmp_path):
    expected = datetime(2026, 2, 24, 10, 0, 5, tzinfo=timezone.utc).timestamp()
    for index, form in enumerate(["2026-02-24T10:00:05Z", "2026-02-24T10:00:05+00:00", "2026-02-24T10:00:05",
                                  "2026-02-24T12:00:05+02:00", "2026-02-24T10:00:05.000Z"]):
        record = read_back(tmp_path, seed_entry(f"s{index}", 4242, CWD, started_at=form), f"s{index}.json")
        assert isinstance(record, Entry), (form, record)
        assert record.started_ts == expected, form
        assert record.started_at == form  # kept as written: rewriting an entry does not change it


def test_new_entries_are_written_with_z():
    entry = new_entry("s1", 4242, CWD, "worker")
    assert entry.started_at.endswith("Z") and len(entry.started_at) == len("2026-02-24T10:00:00Z")


# --- unknown fields -------------------------------------------------------------------------------------


def test_unknown_fields_survive_register_vacate_promote(tmp_path, procs):
    """Another tool stores its own fields in our entries; every rewrite through the CLI keeps them."""
    registry = str(tmp_path / "registry")
    project = str(tmp_path / "project")
    os.makedirs(project)
    boss, helper = procs.many(2)
    for sid, process in (("boss", boss), ("helper", helper)):
        result = run_cli(["register", "--session-id", sid, "--cwd", project, "--pid", process.pid],
                         registry_dir=registry)
        assert result.returncode == 0, result.stderr
    foreign = {"color": "blue", "nested": {"a": [1, 2, {"b": None}]}, "note": "Zoë ☕"}
    for sid in ("boss", "helper"):
        path = os.path.join(registry, sid + ".json")
        data = read_json(path)
        data.update(foreign)
        write_raw(registry, sid + ".json", data)

    assert run_cli(["vacate", "--session-id", "boss"], registry_dir=registry).returncode == 0
    promoted = run_cli(["promote", "helper"], registry_dir=registry)
    assert promoted.returncode == 0, promoted.stderr
    # Re-registering (the prompt hook's repair) rewrites nothing it should not.
    again = run_cli(["register", "--session-id", "helper", "--cwd", project, "--pid", helper.pid],
                    registry_dir=registry)
    assert again.stdout.strip() == "orchestrator"

    boss_data = read_json(os.path.join(registry, "boss.json"))
    helper_data = read_json(os.path.join(registry, "helper.json"))
    assert boss_data["role"] == "vacating" and helper_data["role"] == "orchestrator"
    for data in (boss_data, helper_data):
        for key, value in foreign.items():
            assert data[key] == value, key
    rows = by_session(cli_json(["list"], registry))
    assert rows["helper"]["color"] == "blue"


# --- session ids ----------------------------------------------------------------------------------------

BAD_IDS = ["../x", "a/b", "", ".hidden", "x" * 129, "a\nb", "..", "a\\b", "-dash", "a b", "/abs", "é"]


@pytest.mark.parametrize("session_id", BAD_IDS, ids=[repr(s)[:20] for s in BAD_IDS])
def test_bad_session_ids_are_refused_by_register(tmp_path, procs, session_id):
    base = tmp_path / "base"
    registry = base / "registry"
    registry.mkdir(parents=True)
    sleeper = procs.spawn()
    # `--session-id=ID`: the form that passes an id starting with '-' through argparse.
    result = run_cli(["register", f"--session-id={session_id}", "--cwd", str(tmp_path), "--pid", sleeper.pid],
                     registry_dir=str(registry))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "session id" in one_line_error(result)
    assert result.stdout == ""
    created = [os.path.join(root, name) for root, _, names in os.walk(tmp_path) for name in names
               if not name.startswith(".orchestray")]
    assert created == []


@pytest.mark.parametrize("session_id", BAD_IDS[:7])
def test_bad_session_ids_are_refused_by_the_core(tmp_path, session_id):
    with pytest.raises(InvalidSessionId):
        check_session_id(session_id)
    with pytest.raises(InvalidSessionId):
        Registry(str(tmp_path)).path_for(session_id)


def test_longest_allowed_session_id_works(tmp_path, procs):
    registry = str(tmp_path / "registry")
    session_id = "a" + "b" * 127
    result = run_cli(["register", "--session-id", session_id, "--cwd", str(tmp_path), "--pid", procs.spawn().pid],
                     registry_dir=registry)
    assert result.returncode == 0, result.stderr
    assert entry_files(registry) == [session_id + ".json"]


# --- atomic writes --------------------------------------------------------------------------------------


def test_writes_leave_no_temporary_files(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    entry = new_entry("s1", 4242, CWD, "worker")
    for index in range(50):
        written = registry.write(entry.replace(role=("worker", "orchestrator", "vacating")[index % 3],
                                               extra={"n": index}))
    assert temp_files(registry.directory) == []
    assert os.listdir(registry.directory) == ["s1.json"]
    assert read_json(written.path)["n"] == 49
    again = registry.read_file("s1.json")
    assert isinstance(again, Entry) and again.to_json() == written.to_json()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    registry = Registry(str(tmp_path / "registry"))
    good = registry.write(new_entry("s1", 4242, CWD, "worker"))
    before = read_bytes(good.path)
    with pytest.raises(TypeError):
        registry.write(good.replace(role="orchestrator", extra={"bad": object()}))  # not JSON: fails mid-write
    assert read_bytes(good.path) == before
    assert sorted(os.listdir(registry.directory)) == ["s1.json"]
