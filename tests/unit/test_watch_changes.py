"""A look after a wake reads only what the change watcher named, and never misses a change.

The watchers log which files changed (inotify and ReadDirectoryChangesW name them, kqueue names the folder);
while the watcher misses nothing, the tray checks only those files and gathers again only the projects whose
folders changed. Every step below compares what the running tray shows with a snapshot and project files read
afresh from scratch, so a change the incremental look missed fails the test. Linux is tested for real
(inotify, pidfds, real processes); the kqueue and Windows branches through the fakes of tests/unit/test_watch.py.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import psutil
import pytest
from helpers import SLEEP_CODE, reap, wait_until
from watch_fakes import (
    FakeKernel32,
    Reasons,
    RecordingView,
    fake_select,
    fake_windows_ctypes,
    linux_only,
    slow_poll_store,
)

from tray.app.controller import QUIET_SAFETY_NET_SECONDS, TrayController
from tray.core import projectfiles, teams
from tray.core.actions import register
from tray.core.activity import WORKING, write_activity
from tray.core.liveness import LivenessProbe
from tray.core.projects import ProjectResolver
from tray.core.readcache import ReadCache
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot
from tray.platform import watch
from tray.platform.watch_base import ChangeLog
from tray.platform.watch_kqueue import KqueueWatcher
from tray.platform.watch_windows import WindowsWatcher, changed_names

# --- the change log -------------------------------------------------------------------------------------------


def test_the_log_is_unknown_until_first_taken_then_names_what_changed():
    log = ChangeLog()
    log.note("/reg", "a.json")
    assert log.take_changes() is None  # the first look reads everything; what was noted before is part of it
    assert log.take_changes() == {}
    log.note("/reg", "a.json")
    log.note("/reg", "b.json")
    log.note("/reg/.activity", "a")
    assert log.take_changes() == {"/reg": {"a.json", "b.json"}, "/reg/.activity": {"a"}}
    log.note("/reg", "a.json")
    log.note("/reg")  # the folder as a whole: every file in it is checked
    log.note("/reg", "c.json")
    assert log.take_changes() == {"/reg": None}
    log.note("/reg", "a.json")
    log.note_all()  # dropped events: nothing is known
    assert log.take_changes() is None
    log.unfollowed("/nfs/project")  # a folder no event covers is "changed" at every look
    assert log.take_changes() == {"/nfs/project": None}
    assert log.take_changes() == {"/nfs/project": None}


# --- Linux: inotify names the files -----------------------------------------------------------------------


@linux_only
def test_inotify_names_entries_written_removed_renamed_and_activity_files(tmp_path: Path):
    registry = tmp_path / "reg"
    (registry / ".activity").mkdir(parents=True)
    reasons = Reasons()
    watcher = watch.LinuxWatcher(str(registry))
    assert watcher.start(reasons)
    try:
        assert watcher.take_changes() is None
        steps: List[Callable[[], None]] = [
            lambda: (registry / "a.json").write_text("{}"),
            lambda: os.replace(registry / "a.json", registry / "b.json"),
            lambda: (registry / "b.json").unlink(),
            lambda: (registry / ".activity" / "s1").write_text("x"),
        ]
        expected: List[Dict[str, Set[str]]] = [
            {str(registry): {"a.json"}},
            {str(registry): {"a.json", "b.json"}},
            {str(registry): {"b.json"}},
            {str(registry / ".activity"): {"s1"}},
        ]
        for step, wanted in zip(steps, expected):
            reasons.clear()
            step()
            assert reasons.wait_for("file")
            changes = watcher.take_changes()
            assert changes == wanted
    finally:
        watcher.close()


def _inotify_event(wd: int, mask: int, name: bytes = b"") -> bytes:
    padded = name + b"\0" * (16 - len(name)) if name else b""
    return struct.pack("iIII", wd, mask, 0, len(padded)) + padded


class Replayed:
    """The real Linux system calls, but `read` of the inotify descriptor returns the buffers queued here."""

    def __init__(self) -> None:
        self.real = watch.LinuxSystem()
        self.queued: List[bytes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def read(self, fd: int, size: int) -> bytes:
        if self.queued:
            return self.queued.pop(0)
        raise BlockingIOError


@linux_only
def test_a_queue_overflow_or_a_folder_gone_makes_the_next_look_read_everything(tmp_path: Path):
    (tmp_path / ".activity").mkdir()
    system = Replayed()
    watcher = watch.LinuxWatcher(str(tmp_path), system=system)
    assert watcher.start(Reasons())
    try:
        watcher.take_changes()
        wd = next(wd for wd, folder in watcher._folders.items() if folder == str(tmp_path))
        system.queued = [_inotify_event(wd, watch.IN_MOVED_TO, b"a.json")]
        assert watcher._drain_inotify() == {"file"}
        assert watcher.take_changes() == {str(tmp_path): {"a.json"}}
        system.queued = [_inotify_event(wd, watch.IN_MOVED_TO, b"a.json") + _inotify_event(-1, watch.IN_Q_OVERFLOW)]
        assert "overflow" in watcher._drain_inotify()
        assert watcher.take_changes() is None
        assert watcher.take_changes() == {}
        activity = next(wd for wd, folder in watcher._folders.items() if folder.endswith(".activity"))
        system.queued = [_inotify_event(activity, watch.IN_IGNORED)]  # the watched folder went away
        assert "folder" in watcher._drain_inotify()
        assert watcher.take_changes() is None
    finally:
        watcher.close()


@linux_only
def test_a_folder_watched_from_now_on_makes_the_next_look_read_everything(tmp_path: Path):
    if not watch.local_filesystem(str(tmp_path)):
        pytest.skip("the test folder is on a shared file system: its folders count as changed at every look")
    watcher = watch.LinuxWatcher(str(tmp_path / "reg"))
    (tmp_path / "reg").mkdir()
    (tmp_path / "shop").mkdir()
    assert watcher.start(Reasons())
    try:
        watcher.take_changes()
        watcher.watch_pids([], [str(tmp_path / "shop")])
        assert watcher.take_changes() is None  # what changed in shop/ before its watch was never told
        watcher.watch_pids([], [str(tmp_path / "shop")])
        assert watcher.take_changes() == {}
    finally:
        watcher.close()


@linux_only
def test_a_folder_on_a_shared_file_system_counts_as_changed_at_every_look(tmp_path: Path, monkeypatch):
    """inotify sees only this machine's writes on NFS, SMB or WSL's Windows drives: such a folder is never
    trusted to events, so its files are read at every look as they were before the watcher named files."""
    (tmp_path / "reg").mkdir()
    (tmp_path / "nfs-project").mkdir()
    shared = str(tmp_path / "nfs-project")
    monkeypatch.setattr(watch, "local_filesystem", lambda folder: folder != shared)
    watcher = watch.LinuxWatcher(str(tmp_path / "reg"))
    assert watcher.start(Reasons())
    try:
        watcher.take_changes()
        watcher.watch_pids([], [shared])
        assert watcher.take_changes() is None
        assert watcher.take_changes() == {shared: None}
        assert watcher.take_changes() == {shared: None}
    finally:
        watcher.close()


# --- macOS / BSD and Windows, through fakes ---------------------------------------------------------------


def test_kqueue_names_the_folder_that_changed_and_a_folder_gone_means_everything(tmp_path: Path):
    (tmp_path / ".activity").mkdir()
    s = fake_select()
    reasons = Reasons()
    watcher = KqueueWatcher(str(tmp_path), select_module=s)
    assert watcher.start(reasons)
    try:
        assert watcher.take_changes() is None
        fds = dict(watcher._folder_fds)
        s.the_queue.fire(types.SimpleNamespace(ident=fds[str(tmp_path / ".activity")], filter=s.KQ_FILTER_VNODE,
                                               flags=0, fflags=s.KQ_NOTE_WRITE))
        assert reasons.wait_for("file")
        assert watcher.take_changes() == {str(tmp_path / ".activity"): None}  # kqueue names no file
        reasons.clear()
        s.the_queue.fire(types.SimpleNamespace(ident=fds[str(tmp_path)], filter=s.KQ_FILTER_VNODE, flags=0,
                                               fflags=s.KQ_NOTE_DELETE))
        assert reasons.wait_for("folder")
        assert watcher.take_changes() is None
    finally:
        s.the_queue.fire(types.SimpleNamespace(ident=watcher._wake_read, filter=s.KQ_FILTER_READ, flags=0, fflags=0))
        watcher.close()


def notify_information(*names: str) -> bytes:
    """FILE_NOTIFY_INFORMATION records, as ReadDirectoryChangesW fills its buffer."""
    records = []
    for index, name in enumerate(names):
        raw = name.encode("utf-16-le")
        body = struct.pack("<III", 0, 3, len(raw)) + raw
        body += b"\0" * (-len(body) % 4)  # each record DWORD-aligned
        following = len(body) if index < len(names) - 1 else 0
        records.append(struct.pack("<I", following) + body[4:])
    return b"".join(records)


def test_windows_change_records_are_parsed_into_names():
    assert changed_names(notify_information("a.json", ".activity\\s1", "ü.json")) == ["a.json", ".activity\\s1",
                                                                                       "ü.json"]
    assert changed_names(b"") == []
    assert changed_names(struct.pack("<III", 0, 3, 200) + b"ab") == [""]  # cut short: the folder as a whole


class FilledKernel32(FakeKernel32):
    """The fake kernel32, but a change carries the records ReadDirectoryChangesW would write into the buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.data: List[bytes] = []

    def ReadDirectoryChangesW(self, handle, buffer, size, subtree, flags, returned, overlapped, routine) -> int:
        ok = super().ReadDirectoryChangesW(handle, buffer, size, subtree, flags, returned, overlapped, routine)
        if ok and self.data:
            payload = self.data.pop(0)
            buffer[: len(payload)] = payload
        return ok


