"""Session activity (issue #7): working / waiting / needs you, from Claude Code's prompt, Stop and Notification hooks.

Three layers, each checked where it is used:

* the prompt hook's JSON-free field scanner (`_scan_string_field`) against `json.loads`, for any prompt text;
* the sidecar files `<registry>/.activity/<session>`: round trip, the one-line prompt, and hostile, torn or
  foreign files, which are ignored and never break `orchestray check`, `status --json`, `list` or the tray;
* `ActivityWatcher` (one notification per waiting episode) and the controller that turns it into notifications;
* end to end: a fake Claude Code runs the hooks written by `orchestray hooks install`, and the real CLI shows
  what a user would see.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import types
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from controller_world import RecordingView
from helpers import run_cli, unused_pid, wait_until, without_blocking, write_entry
from hook_sandbox import Sandbox, assert_silent, git, role_context, stat_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tray.app import controller as controller_module
from tray.app import menu as m
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import activity as act
from tray.core import events
from tray.core.entry import new_entry
from tray.core.projects import Project
from tray.core.registry import Registry
from tray.core.snapshot import Session, Snapshot, build_snapshot, snapshot_from_sessions
from tray.hooks.handlers import Payload, _scan_string_field, run_hook

SCAN_LIMIT = 512  # `_scan_string_field`'s default: the prompt hook needs only the start of the prompt
NOW = 1_800_000_000.0

# ---------------------------------------------------------------------------------------------------------
# The scanner against json.loads
# ---------------------------------------------------------------------------------------------------------

# Any text: quotes, backslashes, newlines, control characters, astral-plane characters, strings that look like
# JSON (keys, escapes) so a scanner that matches text rather than structure would be caught.
TRICKY = st.sampled_from(
    [
        '"prompt":"evil"',
        '\\"prompt\\":\\"evil\\"',
        "prompt",
        '"prompt"',
        '"prompt" : "x"',
        "\\",
        '\\"',
        "\\u0041",
        "\n\r\t\b\f",
        "\x00\x01\x1f\x7f",
        "\u2028\u2029\x85",
        "😀 日本語 é",
        "}",
        ",",
    ]
)
TEXT = st.one_of(st.text(), st.lists(st.one_of(TRICKY, st.text(max_size=5)), max_size=8).map("".join))
CLAUDE_KEYS = ("session_id", "transcript_path", "cwd", "permission_mode", "hook_event_name", "prompt_id")


@st.composite
def prompt_payloads(draw: Any) -> Tuple[Dict[str, Any], str]:
    """A UserPromptSubmit payload with Claude Code's keys in any order, every value any text."""
    prompt = draw(TEXT)
    fields = {key: draw(TEXT) for key in CLAUDE_KEYS}
    fields["hook_event_name"] = draw(st.sampled_from(["UserPromptSubmit", "prompt"]))  # a value equal to the key
    fields["prompt"] = prompt
    order = draw(st.permutations(list(fields)))
    return {key: fields[key] for key in order}, prompt


def needs_json(text: str) -> bool:
    """True when the compact encoding of `text` (as JSON.stringify writes it) holds a `\\uXXXX` escape, which
    the scanner leaves to `json`: control characters other than \\b \\f \\n \\r \\t."""
    return any(ord(ch) < 0x20 and ch not in "\b\f\n\r\t" for ch in text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt_payloads())
def test_scanner_agrees_with_json_on_compact_utf8_payloads(case: Tuple[Dict[str, Any], str]) -> None:
    """Like JSON.stringify (compact, non-ASCII unescaped): the value's start, or None only for \\u escapes."""
    data, prompt = case
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(raw)["prompt"] == prompt
    found = _scan_string_field(raw, "prompt")
    if needs_json(prompt[:SCAN_LIMIT]):
        assert found is None or found == prompt[:SCAN_LIMIT]
    else:
        assert found == prompt[:SCAN_LIMIT]
    # What the prompt hook uses: the scanner, else json. Either way the value's start, never another field.
    assert Payload(raw).string_field("prompt")[:SCAN_LIMIT] == prompt[:SCAN_LIMIT]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt_payloads(), st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]), st.booleans())
