"""Hostile registry content: whatever other tools (or accidents) put in the folder, Orchestray shows every file,
never crashes, never hangs, and never changes or deletes what is valid or young.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest
from helpers import Sleepers, create_time, iso, run_cli, seed_entry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tray.core import actions
from tray.core.fsutil import fit_name
from tray.core.registry import MAX_ENTRY_BYTES, Registry

pytestmark = pytest.mark.timeout(600)  # a backstop: every CLI call below also has its own deadline

PASSWD = "/etc/passwd"
LOCK = ".orchestray.lock"
QUARANTINE = ".quarantine"
# A desktop's UTF-8 locale: Python writes stdout strictly there (this container's C.UTF-8 is lenient).
STRICT = {"PYTHONIOENCODING": "utf-8:strict"}


@pytest.fixture(scope="module")
def live():
    pool = Sleepers()
    try:
        yield pool.many(4)
    finally:
        pool.close()


@dataclass
class Spec:
    """One hostile file: its name's stem, what it is, and (for regular files) its bytes."""

    stem: str
    kind: str  # bytes | symlink | dangling | dir | fifo
    data: bytes = b""
    target: str = ""

    @property
    def name(self) -> str:
        return self.stem + ".json"


def entry_bytes(stem: str, **changes: Any) -> bytes:
    data = seed_entry(stem, 4242, "/somewhere", "worker")
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


_DROP = object()
HUGE = "9" * 5000  # Python refuses to parse an integer of more than 4,300 digits (ValueError, not JSONDecodeError)


def huge_number_bytes(stem: str, where: str) -> bytes:
    """An entry with a 5,000-digit number in it (json.dumps cannot write one: built as text)."""
    text = entry_bytes(stem).decode()
    if where == "pid":
        return text.replace('"pid": 4242', f'"pid": {HUGE}').encode()
    return text.replace('"pid": 4242', f'"pid": 4242, "otherTool": [{{"n": {HUGE}}}]').encode()