def test_windows_names_the_files_below_the_registry_and_an_overflow_means_everything(tmp_path: Path):
    kernel32 = FilledKernel32()
    reasons = Reasons()
    watcher = WindowsWatcher(str(tmp_path), kernel32=kernel32, ctypes_module=fake_windows_ctypes())
    assert watcher.start(reasons)
    try:
        assert watcher.take_changes() is None
        payload = notify_information("a.json", ".activity\\s1")
        kernel32.data.append(payload)
        kernel32.change(len(payload))
        assert reasons.wait_for("file")
        assert watcher.take_changes() == {str(tmp_path): {"a.json"}, str(tmp_path / ".activity"): {"s1"}}
        kernel32.change(0)  # more changes than the buffer held
        assert reasons.wait_for("overflow")
        assert watcher.take_changes() is None
    finally:
        watcher.close()


# --- the tray: each change seen, only what changed read ------------------------------------------------------


class Counted:
    """Which entry and activity names a look checked (`ReadCache.get`: an lstat) and read (parsed)."""

    def __init__(self, controller: TrayController, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
        self.checked: List[str] = []
        self.read: List[str] = []
        self.listed = 0
        for cache in (controller.entry_cache, controller.activity_cache):
            get, put = cache.get, cache.put
            monkeypatch.setattr(cache, "get", lambda name, *a, get=get: self.checked.append(name) or get(name, *a))
            monkeypatch.setattr(cache, "put", lambda name, *a, put=put: self.read.append(name) or put(name, *a))
        names = registry.file_names
        monkeypatch.setattr(registry, "file_names", lambda: setattr(self, "listed", self.listed + 1) or names())

    def clear(self) -> None:
        self.checked, self.read, self.listed = [], [], 0


class Tray:
    """A controller with the real watcher over a registry; `matches_a_fresh_read` is the check of every step."""

    def __init__(self, tmp_path: Path, registry: Registry) -> None:
        self.registry = registry
        self.view = RecordingView()
        self.controller = TrayController(registry, self.view, slow_poll_store(tmp_path),
                                         find_file=lambda root, name: None)
        # Files written a moment ago count as settled, so that a look needs no second read of a young file.
        self.controller.entry_cache = ReadCache(racy_seconds=0.0)
        self.controller.activity_cache = ReadCache(racy_seconds=0.0)

    def start(self) -> None:
        self.controller.start()
        wait_until(lambda: self.controller.snapshot is not None, "the tray's first look", timeout=10, interval=0.01)

    def settle(self) -> None:
        """Wait until the watcher misses nothing and one look has been taken after that."""
        controller = self.controller
        wait_until(lambda: controller.change_watcher is not None and controller.change_watcher.complete,
                   "the watcher misses nothing", timeout=10, interval=0.01)
        for _ in range(3):  # the first looks watch new folders and ask for one more look each
            looks = controller.looks
            controller.wake()
            wait_until(lambda looks=looks: controller.looks > looks, "one more look", timeout=10, interval=0.01)

    def matches_a_fresh_read(self) -> None:
        controller = self.controller
        with controller._lock:
            shown, files, found_teams = controller.snapshot, dict(controller.files), controller.teams
        fresh = build_snapshot(Registry(self.registry.directory), ProjectResolver(), LivenessProbe())
        assert shown == fresh
        assert files == projectfiles.gather(fresh)
        configs = [c for c in controller._team_configs]
        assert found_teams == tuple(teams.read_all(configs))

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def tray(tmp_path: Path) -> Iterator[Tray]:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("inotify and pidfd are Linux's")
    if not watch.local_filesystem(str(tmp_path)):
        pytest.skip("the test folder is on a shared file system: the tray reads everything at every look there")
    running = Tray(tmp_path, Registry(str(tmp_path / "reg")))
    try:
        yield running
    finally:
        running.stop()


def entry_json(session_id: str, pid: int, cwd: str, role: str = "worker") -> str:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(psutil.Process(pid).create_time()))
    return json.dumps({"pid": pid, "startedAt": started, "sessionId": session_id, "cwd": cwd, "role": role})