def test_scanner_never_returns_a_wrong_value(case: Tuple[Dict[str, Any], str], separators, indent: bool) -> None:
    """ASCII-only JSON (`\\uXXXX` for every non-ASCII character), spaced or indented: None or the right value."""
    data, prompt = case
    raw = json.dumps(data, ensure_ascii=True, separators=separators, indent=2 if indent else None)
    found = _scan_string_field(raw, "prompt")
    assert found is None or found == prompt[:SCAN_LIMIT]
    assert Payload(raw).string_field("prompt")[:SCAN_LIMIT] == prompt[:SCAN_LIMIT]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{}",
        '{"prompt":null}',
        '{"prompt":42}',
        '{"prompt":["a"]}',
        '{"hook_event_name":"prompt"}',
        '{"prompt":"unterminated',
        '{"prompt":"ends in a backslash\\',
        '{"prompt":"bad escape \\x"}',
        '{"other":"\\"prompt\\":\\"evil\\""}',
    ],
)
def test_scanner_says_not_sure_rather_than_guess(raw: str) -> None:
    assert _scan_string_field(raw, "prompt") is None


def test_scanner_takes_only_the_start_of_a_long_value() -> None:
    prompt = "x" * 10_000 + "\\"
    raw = json.dumps({"session_id": "s", "prompt": prompt}, separators=(",", ":"))
    assert _scan_string_field(raw, "prompt") == "x" * SCAN_LIMIT
    assert _scan_string_field(raw[: len(raw) // 2], "prompt") == "x" * SCAN_LIMIT  # stdin cut after the start
    assert _scan_string_field(raw[:40], "prompt") is None  # cut before the limit: not sure


# ---------------------------------------------------------------------------------------------------------
# Activity files
# ---------------------------------------------------------------------------------------------------------


def test_round_trip_and_prompt_kept_when_not_given(tmp_path: Path) -> None:
    reg = str(tmp_path)
    act.write_activity(reg, "s1", act.WORKING, prompt="refactor the parser\nthen the tests", now=NOW)
    assert act.read_all(reg) == {"s1": act.Activity(act.WORKING, NOW, "", "refactor the parser")}
    act.write_activity(reg, "s1", act.ATTENTION, detail="Claude needs your permission to use Bash", now=NOW + 5)
    found = act.read_activity_file(os.path.join(reg, ".activity", "s1"))
    assert found == act.Activity(act.ATTENTION, NOW + 5, "Claude needs your permission to use Bash",
                                 "refactor the parser")
    assert found.to_json() == {
        "activity": "attention",
        "activityAt": "2027-01-15T08:00:05Z",
        "activityDetail": "Claude needs your permission to use Bash",
        "lastPrompt": "refactor the parser",
    }
    act.write_activity(reg, "s1", act.WAITING, prompt="", now=NOW + 9)
    assert act.read_all(reg)["s1"].prompt == ""
    assert sorted(os.listdir(os.path.join(reg, ".activity"))) == ["s1"]  # no temporary left behind
    act.remove_activity(reg, "s1")
    act.remove_activity(reg, "s1")  # twice: no error
    assert act.read_all(reg) == {}


@pytest.mark.parametrize(
    "text, line",
    [
        ("hello", "hello"),
        ("\n\n   \n  first real line  \nsecond", "first real line"),
        ("tab\there\x00nul\x1bescape", "tab here nul escape"),
        ("a" * 80, "a" * 80),
        ("a" * 81, "a" * 79 + "…"),
        ("é" * 200 + "\nnext", "é" * 79 + "…"),
        ("line\u2028separator", "line"),
        ("", ""),
        (" \n\t\r\n", ""),
    ],
)
def test_prompt_is_one_line_of_at_most_80_characters(tmp_path: Path, text: str, line: str) -> None:
    assert act.one_line(text) == line
    act.write_activity(str(tmp_path), "s1", act.WORKING, prompt=text, now=NOW)
    assert act.read_all(str(tmp_path))["s1"].prompt == line


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=st.text(), detail=st.text(max_size=300), since=st.floats(0, 4e9))
def test_any_text_round_trips_as_one_printable_line(tmp_path: Path, prompt: str, detail: str, since: float) -> None:
    reg = str(tmp_path)
    act.write_activity(reg, "s1", act.WAITING, detail=detail, prompt=prompt, now=since)
    found = act.read_all(reg)["s1"]
    assert found == act.Activity(act.WAITING, since, act.one_line(detail), act.one_line(prompt))
    for line in (found.detail, found.prompt):
        assert len(line) <= act.PROMPT_LIMIT and line == line.strip() and line.isprintable()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=TEXT.filter(lambda text: len(text) < 400))