def long_stem(seed: str, char: str = "L") -> str:
    """A stem whose `.json` file name is as long as a name can be: 255 bytes."""
    room = 255 - len(".json") - len(seed.encode())
    return seed + char * (room // len(char.encode()))


def create(directory: str, spec: Spec, outside: str) -> None:
    path = os.path.join(directory, spec.name)
    if spec.kind == "bytes":
        with open(path, "wb") as handle:
            handle.write(spec.data)
    elif spec.kind == "symlink":
        os.symlink(spec.target, path)
    elif spec.kind == "valid-link":
        target = os.path.join(outside, spec.name)
        with open(target, "wb") as handle:
            handle.write(entry_bytes(spec.stem))
        os.symlink(target, path)
    elif spec.kind == "dangling":
        os.symlink(os.path.join(outside, "nothing-here"), path)
    elif spec.kind == "dir":
        os.mkdir(path)
        with open(os.path.join(path, "inside.json"), "w") as handle:
            handle.write("{}")
    elif spec.kind == "fifo":
        os.mkfifo(path)
    else:  # pragma: no cover
        raise AssertionError(spec.kind)


def zoo() -> List[Spec]:
    """Every kind of hostile file at once, with awkward names."""
    deep = 30_000  # under the size limit: the parser itself must survive the nesting
    return [
        Spec("not json", "bytes", b"{this is not json"),
        Spec("a..b", "bytes", b'{"pid": 1, "startedAt": '),
        Spec("x..y..", "bytes", b"[1, 2, 3]"),
        Spec("empty", "bytes", b""),
        Spec("blank", "bytes", b"  \n\t \n"),
        Spec("binary", "bytes", b"\xff\xfe\x00\x01garbage\x80"),
        Spec("latin1", "bytes", '{"pid": 1, "cwd": "café"}'.encode("latin-1")),
        Spec("huge", "bytes", entry_bytes("huge", padding="x" * (MAX_ENTRY_BYTES + 10))),
        Spec("deep", "bytes", b"[" * deep + b"]" * deep),
        Spec("deep100k", "bytes", b"[" * 100_000 + b"]" * 100_000),
        Spec("nested-object", "bytes", b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
        Spec("bool pid", "bytes", entry_bytes("bool pid", pid=True)),
        Spec("boolpid", "bytes", entry_bytes("boolpid", pid=True)),
        Spec("boss", "bytes", entry_bytes("boss", role="boss")),
        Spec("mismatch", "bytes", entry_bytes("mismatch", sessionId="someone-else")),
        Spec("nocwd", "bytes", entry_bytes("nocwd", cwd=_DROP)),
        Spec("ünïcødé ☕ 名前", "bytes", entry_bytes("ünïcødé ☕ 名前")),
        Spec("\udcff\udcfe-raw-bytes", "bytes", b"{}"),  # a file name that is not UTF-8 at all
        Spec("passwd", "symlink", target=PASSWD),
        Spec("linked", "valid-link"),
        Spec("dangling", "dangling"),
        Spec("x", "dir"),
        Spec("y", "fifo"),
        Spec("hugepid", "bytes", huge_number_bytes("hugepid", "pid")),
        Spec("hugeextra", "bytes", huge_number_bytes("hugeextra", "extra")),
        Spec(long_stem("long-"), "bytes", b"{broken"),
        Spec(long_stem("long-é", "é"), "bytes", b"{broken"),
        Spec(long_stem("long-valid-"), "bytes", entry_bytes(long_stem("long-valid-"))),  # a stem is no session id
        Spec(long_stem("long-fifo-"), "fifo"),
    ]


# --- hypothesis strategies ------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
NOT_STR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.lists(JSON_SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=3))
WRONG = {
    "pid": st.one_of(st.booleans(), st.none(), st.text(max_size=10), st.floats(allow_nan=False),
                     st.integers(max_value=0), st.integers(min_value=2**31), st.lists(st.integers(), max_size=2)),
    "startedAt": st.one_of(NOT_STR, st.sampled_from(["", "yesterday", "2026-13-45T99:00:00Z", "10:00"])),
    "sessionId": st.one_of(NOT_STR, st.text(max_size=20)),  # a string only when it differs from the name
    "cwd": st.one_of(NOT_STR, st.just(""), st.text(max_size=10).map(lambda s: s + "\x00")),
    "role": st.one_of(NOT_STR, st.text(max_size=12).filter(lambda s: s not in ("orchestrator", "worker",
                                                                              "vacating"))),
}
NAME_CHARS = st.sampled_from(list("ab.-_ ü☕名") + ["..", " "])


@st.composite
def hostile_spec(draw, index: int) -> Spec:
    stem = f"h{index}" + "".join(draw(st.lists(NAME_CHARS, max_size=6)))
    kind = draw(st.sampled_from(["garbage", "truncated", "wrong", "missing", "not-object", "binary", "empty",
                                 "huge", "deep", "symlink", "valid-link", "dangling", "dir", "fifo",
                                 "huge-number", "long-name"]))
    if kind == "huge-number":
        return Spec(stem, "bytes", huge_number_bytes(stem, draw(st.sampled_from(["pid", "extra"]))))
    if kind == "long-name":
        return Spec(long_stem(stem + "-", draw(st.sampled_from(["L", "é", "名"]))), "bytes", b"{")
    if kind == "garbage":
        text = draw(st.text(max_size=60))
        try:
            json.loads(text)
            text = "{" + text  # make sure it is not JSON
        except ValueError:
            pass
        return Spec(stem, "bytes", text.encode("utf-8", "surrogatepass"))
    if kind == "truncated":
        whole = entry_bytes(stem)
        return Spec(stem, "bytes", whole[: draw(st.integers(0, len(whole) - 1))])
    if kind == "wrong":
        field = draw(st.sampled_from(sorted(WRONG)))
        value = draw(WRONG[field].filter(lambda v: v != stem))
        return Spec(stem, "bytes", entry_bytes(stem, **{field: value}))
    if kind == "missing":
        return Spec(stem, "bytes", entry_bytes(stem, **{draw(st.sampled_from(sorted(WRONG))): _DROP}))
    if kind == "not-object":
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        return Spec(stem, "bytes", json.dumps(value).encode())
    if kind == "binary":
        return Spec(stem, "bytes", b"\xff" + draw(st.binary(max_size=40)))
    if kind == "empty":
        return Spec(stem, "bytes", draw(st.sampled_from([b"", b" ", b"\n\n", b"\t \r\n"])))
    if kind == "huge":
        return Spec(stem, "bytes", entry_bytes(stem, pad="y" * draw(st.integers(MAX_ENTRY_BYTES, 3 * MAX_ENTRY_BYTES))))
    if kind == "deep":
        depth = draw(st.sampled_from([5_000, 30_000, 100_000]))
        return Spec(stem, "bytes", b"[" * depth + b"]" * depth)
    if kind == "symlink":
        return Spec(stem, "symlink", target=PASSWD)
    return Spec(stem, kind)


@st.composite
def hostile_specs(draw) -> List[Spec]:
    count = draw(st.integers(1, 6))
    return [draw(hostile_spec(index)) for index in range(count)]


# --- the scenario ---------------------------------------------------------------------------------------


def fingerprint(path: str) -> Optional[tuple]:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    content = b""
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            content = handle.read()
    elif stat.S_ISLNK(info.st_mode):
        content = os.readlink(path).encode("utf-8", "surrogateescape")
    return (stat.S_IFMT(info.st_mode), info.st_mtime_ns, info.st_size, content)


def tree(directory: str) -> Dict[str, Optional[tuple]]:
    return {name: fingerprint(os.path.join(directory, name)) for name in os.listdir(directory) if name != LOCK}


def displayed(name: str) -> set:
    """How a file name may appear in human output: as is, or with the bytes that are not text escaped."""
    return {
        name.encode("utf-8", "backslashreplace").decode("utf-8"),
        os.fsencode(name).decode("utf-8", "backslashreplace"),
    }


def cli(args: List[str], registry: str, env: Optional[Dict[str, str]] = None):
    result = run_cli(args, registry_dir=registry, env=env, timeout=30)
    assert result.returncode == 0, (args, result.stderr)
    assert result.stderr == "", (args, result.stderr)
    result.stdout.encode("utf-8")  # valid UTF-8 text: no raw bytes of a file name leak into the output
    return result


def scenario(live_processes, specs: List[Spec], env: Optional[Dict[str, str]] = None) -> None:
    base = tempfile.mkdtemp(prefix="orchestray-hostile-")
    try:
        run_scenario(base, live_processes, specs, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_scenario(base: str, live_processes, specs: List[Spec], env: Optional[Dict[str, str]]) -> None:
    registry = os.path.join(base, "registry")
    outside = os.path.join(base, "outside")
    project = os.path.join(base, "project")
    for folder in (registry, outside, project):
        os.mkdir(folder)
    os.mkfifo(os.path.join(project, ".git"))  # git metadata that would block a reader: the project is the folder
    valid: Dict[str, Dict[str, Any]] = {}
    for index, process in enumerate(live_processes):
        # The first process orchestrates, the second hands over (vacating), the rest are workers; the first two
        # are each also on disk under a second session id, as for the moment of Claude Code's /clear.
        role = ("orchestrator", "vacating")[index] if index < 2 else "worker"
        for session_id in [f"live-{index}"] + ([f"live-{index}-cleared"] if index < 2 else []):
            data = seed_entry(session_id, process.pid, project, role, started_at=iso(create_time(process.pid)),
                              otherTool={"keep": [index, "me"]})
            with open(os.path.join(registry, session_id + ".json"), "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            valid[session_id] = data
    for spec in specs:
        create(registry, spec, outside)
    passwd_before = fingerprint(PASSWD)
    outside_before = tree(outside)
    before = tree(registry)
    hostile_paths = {os.path.join(registry, spec.name): spec for spec in specs}

    # list: one row per file; valid ones with their fields, the others with an error.
    rows = json.loads(cli(["list"], registry, env).stdout)
    files = [row["file"] for row in rows]
    assert sorted(files) == sorted(list(hostile_paths) + [os.path.join(registry, s + ".json") for s in valid])
    for row in rows:
        if row["file"] in hostile_paths:
            assert set(row) == {"sessionId", "file", "error"}, row
            assert row["sessionId"] == hostile_paths[row["file"]].stem
            assert isinstance(row["error"], str) and row["error"]
        else:
            expected = valid[row["sessionId"]]
            assert {k: row[k] for k in expected} == expected
            assert row["alive"] is True and "error" not in row

    # status --json: the live sessions form one healthy project (one orchestrator process, under two ids);
    # every hostile file is listed as unreadable.
    status = json.loads(cli(["status", "--json"], registry, env).stdout)
    assert [p["state"] for p in status["projects"]] == ["ok"]
    [view] = status["projects"]
    assert view["orchestrator"]["sessionId"] == "live-0"
    assert [o["sessionId"] for o in view["orchestrators"]] == ["live-0", "live-0-cleared"]
    assert [v["sessionId"] for v in view["vacating"]] == (["live-1", "live-1-cleared"] if len(live_processes) > 1
                                                         else [])
    assert sorted(w["sessionId"] for w in view["workers"]) == sorted(
        sid for sid, data in valid.items() if data["role"] == "worker")
    assert view["stale"] == []
    assert sorted(u["file"] for u in status["unreadable"]) == sorted(hostile_paths)

    # check: every file named, no crash.
    shown = cli(["check"], registry, env).stdout
    for spec in specs:
        assert any(form in shown for form in displayed(spec.name)), spec.name
    for session_id in valid:
        assert session_id in shown

    # clean with the default grace period: everything here is young or alive, so nothing goes.
    cli(["clean"], registry, env)
    assert tree(registry) == before
    assert tree(outside) == outside_before
    assert fingerprint(PASSWD) == passwd_before

    # clean with no grace (the Python API): unreadable files and links are moved aside, not lost;
    # folders and FIFOs stay; live entries are untouched.
    result = actions.clean(Registry(registry), grace=0, now=time.time() + 1)
    assert result.removed == ()
    moved = {os.path.basename(u.path) for u in result.quarantined}
    stays = {spec.name for spec in specs if spec.kind in ("dir", "fifo")}
    assert moved == {spec.name for spec in specs} - stays
    after = tree(registry)
    for name in before:
        if name in moved:
            assert name not in after
        else:
            assert after[name] == before[name], name
    quarantine = os.path.join(registry, QUARANTINE)
    kept = os.listdir(quarantine) if moved else []
    assert len(kept) == len(moved)
    for name in moved:
        # `<name>.<stamp>`, the name shortened to fit when it is already as long as a name can be
        [aside] = [k for k in kept if k.startswith(fit_name(name, len(".20261201T120000")) + ".")]
        original = before[name]
        now = fingerprint(os.path.join(quarantine, aside))
        assert now is not None and (now[0], now[2], now[3]) == (original[0], original[2], original[3])
    assert tree(outside) == outside_before
    assert fingerprint(PASSWD) == passwd_before
    # And the CLI still reads what is left.
    left = json.loads(cli(["list"], registry, env).stdout)
    assert sorted(r["sessionId"] for r in left if "error" not in r) == sorted(valid)


def test_every_kind_of_hostile_file_at_once(live):
    scenario(live, zoo())


def test_every_kind_of_hostile_file_with_a_strict_utf8_console(live):
    """The same with stdout encoded strictly, as on a desktop with a UTF-8 locale (not the lenient C.UTF-8)."""
    scenario(live, zoo(), env=STRICT)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
@given(specs=hostile_specs(), live_count=st.integers(1, 4))
def test_hostile_registry_contents(live, specs, live_count):
    scenario(live[:live_count], specs)


@pytest.mark.parametrize("helper", [LOCK, QUARANTINE, ".activity"])
def test_planted_links_at_our_helper_paths_with_every_hostile_file(live, helper):
    """A shared registry where someone planted a link at one of our helper paths, beside every kind of hostile
    file: reading commands show everything; `clean` refuses the link in one line (exit 1) and still does the
    rest; nothing outside the registry is created or changed, valid entries stay byte-identical."""
    base = tempfile.mkdtemp(prefix="orchestray-planted-")
    try:
        registry = os.path.join(base, "registry")
        outside = os.path.join(base, "outside")
        project = os.path.join(base, "project")
        for folder in (registry, outside, project):
            os.mkdir(folder)
        with open(os.path.join(outside, "precious.txt"), "w") as handle:
            handle.write("not yours")
        os.symlink(os.path.join(outside, "target") if helper == LOCK else outside, os.path.join(registry, helper))
        valid = {}
        for index, process in enumerate(live):
            data = seed_entry(f"live-{index}", process.pid, project, "orchestrator" if index == 0 else "worker",
                              started_at=iso(create_time(process.pid)))
            path = os.path.join(registry, f"live-{index}.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            valid[path] = fingerprint(path)
        specs = zoo()
        for spec in specs:
            create(registry, spec, outside)
            if spec.kind == "bytes":  # old enough to be moved aside
                old = time.time() - 3600
                os.utime(os.path.join(registry, spec.name), (old, old))
        outside_before = tree(outside)

        def read(args: List[str]) -> str:
            done = run_cli(args, registry_dir=registry, timeout=30)
            assert done.returncode == 0, done.stderr
            if helper == ".activity":  # activity is read by every command: the link is said, once
                [line] = done.stderr.splitlines()
                assert line.startswith("orchestray: warning: session activity not shown") and "symbolic" in line
            else:
                assert done.stderr == ""
            return done.stdout

        rows = json.loads(read(["list"]))
        assert len(rows) == len(specs) + len(live)
        status = json.loads(read(["status", "--json"]))
        assert [p["state"] for p in status["projects"]] == ["ok"]
        shown = read(["check"])
        assert all(f"live-{i}" in shown for i in range(len(live)))

        cleaned = run_cli(["clean"], registry_dir=registry, timeout=30)
        if helper == ".activity":  # clean only reads activity: the link is said, the clean is done
            assert cleaned.returncode == 0, cleaned.stderr
            assert len(cleaned.stderr.splitlines()) == 1
        else:
            assert cleaned.returncode == 1
            [line] = cleaned.stderr.splitlines()
            assert f"{helper} is a symbolic link" in line
        assert tree(outside) == outside_before
        assert not os.path.lexists(os.path.join(outside, "target"))
        for path, before in valid.items():
            assert fingerprint(path) == before
        # The hook of a live session still runs and writes no prompt text outside.
        hook = run_cli(["hook", "prompt"], registry_dir=registry, timeout=30,
                       input=json.dumps({"session_id": "live-1", "prompt": "secret prompt"}))
        assert hook.returncode == 0 and hook.stdout == ""
        assert tree(outside) == outside_before
        for path, before in valid.items():
            assert fingerprint(path) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)