def replace_text(path: Path, text: str) -> None:
    """Write as the hooks do: a temp file renamed over the name."""
    temp = path.with_name("." + path.name + ".tmp")
    temp.write_text(text)
    os.replace(temp, path)


def test_each_change_is_seen_by_a_look_that_reads_only_the_files_named(tray: Tray, tmp_path: Path, procs,
                                                                       monkeypatch):
    shop = tmp_path / "shop"
    shop.mkdir()
    registry = tray.registry
    sessions = procs.many(8)
    for index, process in enumerate(sessions[:6]):
        register(registry, f"s{index:02d}", process.pid, str(shop), role="orchestrator" if index == 0 else "worker")
    write_activity(registry.directory, "s01", WORKING, now=1_700_000_000.0)
    tray.start()
    tray.settle()
    tray.matches_a_fresh_read()
    controller = tray.controller
    counted = Counted(controller, registry, monkeypatch)
    reg = Path(registry.directory)

    def step(change: Callable[[], None], seen: Callable[[], bool], what: str, checked: Set[str]) -> None:
        counted.clear()
        full = controller.full_looks
        change()
        wait_until(lambda: controller.snapshot is not None and seen(), what, timeout=10, interval=0.01)
        tray.matches_a_fresh_read()
        assert controller.full_looks == full, f"{what}: the look read everything"
        assert counted.listed == 0, f"{what}: the registry was listed"
        assert set(counted.checked) <= checked, f"{what}: checked {sorted(set(counted.checked))}"

    def session(sid: str) -> Any:
        return controller.snapshot.session(sid) if controller.snapshot else None

    step(lambda: replace_text(reg / "s06.json", entry_json("s06", sessions[6].pid, str(shop))),
         lambda: session("s06") is not None and session("s06").alive, "a new entry", {"s06.json", ".s06.json.tmp"})
    step(lambda: write_activity(registry.directory, "s06", WORKING, now=1_700_000_100.0),
         lambda: session("s06").activity is not None, "an activity file", {"s06"})
    step(lambda: replace_text(reg / "s05.json", entry_json("s05", sessions[5].pid, str(shop), "vacating")),
         lambda: session("s05").role == "vacating", "an entry rewritten", {"s05.json", ".s05.json.tmp"})
    step(lambda: os.replace(reg / "s04.json", reg / "s04.json.bak"),
         lambda: session("s04") is None, "an entry renamed away", {"s04.json", "s04.json.bak"})
    step(lambda: os.replace(reg / "s04.json.bak", reg / "s04.json"),
         lambda: session("s04") is not None, "an entry renamed back", {"s04.json", "s04.json.bak"})
    step(lambda: (reg / "s03.json").unlink(), lambda: session("s03") is None, "an entry removed", {"s03.json"})
    step(lambda: procs.kill(sessions[2]), lambda: not session("s02").alive, "a death", set())
    read_before = len(counted.read)
    assert read_before == 0, "a death made the tray read files"
    traffic = ("# Traffic Control — shop\n\n## Claimed Files\n| File | Claimed By | Since |\n|---|---|---|\n"
               "| app/cart.py | s01 | now |\n")
    step(lambda: replace_text(shop / "TRAFFIC.md", traffic), lambda: _claims(controller) == ["app/cart.py"],
         "TRAFFIC.md written", set())
    step(lambda: (shop / "HANDOVER.md").write_text("# Handover\n"),
         lambda: any(f.handover_modified is not None for f in controller.files.values()), "HANDOVER.md written",
         set())
    step(lambda: (shop / "HANDOVER.md").unlink(),
         lambda: all(f.handover_modified is None for f in controller.files.values()), "HANDOVER.md removed", set())