def test_prompt_hook_records_the_first_line_of_any_prompt(tmp_path: Path, prompt: str) -> None:
    """The real handler, in process, over the exact bytes Claude Code writes."""
    reg = tmp_path / "registry"
    if not (reg / "s1.json").exists():
        write_entry(str(reg), "s1", os.getpid(), str(tmp_path))  # registered: the hook's common, fast case
    raw = json.dumps({"session_id": "s1", "cwd": str(tmp_path), "hook_event_name": "UserPromptSubmit",
                      "prompt": prompt}, ensure_ascii=False, separators=(",", ":"))
    out = io.StringIO()
    assert run_hook("prompt", registry_dir=str(reg), stdin=io.StringIO(raw), stdout=out) == 0
    assert out.getvalue() == ""
    found = act.read_all(str(reg))["s1"]
    assert (found.state, found.prompt) == (act.WORKING, act.one_line(prompt))


# --- hostile, torn and foreign files ---------------------------------------------------------------------

GOOD = "good-1"
HEADER = act.MAGIC + "\nwaiting\n"


def _body(since: str, state: str = "waiting") -> bytes:
    return f"{act.MAGIC}\n{state}\n{since}\ndetail\nprompt\n".encode()


HOSTILE_BYTES: Dict[str, bytes] = {
    "garbage": bytes(range(256)) * 4,
    "empty": b"",
    "nan": _body("nan"),
    "inf": _body("inf"),
    "minus-inf": _body("-inf"),
    "far-future": _body("1e300"),
    "far-past": _body("-1e300"),
    "year-10000": _body("253402300800.5"),
    "negative": _body("-5"),
    "not-a-number": _body("yesterday"),
    "wrong-magic": _body("1800000000").replace(b"activity 1", b"activity 2"),
    "unknown-state": _body("1800000000", state="sleeping"),
    "torn": (HEADER + "18000").encode(),
    "nul-bytes": _body("1800000000").replace(b"\n", b"\x00"),
    "crlf": _body("1800000000").replace(b"\n", b"\r\n"),
    "json": json.dumps({"activity": "waiting", "since": 1}).encode(),
    "huge": (HEADER + "1800000000\n\n" + "x" * (8 * 1024 * 1024) + "\n").encode(),
}
HOSTILE_OTHER = ("directory", "fifo", "symlink-to-device", "dangling-symlink")
HOSTILE = tuple(HOSTILE_BYTES) + HOSTILE_OTHER


def make_hostile(folder: Path, name: str, kind: str) -> None:
    path = folder / name
    if kind in HOSTILE_BYTES:
        path.write_bytes(HOSTILE_BYTES[kind])
    elif kind == "directory":
        path.mkdir()
        (path / "inner").write_bytes(_body("1800000000"))
    elif kind == "fifo":
        os.mkfifo(path)  # opening it to read would block forever without O_NONBLOCK
    elif kind == "symlink-to-device":
        path.symlink_to("/dev/zero")
    elif kind == "dangling-symlink":
        path.symlink_to(folder / "nowhere")
    else:  # pragma: no cover
        raise AssertionError(kind)


def hostile_registry(tmp_path: Path, kinds: Tuple[str, ...]) -> Path:
    """One live entry (this test's process) per hostile activity file, plus one with a good activity."""
    reg = tmp_path / "registry"
    folder = reg / act.ACTIVITY_DIR
    folder.mkdir(parents=True)
    for kind in kinds:
        write_entry(str(reg), f"s-{kind}", os.getpid(), str(tmp_path))
        make_hostile(folder, f"s-{kind}", kind)
    write_entry(str(reg), GOOD, os.getpid(), str(tmp_path))
    act.write_activity(str(reg), GOOD, act.ATTENTION, "Claude needs your permission to use Bash", "fix it")
    for name in ("x.tmp", ".hidden", "not-registered"):  # a temporary, a hidden file, a session with no entry
        (folder / name).write_bytes(_body(repr(time.time())))
    return reg


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_activity_file_is_ignored(tmp_path: Path, kind: str) -> None:
    reg = hostile_registry(tmp_path, (kind,))
    path = str(reg / act.ACTIVITY_DIR / f"s-{kind}")
    found, snapshot = without_blocking(lambda: (act.read_activity_file(path), build_snapshot(Registry(str(reg)))), path)
    assert found is None
    hostile = snapshot.session(f"s-{kind}")
    assert hostile is not None and hostile.alive and hostile.activity is None
    assert snapshot.session(GOOD).activity.state == act.ATTENTION  # the others are still read
    # Everything derived from the snapshot copes: JSON, the summary, the menu, the tooltip, the watcher.
    json.dumps(snapshot.status_json())
    json.dumps(snapshot.list_json())
    from tray.summary import render_summary

    summary = render_summary(snapshot)
    assert "[NEEDS YOU" in summary and summary.count("[") == 2  # the good session's activity, and the project state
    m.build_menu(snapshot, m.MenuSettings(), lambda root, name: None)
    assert "1 waiting for you" in m.tooltip(snapshot, limit=1000)
    assert [e.session_id for e in events.ActivityWatcher(0).check(snapshot, time.time())] == [GOOD]