def _claims(controller: TrayController) -> List[str]:
    return sorted(file for files in controller.files.values() for s in files.traffic.sessions.values()
                  for file in s.claims)


def test_a_task_list_created_and_edited_reaches_the_tray(tray: Tray, tmp_path: Path):
    """The session's list lives under its CLAUDE_CONFIG_DIR: creating it and editing a task are both seen."""
    shop, config = tmp_path / "shop", tmp_path / "claude-config"
    shop.mkdir()
    (config / "tasks").mkdir(parents=True)
    env = dict(os.environ, CLAUDE_CODE_TASK_LIST_ID="shared", CLAUDE_CONFIG_DIR=str(config))
    process = subprocess.Popen([sys.executable, "-c", SLEEP_CODE], env=env, stdin=subprocess.DEVNULL)
    try:
        register(tray.registry, "boss", process.pid, str(shop), role="orchestrator")
        tray.start()
        tray.settle()
        controller = tray.controller

        def subjects() -> List[str]:
            return [t.subject for f in controller.files.values() for tl in f.task_lists for t in tl.tasks]

        task = {"id": "1", "subject": "first", "description": "", "status": "pending", "blocks": [],
                "blockedBy": []}
        folder = config / "tasks" / "shared"
        folder.mkdir()
        replace_text(folder / "1.json", json.dumps(task))
        wait_until(lambda: subjects() == ["first"], "a list created", timeout=10, interval=0.01)
        tray.matches_a_fresh_read()
        followed = controller.change_watcher._extra  # type: ignore[union-attr]
        assert {str(config / "tasks"), str(config / "teams"), str(folder)} <= followed
        tray.settle()
        full = controller.full_looks
        replace_text(folder / "1.json", json.dumps(dict(task, subject="renamed")))
        wait_until(lambda: subjects() == ["renamed"], "a task edited", timeout=10, interval=0.01)
        tray.matches_a_fresh_read()
        assert controller.full_looks == full, "a task's edit made the tray read everything"
    finally:
        reap(process)