def test_an_activity_folder_that_is_not_a_folder_is_ignored(tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    write_entry(str(reg), "s1", os.getpid(), str(tmp_path))
    (reg / act.ACTIVITY_DIR).write_bytes(_body("1800000000"))
    assert act.read_all(str(reg)) == {}
    assert build_snapshot(Registry(str(reg))).session("s1").activity is None
    act.remove_activity(str(reg), "s1")  # no error either


def test_hostile_activity_files_never_break_the_cli(tmp_path: Path) -> None:
    """Every hostile file at once, through the real `check`, `status --json` and `list` (bounded: a hang fails)."""
    reg = hostile_registry(tmp_path, HOSTILE)
    check = run_cli(["check"], registry_dir=str(reg), timeout=20)
    assert check.returncode == 0, check.stderr
    assert check.stderr == ""
    lines = {line.split()[1]: line for line in check.stdout.splitlines() if line.startswith("  ")}
    for kind in HOSTILE:
        assert "[" not in lines[f"s-{kind}"], lines[f"s-{kind}"]
    assert re.search(r"\[NEEDS YOU \d+s\]  \"fix it\"", lines[GOOD]), lines[GOOD]

    status = run_cli(["status", "--json"], registry_dir=str(reg), timeout=20)
    assert status.returncode == 0, status.stderr
    (view,) = json.loads(status.stdout)["projects"]
    rows = [*view["orchestrators"], *view["workers"]]
    assert len(rows) == len(HOSTILE) + 1
    for row in rows:
        if row["sessionId"] == GOOD:
            assert (row["activity"], row["lastPrompt"]) == ("attention", "fix it")
        else:
            assert "activity" not in row and "lastPrompt" not in row, row

    listed = run_cli(["list"], registry_dir=str(reg), timeout=20)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["sessionId"] for r in rows if "activity" in r) == [GOOD]
    assert not any("error" in r for r in rows)


# ---------------------------------------------------------------------------------------------------------
# ActivityWatcher: one notification per waiting episode
# ---------------------------------------------------------------------------------------------------------

PROJECT = Project(key="/p/alpha", root="/p/alpha", name="alpha")


def sess(sid: str, state: Optional[str], since: float = NOW, alive: bool = True, role: str = "worker",
         detail: str = "", prompt: str = "") -> Session:
    entry = new_entry(sid, 4000 + len(sid), PROJECT.root, role, started_at="2027-01-15T07:00:00Z")
    activity = act.Activity(state, since, detail, prompt) if state else None
    return Session(entry, alive, PROJECT, activity)


def snap(*sessions: Session) -> Snapshot:
    return snapshot_from_sessions("/reg", list(sessions), [])


def kinds(found: List[events.SessionEvent]) -> List[Tuple[str, str]]:
    return [(event.kind, event.session_id) for event in found]


def test_permission_is_said_once_at_once() -> None:
    watcher = events.ActivityWatcher(delay=180)
    asking = snap(sess("orch", None, role="orchestrator"),
                  sess("w1", "attention", NOW, detail="Claude needs your permission to use Bash", prompt="deploy"))
    (event,) = watcher.check(asking, NOW)
    assert (event.kind, event.session_id, event.project_name) == (events.EventKind.SESSION_NEEDS_YOU, "w1", "alpha")
    assert event.title == "alpha: a session needs you"
    assert "w1" in event.body and "permission to use Bash" in event.body and '"deploy"' in event.body
    for later in (NOW, NOW + 1, NOW + 3600):
        assert watcher.check(asking, later) == []


def test_waiting_is_said_once_after_the_delay_and_again_for_a_new_episode() -> None:
    watcher = events.ActivityWatcher(delay=60)
    waiting = snap(sess("w1", "waiting", NOW, prompt="write the docs"))
    for at in (NOW, NOW + 30, NOW + 59.9):
        assert watcher.check(waiting, at) == []
    (event,) = watcher.check(waiting, NOW + 60)
    assert (event.kind, event.session_id, event.waited) == (events.EventKind.SESSION_WAITING, "w1", 60)
    assert event.title == "alpha: a session is waiting for you" and "1m" in event.body
    for at in (NOW + 61, NOW + 600, NOW + 86_400):
        assert watcher.check(waiting, at) == []
    # `idle_prompt` keeps the episode (same since, another detail): still nothing new.
    assert watcher.check(snap(sess("w1", "waiting", NOW, detail="Claude is waiting for your input")), NOW + 900) == []
    # The user answers (working), Claude answers (a new waiting episode): said again, after the delay again.
    assert watcher.check(snap(sess("w1", "working", NOW + 1000)), NOW + 1000) == []
    again = snap(sess("w1", "waiting", NOW + 1100))
    assert watcher.check(again, NOW + 1100) == [] and watcher.check(again, NOW + 1159) == []
    assert kinds(watcher.check(again, NOW + 1160)) == [(events.EventKind.SESSION_WAITING, "w1")]
    assert watcher.check(again, NOW + 1200) == []


def test_a_new_since_is_a_new_episode_even_without_working_in_between() -> None:
    watcher = events.ActivityWatcher(delay=10)
    WAITING, NEEDS_YOU = events.EventKind.SESSION_WAITING, events.EventKind.SESSION_NEEDS_YOU
    assert kinds(watcher.check(snap(sess("w1", "waiting", NOW)), NOW + 10)) == [(WAITING, "w1")]
    assert kinds(watcher.check(snap(sess("w1", "waiting", NOW + 20)), NOW + 30)) == [(WAITING, "w1")]
    # waiting -> a permission prompt -> waiting again: each said once.
    assert kinds(watcher.check(snap(sess("w1", "attention", NOW + 40)), NOW + 40)) == [
        (NEEDS_YOU, "w1")]
    assert watcher.check(snap(sess("w1", "attention", NOW + 40)), NOW + 45) == []
    assert kinds(watcher.check(snap(sess("w1", "waiting", NOW + 50)), NOW + 60)) == [(WAITING, "w1")]


def test_working_and_unknown_sessions_never_notify() -> None:
    watcher = events.ActivityWatcher(delay=0)
    quiet = snap(sess("w1", "working", NOW - 86_400), sess("w2", None), sess("o", None, role="orchestrator"))
    for at in (NOW, NOW + 86_400):
        assert watcher.check(quiet, at) == []


def test_dead_sessions_never_notify() -> None:
    watcher = events.ActivityWatcher(delay=0)
    dead = snap(sess("o", "attention", NOW, alive=False, role="orchestrator"),
                sess("w1", "waiting", NOW - 3600, alive=False), sess("w2", "attention", NOW, alive=False))
    assert watcher.check(dead, NOW + 10) == []
    assert m.waiting_count(dead) == 0 and "waiting for you" not in m.tooltip(dead)
    # The same sessions alive: said; then they die: nothing more, and nothing when a PID is reused later.
    live = snap(sess("w1", "waiting", NOW - 3600), sess("w2", "attention", NOW))
    assert sorted(kinds(watcher.check(live, NOW + 20))) == [(events.EventKind.SESSION_NEEDS_YOU, "w2"),
                                                             (events.EventKind.SESSION_WAITING, "w1")]
    assert watcher.check(dead, NOW + 30) == []