def test_a_watcher_that_is_not_complete_gets_a_full_look_every_time(tmp_path: Path, procs):
    """A watcher that may miss something (polling fallback, a network file system, a process not watched): every
    look lists and checks the whole registry, so a change no event named is still seen."""

    class Partial:
        name = "partial"
        complete = False

        def start(self, on_change: Any) -> bool:
            return True

        def watch_pids(self, pids: Any, folders: Any = ()) -> None:
            pass

        def known_alive(self) -> Dict[int, float]:
            return {}

        def take_changes(self) -> Optional[Dict[str, Optional[Set[str]]]]:
            return {}  # names nothing: were it trusted, no change would ever be seen

        def close(self) -> None:
            pass

    registry = Registry(str(tmp_path / "reg"))
    (tmp_path / "shop").mkdir()
    register(registry, "boss", procs.spawn().pid, str(tmp_path / "shop"), role="orchestrator")
    watcher = Partial()
    controller = TrayController(registry, RecordingView(), slow_poll_store(tmp_path),
                                find_file=lambda root, name: None, change_watcher=lambda directory: watcher)
    controller._start_change_watcher()
    assert controller.watching
    controller.poll_once()
    register(registry, "worker", procs.spawn().pid, str(tmp_path / "shop"))
    controller.poll_once()
    assert controller.snapshot is not None and controller.snapshot.session("worker") is not None
    assert controller.full_looks == controller.looks == 2
    watcher.complete = True  # now trusted: a change it does not name is not looked for until the safety net
    controller.poll_once()
    register(registry, "third", procs.spawn().pid, str(tmp_path / "shop"))
    controller.poll_once()
    assert controller.snapshot.session("third") is None
    assert controller.full_looks == 2
    controller._full_at -= QUIET_SAFETY_NET_SECONDS  # the safety net's time has come: everything is read
    controller.poll_once()
    assert controller.snapshot.session("third") is not None
    assert controller.full_looks == 3


def controller_with_a_complete_log(registry: Registry, tmp_path: Path) -> Tuple[TrayController, ChangeLog]:
    """A tray controller whose change watcher says it misses nothing and logs only what the test notes in the
    ChangeLog returned with it (no thread, no kernel)."""
    log = ChangeLog()
    watcher = types.SimpleNamespace(name="fake", complete=True, start=lambda on_change: True,
                                    watch_pids=lambda pids, folders=(): None, known_alive=dict,
                                    take_changes=log.take_changes, close=lambda: None)
    controller = TrayController(registry, RecordingView(), slow_poll_store(tmp_path),
                                find_file=lambda root, name: None, change_watcher=lambda directory: watcher)
    controller._start_change_watcher()
    return controller, log