def test_two_sessions_each_said_once_and_counted_in_the_tooltip() -> None:
    watcher = events.ActivityWatcher(delay=2)
    both = snap(sess("o", "attention", NOW, role="orchestrator"), sess("w1", "waiting", NOW))
    assert kinds(watcher.check(both, NOW)) == [(events.EventKind.SESSION_NEEDS_YOU, "o")]
    assert kinds(watcher.check(both, NOW + 2)) == [(events.EventKind.SESSION_WAITING, "w1")]
    assert watcher.check(both, NOW + 4) == []
    assert m.waiting_count(both) == 2
    assert "2 waiting for you" in m.tooltip(both)
    menu = m.build_menu(both, m.MenuSettings(), lambda root, name: None, now=NOW + 65)
    (project,) = [item for item in menu if item.children]
    labels = [item.text for item in project.children]
    assert any(label.startswith("Orchestrator: o ") and "needs you 1m" in label for label in labels), labels
    assert any(label.startswith("w1 ") and "waiting 1m" in label for label in labels), labels


def test_the_controller_notifies_once_per_episode_from_real_files(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The tray's controller over a real registry: config `waiting_notify_after`, real sidecar files.

    The controller's wall clock is the test's (its `time.time`; the rest of `time` is the real one): the 2 s
    delay is checked at its literal edges (1.9 s: quiet, 2.0 s: said) however slowly a loaded machine polls."""
    clock = types.SimpleNamespace(now=float(int(time.time())))
    its_time = {name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    monkeypatch.setattr(controller_module, "time", types.SimpleNamespace(**{**its_time, "time": lambda: clock.now}))
    reg = tmp_path / "registry"
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"waiting_notify_after": 2}))
    write_entry(str(reg), "orch", os.getpid(), str(tmp_path), role="orchestrator")
    write_entry(str(reg), "work", os.getpid(), str(tmp_path))
    write_entry(str(reg), "gone", unused_pid(), str(tmp_path))
    act.write_activity(str(reg), "gone", act.ATTENTION, "Claude needs your permission to use Bash")
    act.write_activity(str(reg), "orch", act.WORKING, prompt="ship it")
    act.write_activity(str(reg), "work", act.WORKING, prompt="write tests")
    view = RecordingView()
    controller = TrayController(Registry(str(reg)), view=view, config_store=ConfigStore(str(config)))
    assert controller.watcher.delay == 2
    controller.poll_once()
    assert view.notes == []  # working sessions, and a dead one asking: quiet

    act.write_activity(str(reg), "orch", act.ATTENTION, "Claude needs your permission to use Bash")
    began = clock.now
    act.write_activity(str(reg), "work", act.WAITING, now=began)
    clock.now = began + 1.0
    controller.poll_once()
    controller.poll_once()  # inside the 2 s delay: only the permission prompt is said
    assert [title for title, _ in view.notes] == [f"{tmp_path.name}: a session needs you"]
    state, count, title, menu = view.shown[-1]
    assert count == 2 and "2 waiting for you" in title

    clock.now = began + 1.9
    controller.poll_once()
    assert len(view.notes) == 1, "said before the configured delay"
    clock.now = began + 2.0  # the delay has passed: "waiting" is said, once
    for _ in range(3):
        controller.poll_once()
    assert [title for title, _ in view.notes] == [f"{tmp_path.name}: a session needs you",
                                                     f"{tmp_path.name}: a session is waiting for you"]


# ---------------------------------------------------------------------------------------------------------
# End to end: a fake Claude Code runs the hooks that `orchestray hooks install` wrote
# ---------------------------------------------------------------------------------------------------------

PERMISSION = "Claude needs your permission to use Bash"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path)
    try:
        done = sandbox.cli("hooks", "install", "--settings", str(sandbox.settings))
        assert done.returncode == 0, done.stderr
        yield sandbox
    finally:
        sandbox.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "shop"
    path.mkdir()
    git("init", "-q", cwd=path)
    return path


def payload(claude: Any, event: str, session: str, cwd: Path, **fields: Any) -> Dict[str, Any]:
    """Send exactly this hook JSON (compact, UTF-8, as JSON.stringify writes it) through the fake."""
    data = {"session_id": session, "transcript_path": f"/nowhere/{session}.jsonl", "cwd": str(cwd),
            "hook_event_name": event, **fields}
    return claude.send("payload", event, session, text=json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def rows_by_id(box: Sandbox) -> Dict[str, Dict[str, Any]]:
    done = box.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    (view,) = json.loads(done.stdout)["projects"]
    return {row["sessionId"]: row for row in [*view["orchestrators"], *view["vacating"], *view["workers"]]}


def sidecar(box: Sandbox, session: str) -> Path:
    return box.registry / act.ACTIVITY_DIR / session


def test_hooks_mark_working_waiting_and_needs_you(box: Sandbox, repo: Path) -> None:
    settings = json.loads(box.settings.read_text())
    for event in ("UserPromptSubmit", "Stop", "Notification", "SessionStart", "SessionEnd"):
        assert settings["hooks"][event], event  # `hooks install` wrote all five

    one, two = box.claude(cwd=repo), box.claude(cwd=repo)
    assert "ORCHESTRATOR" in role_context(one.start("sess-one", repo))
    assert "WORKER" in role_context(two.start("sess-two", repo))
    assert {sid: row["activity"] for sid, row in rows_by_id(box).items()} == {"sess-one": "waiting",
                                                                             "sess-two": "waiting"}

    # A prompt: working, with its first line (the JSON carries the newline escaped, as Claude Code sends it).
    assert_silent(payload(one, "UserPromptSubmit", "sess-one", repo, permission_mode="default",
                          prompt="Fix the \"checkout\" bug\nthen run the tests", prompt_id="p-1"))
    assert_silent(two.prompt("sess-two", "Write the release notes"))
    rows = rows_by_id(box)
    assert (rows["sess-one"]["activity"], rows["sess-one"]["lastPrompt"]) == ("working", 'Fix the "checkout" bug')
    assert (rows["sess-two"]["activity"], rows["sess-two"]["lastPrompt"]) == ("working", "Write the release notes")

    # Stop (after each answer): waiting; the registry entry is untouched, byte for byte.
    entries = {sid: stat_of(box.entry_path(sid)) for sid in ("sess-one", "sess-two")}
    assert_silent(one.stop("sess-one"))
    assert_silent(two.stop("sess-two"))
    rows = rows_by_id(box)
    assert rows["sess-one"]["activity"] == rows["sess-two"]["activity"] == "waiting"
    assert rows["sess-one"]["lastPrompt"] == 'Fix the "checkout" bug'  # kept across Stop
    assert box.sessions() == ["sess-one", "sess-two"]
    assert {sid: stat_of(box.entry_path(sid)) for sid in entries} == entries

    # A permission prompt: needs you, with Claude Code's message.
    assert_silent(payload(one, "Notification", "sess-one", repo, message=PERMISSION,
                          notification_type="permission_prompt"))
    rows = rows_by_id(box)
    assert (rows["sess-one"]["activity"], rows["sess-one"]["activityDetail"]) == ("attention", PERMISSION)

    # Idle after the answer: still waiting, the same episode (same since, to the last digit).
    since = act.read_activity_file(str(sidecar(box, "sess-two"))).since
    wait_until(lambda: time.time() > since + 0.05, "the clock to move past the episode's start", timeout=5)
    assert_silent(two.notify("sess-two", "Claude is waiting for your input"))  # notification_type idle_prompt
    assert_silent(payload(two, "Notification", "sess-two", repo, message="Claude is waiting for your input",
                          notification_type="idle_prompt"))
    after = act.read_activity_file(str(sidecar(box, "sess-two")))
    assert (after.state, after.since, after.prompt) == ("waiting", since, "Write the release notes")
    assert {sid: stat_of(box.entry_path(sid)) for sid in entries} == entries  # Notification never rewrites

    # What a person reads.
    check = box.cli("check")
    assert check.returncode == 0, check.stderr
    line = {sid: next(x for x in check.stdout.splitlines() if sid in x) for sid in entries}
    assert re.search(r'\[NEEDS YOU \d+s\]  "Fix the "checkout" bug"', line["sess-one"]), line["sess-one"]
    assert re.search(r'\[waiting \d+s\]  "Write the release notes"', line["sess-two"]), line["sess-two"]

    # SessionEnd: the entry and the sidecar go; a late Stop of the ended session writes nothing.
    assert_silent(one.end("sess-one", "prompt_input_exit"))
    assert not sidecar(box, "sess-one").exists()
    assert_silent(payload(one, "Stop", "sess-one", repo, stop_hook_active=False))
    assert not sidecar(box, "sess-one").exists()
    assert box.sessions() == ["sess-two"] and sidecar(box, "sess-two").exists()
    assert sorted(os.listdir(box.registry / act.ACTIVITY_DIR)) == ["sess-two"]
    assert box.log_text() == ""