def test_a_look_that_failed_is_followed_by_a_full_look(tmp_path: Path, procs, monkeypatch):
    registry = Registry(str(tmp_path / "reg"))
    (tmp_path / "shop").mkdir()
    register(registry, "boss", procs.spawn().pid, str(tmp_path / "shop"), role="orchestrator")
    controller, log = controller_with_a_complete_log(registry, tmp_path)
    controller.poll_once()
    controller.poll_once()
    assert (controller.looks, controller.full_looks) == (2, 1)
    real_scan = Registry.scan
    monkeypatch.setattr(registry, "scan", lambda *a: (_ for _ in ()).throw(PermissionError(13, "denied")))
    controller.poll_once()
    assert controller.error
    monkeypatch.setattr(registry, "scan", lambda *a: real_scan(registry, *a))
    register(registry, "worker", procs.spawn().pid, str(tmp_path / "shop"))  # not logged: only a full look sees it
    controller.poll_once()
    assert controller.snapshot.session("worker") is not None
    assert controller.full_looks == 2  # the look after the failure read everything



def test_a_look_with_changes_reuses_sessions_and_asks_the_os_only_about_entries_not_settled(tmp_path: Path, procs,
                                                                                           monkeypatch):
    """Between looks that read everything, a dead entry whose reference time lies well before the last look is
    not asked about again (no process started since can be the one that registered); one registered a moment
    ago is, and so is every live one."""
    from tray.core import liveness
    from tray.core.snapshot import SnapshotMemo

    registry = Registry(str(tmp_path / "reg"))
    shop = tmp_path / "shop"
    shop.mkdir()
    old_dead, new_dead, alive = procs.many(3)
    procs.kill(old_dead)
    procs.kill(new_dead)
    reg = Path(registry.directory)
    reg.mkdir()
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    (reg / "old.json").write_text(json.dumps({"pid": old_dead.pid, "startedAt": hour_ago, "sessionId": "old",
                                              "cwd": str(shop), "role": "worker"}))
    (reg / "new.json").write_text(entry_json("new", alive.pid, str(shop)).replace(str(alive.pid), str(new_dead.pid)))
    (reg / "live.json").write_text(entry_json("live", alive.pid, str(shop), "orchestrator"))
    asked: List[int] = []
    created = liveness.process_create_time
    monkeypatch.setattr(liveness, "process_create_time", lambda pid: asked.append(pid) or created(pid))
    monkeypatch.setattr(liveness, "pid_gone", lambda pid: asked.append(pid) or False)
    memo, resolver = SnapshotMemo(), ProjectResolver()
    caches = (ReadCache(racy_seconds=0.0), ReadCache(racy_seconds=0.0))
    first = build_snapshot(registry, resolver, LivenessProbe(), *caches, None, memo)
    assert sorted(set(asked)) == sorted({old_dead.pid, new_dead.pid, alive.pid})
    asked.clear()
    second = build_snapshot(registry, resolver, LivenessProbe(), *caches, {}, memo)
    assert old_dead.pid not in asked and new_dead.pid in asked and alive.pid in asked
    assert second == first == build_snapshot(Registry(registry.directory))
    assert second.session("old") is first.session("old") and second.projects[0] is first.projects[0]


def test_a_look_that_broke_halfway_is_followed_by_a_full_look(tmp_path: Path, procs, monkeypatch):
    """What a look took from the log is gone from it: if the look stops before its end (an unexpected error the
    poll loop logs), the next one must not trust the log, or the files it named would never be read."""
    registry = Registry(str(tmp_path / "reg"))
    shop = tmp_path / "shop"
    shop.mkdir()
    register(registry, "boss", procs.spawn().pid, str(shop), role="orchestrator")
    controller, log = controller_with_a_complete_log(registry, tmp_path)
    controller.poll_once()
    (shop / "HANDOVER.md").write_text("# Handover\n")
    log.note(str(shop), "HANDOVER.md")
    real_update = projectfiles.update
    monkeypatch.setattr(projectfiles, "update", lambda *a: (_ for _ in ()).throw(RuntimeError("broken")))
    with pytest.raises(RuntimeError):
        controller.poll_once()
    monkeypatch.setattr(projectfiles, "update", real_update)
    full = controller.full_looks
    controller.poll_once()
    assert controller.full_looks == full + 1
    assert all(files.handover_modified is not None for files in controller.files.values())
