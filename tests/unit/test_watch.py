"""The change watchers: a registry write or a session's death wakes the tray at once, without polling.

Linux is tested for real (inotify, pidfd, real processes killed); the macOS (kqueue) and Windows
(ReadDirectoryChangesW, registered waits) branches through fakes of the system calls they make.
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import threading
import time
import types
from typing import Any, List

import pytest
from helpers import spawn_sleeper, wait_until
from watch_fakes import (
    FakeKernel32,
    Reasons,
    RecordingView,
    fake_select,
    fake_windows_ctypes,
    linux_only,
    slow_poll_store,
)

from tray.app.config import ConfigStore
from tray.app.controller import AGE_REFRESH_SECONDS, QUIET_SAFETY_NET_SECONDS, SAFETY_NET_SECONDS, TrayController
from tray.app.main import gtk_without_opengl
from tray.core.actions import register
from tray.core.registry import Registry
from tray.platform import watch
from tray.platform.watch_kqueue import KqueueWatcher
from tray.platform.watch_windows import (
    FILE_NOTIFY_CHANGE_DIR_NAME,
    FILE_NOTIFY_CHANGES,
    SYNCHRONIZE,
    WT_EXECUTEONLYONCE,
    WindowsWatcher,
)


@pytest.fixture
def linux_watcher(tmp_path):
    reasons = Reasons()
    watcher = watch.LinuxWatcher(str(tmp_path))
    assert watcher.start(reasons)
    try:
        yield watcher, reasons
    finally:
        watcher.close()


@linux_only
def test_a_killed_session_process_is_reported_without_polling(linux_watcher):
    watcher, reasons = linux_watcher
    process = spawn_sleeper()
    try:
        watcher.watch_pids([process.pid])
        assert watcher.watched_pids == {process.pid}
        assert not reasons.wait_for("process-exit", timeout=0.3)  # alive: nothing to say
        process.kill()  # not reaped yet: a zombie is dead to Orchestray too
        assert reasons.wait_for("process-exit")
        assert watcher.watched_pids == set()  # its pidfd is closed once it said so
    finally:
        process.kill()
        process.wait(timeout=10)


@linux_only
def test_registry_writes_and_the_activity_folder_are_reported(linux_watcher, tmp_path):
    watcher, reasons = linux_watcher
    (tmp_path / "a.json.tmp").write_text("{}")
    os.replace(tmp_path / "a.json.tmp", tmp_path / "a.json")  # how every writer of the registry writes
    assert reasons.wait_for("file")
    reasons.clear()
    (tmp_path / ".activity").mkdir()  # created later by the first hook
    assert reasons.wait_for("folder")
    reasons.clear()
    (tmp_path / ".activity" / "s1").write_text("working")
    assert reasons.wait_for("file")


@linux_only
def test_processes_no_longer_listed_are_let_go_and_a_vanished_one_is_said(linux_watcher):
    watcher, reasons = linux_watcher
    first, second = spawn_sleeper(), spawn_sleeper()
    try:
        watcher.watch_pids([first.pid, second.pid])
        watcher.watch_pids([second.pid])
        assert watcher.watched_pids == {second.pid}
        first.kill()
        first.wait(timeout=10)
        assert not reasons.wait_for("process", timeout=0.3)  # no longer watched: no wake for it
        second.kill()
        second.wait(timeout=10)  # gone and reaped before it is asked for: said at once, not lost
        watcher.watch_pids([])
        watcher.watch_pids([second.pid])
        assert reasons.wait_for("process-gone")
    finally:
        for process in (first, second):
            process.kill()
            process.wait(timeout=10)


@linux_only
def test_close_ends_the_thread_and_frees_every_descriptor(tmp_path):
    before = set(os.listdir("/proc/self/fd"))
    watcher = watch.LinuxWatcher(str(tmp_path))
    assert watcher.start(Reasons())
    process = spawn_sleeper()
    try:
        watcher.watch_pids([process.pid])
        watcher.close()
        assert not any(t.name == "orchestray-watch" and t.is_alive() for t in threading.enumerate())
        assert set(os.listdir("/proc/self/fd")) <= before
    finally:
        process.kill()
        process.wait(timeout=10)


def test_inotify_events_are_parsed_including_an_overflow():
    def event(wd: int, mask: int, name: bytes) -> bytes:
        padded = name + b"\0" * (16 - len(name)) if name else b""
        return struct.pack("iIII", wd, mask, 0, len(padded)) + padded

    buffer = event(1, watch.IN_MOVED_TO, b"abc.json") + event(-1, watch.IN_Q_OVERFLOW, b"")
    assert watch.parse_inotify_events(buffer) == [(1, watch.IN_MOVED_TO, "abc.json"), (-1, watch.IN_Q_OVERFLOW, "")]


class TooManyFiles:
    """The Linux system calls, but every pidfd_open fails as at the descriptor limit."""

    def __init__(self) -> None:
        self.real = watch.LinuxSystem()
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def pidfd_open(self, pid: int) -> int:
        self.attempts += 1
        raise OSError(errno.EMFILE, "Too many open files")


@linux_only
def test_at_the_descriptor_limit_the_rest_is_left_to_polling_and_said_once(tmp_path, caplog):
    system = TooManyFiles()
    watcher = watch.LinuxWatcher(str(tmp_path), system=system)
    assert watcher.start(Reasons())
    try:
        watcher.watch_pids([os.getpid(), os.getppid()])
        assert system.attempts == 2 and watcher.watched_pids == set()
        assert sum("found by polling" in r.getMessage() for r in caplog.records) == 1
    finally:
        watcher.close()


def test_the_soft_descriptor_limit_is_raised_towards_the_hard_one():
    calls = []
    fake = types.SimpleNamespace(RLIMIT_NOFILE=7, RLIM_INFINITY=-1, getrlimit=lambda which: (1024, 4096),
                                 setrlimit=lambda which, limits: calls.append((which, limits)))
    assert watch.raise_fd_limit(wanted=65536, resource_module=fake) == 4096
    assert calls == [(7, (4096, 4096))]


# --- macOS / BSD: kqueue through a fake select module ------------------------------------------------------


def test_kqueue_watches_the_folders_and_each_process_exit(tmp_path):
    (tmp_path / ".activity").mkdir()
    s = fake_select()
    reasons = Reasons()
    watcher = KqueueWatcher(str(tmp_path), select_module=s)
    assert watcher.start(reasons)
    try:
        kq = s.the_queue
        vnodes = [e for e in kq.registered if e.filter == s.KQ_FILTER_VNODE]
        assert len(vnodes) == 2 and all(e.fflags & s.KQ_NOTE_WRITE and e.flags & s.KQ_EV_CLEAR for e in vnodes)
        watcher.watch_pids([4242, 4343])
        exits = [e for e in kq.registered if e.filter == s.KQ_FILTER_PROC]
        assert sorted(e.ident for e in exits) == [4242, 4343]
        assert all(e.fflags == s.KQ_NOTE_EXIT and e.flags & s.KQ_EV_ADD for e in exits)
        watcher.watch_pids([4343])
        assert [e.ident for e in kq.registered if e.filter == s.KQ_FILTER_PROC and e.flags & s.KQ_EV_DELETE] == [4242]
        kq.fire(types.SimpleNamespace(ident=4343, filter=s.KQ_FILTER_PROC, flags=0, fflags=s.KQ_NOTE_EXIT))
        assert reasons.wait_for("process-exit")
        assert watcher.watched_pids == set()
        kq.fire(types.SimpleNamespace(ident=vnodes[0].ident, filter=s.KQ_FILTER_VNODE, flags=0,
                                      fflags=s.KQ_NOTE_WRITE))
        assert reasons.wait_for("file")
    finally:
        s.the_queue.fire(types.SimpleNamespace(ident=watcher._wake_read, filter=s.KQ_FILTER_READ, flags=0, fflags=0))
        watcher.close()
    assert s.the_queue.closed


def test_no_kqueue_means_no_watcher_and_polling():
    assert not KqueueWatcher("/nowhere", select_module=types.SimpleNamespace()).start(Reasons())


# --- Windows through a fake kernel32 ---------------------------------------------------------------------


def test_windows_watches_the_folder_and_each_process_through_registered_waits(tmp_path):
    kernel32 = FakeKernel32()
    fake_ctypes = fake_windows_ctypes()
    reasons = Reasons()
    watcher = WindowsWatcher(str(tmp_path), kernel32=kernel32, ctypes_module=fake_ctypes)
    assert watcher.start(reasons)
    try:
        assert kernel32.calls[0][:2] == ("CreateFileW", str(tmp_path))
        kernel32.change(48)
        assert reasons.wait_for("file")
        kernel32.change(0)  # more changes than the buffer held
        assert reasons.wait_for("overflow")
        watcher.watch_pids([501, 999])
        assert ("OpenProcess", SYNCHRONIZE, False, 501) in kernel32.calls
        assert any(c[0] == "RegisterWaitForSingleObject" and c[2] == 501 and c[3] == WT_EXECUTEONLYONCE
                   for c in kernel32.calls)
        assert reasons.wait_for("process-gone")  # 999 could not be opened: it is gone already
        assert watcher.watched_pids == {501}
        kernel32.waits[501](501, False)  # the thread pool: process 501 ended
        assert reasons.wait_for("process-exit")
        assert watcher.watched_pids == set()
    finally:
        watcher.close()
    assert any(c[0] == "CancelIoEx" for c in kernel32.calls)


def test_each_platform_gets_its_watcher():
    assert isinstance(watch.for_platform("/r", "linux"), watch.LinuxWatcher)
    assert isinstance(watch.for_platform("/r", "darwin"), KqueueWatcher)
    assert isinstance(watch.for_platform("/r", "win32"), WindowsWatcher)
    assert watch.for_platform("/r", "sunos5") is None


# --- the controller with a real watcher -------------------------------------------------------------------


@linux_only
def test_the_tray_tells_of_a_death_and_a_new_session_with_a_one_hour_poll(tmp_path, procs):
    registry = Registry(str(tmp_path / "reg"))
    project = tmp_path / "proj"
    project.mkdir()
    boss, worker, newcomer = procs.many(3)
    register(registry, "boss", boss.pid, str(project))
    register(registry, "worker1", worker.pid, str(project))
    view = RecordingView()
    controller = TrayController(registry, view, slow_poll_store(tmp_path), find_file=lambda root, name: None)
    controller.start()
    try:
        wait_until(lambda: controller.snapshot is not None, "the tray's first look", timeout=10, interval=0.01)
        assert controller.watching and controller.sleep_for() > 50
        procs.kill(boss)
        assert view.noted.wait(10), "no notification: the death was not noticed without the poll"
        assert "boss" in " ".join(view.notes[0]) or "died" in view.notes[0][0]
        shown_before = len(view.shown)
        register(registry, "worker2", newcomer.pid, str(project))
        wait_until(lambda: any("worker2"[:8] in str(shown[3]) for shown in view.shown[shown_before:]),
                   "a new registration in the menu", timeout=10, interval=0.01)
    finally:
        controller.stop()


def test_without_a_watcher_the_tray_polls_at_its_interval(tmp_path):
    store = ConfigStore(str(tmp_path / "cfg"))
    controller = TrayController(Registry(str(tmp_path / "reg")), RecordingView(), store,
                                change_watcher=lambda directory: None, find_file=lambda root, name: None)
    controller.start()
    try:
        assert not controller.watching
        assert controller.sleep_for() == controller.config.poll_interval
    finally:
        controller.stop()


def test_ages_alone_redraw_the_menu_at_most_once_a_minute(tmp_path, procs, monkeypatch):
    registry = Registry(str(tmp_path / "reg"))
    (tmp_path / "p").mkdir()
    register(registry, "boss", procs.spawn().pid, str(tmp_path / "p"))
    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=lambda r, n: None)
    clock = [time.time()]
    monkeypatch.setattr("tray.app.controller.time.time", lambda: clock[0])
    controller.poll_once()
    assert len(view.shown) == 1
    for _ in range(5):  # the clock moves, nothing else: no redraw
        clock[0] += 10
        controller.poll_once()
    assert len(view.shown) == 1
    clock[0] += AGE_REFRESH_SECONDS  # a minute later the ages are brought up to date, once
    controller.poll_once()
    controller.poll_once()
    assert len(view.shown) == 2
    assert "up 1m" in str(view.shown[-1][3])


def test_with_a_watcher_the_tray_sleeps_until_a_wait_is_long_enough_to_tell(tmp_path, monkeypatch):
    controller = TrayController(Registry(str(tmp_path / "reg")), RecordingView(), ConfigStore(str(tmp_path / "c")))
    controller.watching = True
    monkeypatch.setattr(controller.watcher, "next_due", lambda snapshot, now: 12.5)
    assert controller.sleep_for() == pytest.approx(12.55, abs=0.01)
    monkeypatch.setattr(controller.watcher, "next_due", lambda snapshot, now: None)
    assert controller.sleep_for() == SAFETY_NET_SECONDS


def test_gtk_starts_without_opengl_but_programs_the_tray_opens_keep_the_users_environment():
    env: dict = {}
    with gtk_without_opengl(env):
        assert env["GDK_GL"] == "disable"
    assert "GDK_GL" not in env
    env = {"GDK_GL": "always"}
    with gtk_without_opengl(env):
        assert env["GDK_GL"] == "always"  # the user's choice wins
    assert env == {"GDK_GL": "always"}


def test_the_tray_process_starts_gtk_without_opengl_and_children_do_not_inherit_it(tmp_path):
    code = (
        "import os\n"
        "from tray.app.main import gtk_without_opengl\n"
        "with gtk_without_opengl():\n"
        "    inside = os.environ.get('GDK_GL')\n"
        "import subprocess, sys\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"GDK_GL\"))'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(inside, child)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GDK_GL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["disable", "None"]


@linux_only
def test_watched_processes_answer_liveness_without_asking_the_os_until_they_end(linux_watcher):
    import psutil

    from tray.core.liveness import LivenessProbe

    watcher, reasons = linux_watcher
    process = spawn_sleeper()
    try:
        watcher.watch_pids([process.pid])
        created = psutil.Process(process.pid).create_time()
        assert watcher.known_alive() == {process.pid: created}
        probe = LivenessProbe(known=watcher.known_alive())
        assert probe.alive(process.pid, created)  # the entry of this very process
        assert not probe.alive(process.pid, created - 60)  # an older entry with the same PID: a reused PID
        process.kill()
        assert reasons.wait_for("process-exit")
        assert watcher.known_alive() == {}
        assert not LivenessProbe(known=watcher.known_alive()).alive(process.pid, created)
    finally:
        process.kill()
        process.wait(timeout=10)


@linux_only
def test_claude_codes_own_session_folder_wakes_the_tray_too(linux_watcher, tmp_path):
    """Esc and an approved permission fire no hook; Claude Code rewrites `<config>/sessions/<pid>.json`."""
    watcher, reasons = linux_watcher
    sessions = tmp_path.parent / (tmp_path.name + "-claude") / "sessions"
    sessions.mkdir(parents=True)
    watcher.watch_pids([], folders=[str(sessions)])
    (sessions / "123.json.tmp").write_text('{"status": "idle"}')
    os.replace(sessions / "123.json.tmp", sessions / "123.json")
    assert reasons.wait_for("file")


def test_the_folders_worth_watching_come_from_the_sessions_transcripts(tmp_path):
    from tray.app.controller import client_status_folders
    from tray.core.activity import Activity
    from tray.core.entry import new_entry
    from tray.core.projects import Project
    from tray.core.snapshot import Session

    project = Project(key="/p", root="/p", name="p")
    config = tmp_path / "claude"

    def live(sid: str, transcript: str) -> Session:
        entry = new_entry(sid, 4242, "/p", "worker")
        return Session(entry, True, project, Activity("working", 0.0, transcript=transcript))

    sessions = [live("a", str(config / "projects" / "-p" / "a.jsonl")),
                live("b", str(config / "projects" / "-p" / "b.jsonl")),
                live("c", ""), live("d", "/somewhere/else.txt")]
    assert client_status_folders(sessions) == [str(config / "sessions")]


def test_the_tray_keeps_ssl_out_and_asyncio_still_works():
    from tray.app.main import keep_unused_modules_out

    modules: dict = {}
    keep_unused_modules_out(modules)
    assert modules["ssl"] is None
    loaded = {"ssl": "the real one"}
    keep_unused_modules_out(loaded)  # already imported by someone: left alone
    assert loaded["ssl"] == "the real one"
    code = ("import sys\nfrom tray.app.main import keep_unused_modules_out\nkeep_unused_modules_out()\n"
            "import asyncio\nloop = asyncio.new_event_loop()\nloop.run_until_complete(asyncio.sleep(0))\n"
            "print(sys.modules['ssl'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"


@linux_only
def test_an_edit_of_traffic_md_reaches_the_menu_with_a_one_hour_poll(tmp_path, procs):
    """TRAFFIC.md lives in the project's root, outside the registry: its folder is watched too."""
    registry = Registry(str(tmp_path / "reg"))
    project = tmp_path / "shop"
    project.mkdir()
    register(registry, "7c1e2a90-orch", procs.spawn().pid, str(project))
    view = RecordingView()
    controller = TrayController(registry, view, slow_poll_store(tmp_path), find_file=lambda root, name: None)
    controller.start()
    try:
        wait_until(lambda: controller.snapshot is not None, "the tray's first look", timeout=10, interval=0.01)
        shown_before = len(view.shown)
        traffic = ("# Traffic Control — shop\n\n## Active Sessions\n"
                   "| Session | Role | Domain | Branch | Last Update |\n"
                   "|---|---|---|---|---|\n| 7c1e2a90 | orchestrator | checkout flow | main | now |\n\n"
                   "## Claimed Files\n| File | Claimed By | Since |\n|---|---|---|\n| app/cart.py | 7c1e2a90 | now |\n")
        (project / "TRAFFIC.md.tmp").write_text(traffic)
        os.replace(project / "TRAFFIC.md.tmp", project / "TRAFFIC.md")
        wait_until(lambda: any("app/cart.py" in str(shown[3]) for shown in view.shown[shown_before:]),
                   "the claim in TRAFFIC.md in the menu", timeout=10, interval=0.01)
    finally:
        controller.stop()


def test_a_command_line_poll_interval_is_held_to_the_config_range():
    from tray.app.config import LIMITS, Config
    from tray.app.main import command_line_poll_interval

    high = LIMITS["poll_interval"][1]
    assert command_line_poll_interval(float("inf")) == high
    assert command_line_poll_interval(1e308) == high
    assert command_line_poll_interval(float("nan")) == Config().poll_interval
    assert command_line_poll_interval(0.01) == 0.2
    assert command_line_poll_interval(1.5) == 1.5


# --- at rest: nothing but events wakes the tray ----------------------------------------------------------


@linux_only
def test_a_watch_that_misses_nothing_says_so_and_one_with_a_gap_does_not(tmp_path, procs):
    """`complete` is what lets the tray sleep ten minutes: every process watched, the folder watched, and the
    folder on a file system inotify sees whole. A process that could not be watched takes that back."""
    watcher = watch.LinuxWatcher(str(tmp_path))
    assert watcher.start(Reasons())
    try:
        watcher.watch_pids([procs.spawn().pid])
        assert watcher.complete == watch.local_filesystem(str(tmp_path))
    finally:
        watcher.close()
    crippled = watch.LinuxWatcher(str(tmp_path), system=TooManyFiles())
    assert crippled.start(Reasons())
    try:
        crippled.watch_pids([procs.spawn().pid])
        assert not crippled.complete
    finally:
        crippled.close()


def test_a_registry_shared_over_the_network_is_not_trusted_to_events(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "server:/export /mnt/share nfs4 rw 0 0\n"
        "me@host:/home /home/me/remote fuse.sshfs rw 0 0\n"
        "tmpfs /home/me/remote/cache tmpfs rw 0 0\n"
        "C:\\134 /mnt/c 9p rw 0 0\n"
        "/dev/sdb1 /media/my\\040disk ext4 rw 0 0\n"
    )
    table = str(mounts)
    assert watch.local_filesystem("/home/me/.claude/active", table)
    assert not watch.local_filesystem("/mnt/share/.claude/active", table)
    assert not watch.local_filesystem("/home/me/remote/.claude/active", table)
    assert watch.local_filesystem("/home/me/remote/cache/x", table)  # the longest mount point decides
    assert not watch.local_filesystem("/mnt/c/Users/me/.claude/active", table)
    assert watch.local_filesystem("/media/my disk/active", table)
    assert not watch.local_filesystem("/anything", str(tmp_path / "no-such-table"))  # cannot tell: not trusted
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        assert not watch.local_filesystem("/home/me", str(tmp_path / "fifo"))  # not read, never waited on


def test_in_a_chroot_the_kernel_says_which_file_system_a_folder_is_on(tmp_path):
    """A chroot's mount table lists only what was mounted inside it (here: /proc), never its own root: the
    folder's file system is then asked of the kernel (statfs), so a registry in a chroot is watched by events
    like anywhere else, and one on NFS there is still not trusted to them."""
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw,relatime 0 0\nserver:/export /mnt/share nfs4 rw 0 0\n")
    table = str(mounts)
    assert watch.statfs_type(str(tmp_path)) is not None  # this machine's kernel answers for a real folder
    assert watch.statfs_type(str(tmp_path)) not in watch.SHARED_MAGIC  # pytest's tmp is on a local disk
    assert watch.local_filesystem(str(tmp_path / "registry" / "not-yet"), table)  # its nearest existing parent
    assert not watch.local_filesystem(str(tmp_path), table, statfs=lambda _path: 0x6969)  # NFS
    assert not watch.local_filesystem(str(tmp_path), table, statfs=lambda _path: 0x65735546)  # FUSE: sshfs
    assert not watch.local_filesystem(str(tmp_path), table, statfs=lambda _path: None)  # cannot tell: not trusted
    assert not watch.local_filesystem("/mnt/share/a", table, statfs=lambda _path: 0xEF53)  # the table decides


def test_a_complete_watch_and_ages_refreshed_on_open_leave_only_the_ten_minute_rescan(tmp_path, monkeypatch):
    controller = TrayController(Registry(str(tmp_path / "reg")), RecordingView(), ConfigStore(str(tmp_path / "c")))
    controller.watching = True
    monkeypatch.setattr(controller.watcher, "next_due", lambda snapshot, now: None)
    controller.refresh_view()  # the ages are as of now
    controller.change_watcher = types.SimpleNamespace(complete=False)
    assert controller.sleep_for() == pytest.approx(AGE_REFRESH_SECONDS, abs=1)
    controller.change_watcher = types.SimpleNamespace(complete=True)
    assert controller.sleep_for() == pytest.approx(AGE_REFRESH_SECONDS, abs=1)  # the clock still refreshes ages
    controller.ages_on_open = True
    assert controller.sleep_for() == QUIET_SAFETY_NET_SECONDS
    controller.change_watcher = types.SimpleNamespace(complete=False)
    assert controller.sleep_for() == SAFETY_NET_SECONDS
    monkeypatch.setattr(controller.watcher, "next_due", lambda snapshot, now: 12.5)
    assert controller.sleep_for() == pytest.approx(12.55, abs=0.01)  # a wait worth telling still wakes it


def test_ages_are_brought_up_to_date_as_the_menu_opens_and_not_by_the_clock(tmp_path, procs, monkeypatch):
    registry = Registry(str(tmp_path / "reg"))
    (tmp_path / "p").mkdir()
    register(registry, "boss", procs.spawn().pid, str(tmp_path / "p"))
    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=lambda r, n: None)
    controller.ages_on_open = True
    clock = [time.time()]
    monkeypatch.setattr("tray.app.controller.time.time", lambda: clock[0])
    controller.poll_once()
    assert len(view.shown) == 1 and "up <1m" in str(view.shown[-1][3])
    clock[0] += 5 * 60 + 1
    controller.refresh_ages()  # the user opens the menu
    assert len(view.shown) == 2 and "up 5m" in str(view.shown[-1][3])
    controller.refresh_ages()  # opened again at once: no label changed, nothing is rebuilt
    assert len(view.shown) == 2


def test_the_hooks_are_checked_again_when_their_settings_file_changes_not_by_the_clock(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text("{}")
    checks: List[int] = []

    def check() -> List[str]:
        checks.append(1)
        return []

    controller = TrayController(Registry(str(tmp_path / "reg")), RecordingView(), ConfigStore(str(tmp_path / "c")),
                                hooks_check=check, hooks_stamp=lambda: os.stat(settings).st_mtime_ns
                                if settings.exists() else None)
    controller.check_hooks()
    controller.check_hooks()
    assert len(checks) == 1  # nothing changed, and five minutes have not passed
    os.utime(settings, ns=(1, 1))  # the user (or `hooks install`) wrote it
    controller.check_hooks()
    assert len(checks) == 2
    settings.unlink()
    controller.check_hooks()
    assert len(checks) == 3


def test_the_tray_settles_once_after_its_first_look(tmp_path):
    """After the first snapshot and hooks check the start-up's freed memory is handed back, once, not at every
    wake (tray/platform/memory.py)."""
    calls: List[str] = []
    controller = TrayController(Registry(str(tmp_path / "reg")), RecordingView(), slow_poll_store(tmp_path),
                                hooks_check=lambda: calls.append("hooks") or [], find_file=lambda r, n: None)
    controller.settled = lambda: calls.append("settled")
    look = controller.poll_once

    def counted() -> list:
        calls.append("look")
        return look()

    controller.poll_once = counted  # type: ignore[method-assign]
    controller.start()
    try:
        for looks in (1, 2, 3):
            wait_until(lambda: calls.count("look") >= looks and (looks != 1 or "settled" in calls),  # noqa: B023
                       f"look {looks}", timeout=10, interval=0.01)
            controller.wake()
    finally:
        controller.stop()
    assert calls[:3] == ["look", "hooks", "settled"] and calls.count("settled") == 1, calls


def test_freed_memory_is_handed_back_only_where_glibc_can():
    from tray.platform import memory

    assert memory.release_free_memory(platform="darwin") is False
    assert memory.release_free_memory(platform="win32") is False
    assert isinstance(memory.release_free_memory(), bool)


# --- a folder that does not exist yet -----------------------------------------------------------------------


@linux_only
def test_a_registry_that_does_not_exist_yet_is_waited_for_and_watched_once_it_appears(tmp_path):
    """A new user: neither ~/.claude nor ~/.claude/active exists when the tray starts."""
    home = tmp_path / "home"
    home.mkdir()
    registry = home / ".claude" / "active"
    reasons = Reasons()
    watcher = watch.LinuxWatcher(str(registry))
    assert watcher.start(reasons)
    try:
        assert watcher.complete == watch.local_filesystem(str(home))  # the creation is watched for: no gap
        (home / ".bashrc").write_text("unrelated")
        (home / "Documents").mkdir()  # neither is on the way to the registry: nobody is woken
        (home / ".claude").mkdir()  # on the way, but not the registry yet: nothing to look at
        assert not reasons.wait_for("", timeout=0.3), reasons.said
        registry.mkdir()
        assert reasons.wait_for("folder")
        # Only the registry itself waits for something now (its .activity): home and ~/.claude are let go.
        assert [(folder, names) for folder, names in watcher._awaiting.values()] == [(str(registry), {".activity"})]
        reasons.clear()
        (home / "Music").mkdir()
        assert not reasons.wait_for("", timeout=0.3), reasons.said
        (registry / "s1.json.tmp").write_text("{}")
        os.replace(registry / "s1.json.tmp", registry / "s1.json")
        assert reasons.wait_for("file")
    finally:
        watcher.close()


def _vnode_paths(s: Any) -> List[str]:
    """The folders the fake kqueue was asked to watch (each event's descriptor, read back through /proc)."""
    paths = []
    for event in s.the_queue.registered:
        if event.filter == s.KQ_FILTER_VNODE:
            try:
                paths.append(os.readlink(f"/proc/self/fd/{event.ident}"))
            except OSError:
                paths.append("(closed)")
    return paths


@linux_only
def test_kqueue_waits_for_a_missing_registry_on_its_nearest_folder_and_then_watches_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    registry = home / ".claude" / "active"
    s = fake_select()
    reasons = Reasons()
    watcher = KqueueWatcher(str(registry), select_module=s)
    assert watcher.start(reasons)
    try:
        kq = s.the_queue
        assert _vnode_paths(s) == [str(home)]  # the home folder, for the creation of .claude
        home_fd = kq.registered[-1].ident
        (home / "Documents").mkdir()
        kq.fire(types.SimpleNamespace(ident=home_fd, filter=s.KQ_FILTER_VNODE, flags=0, fflags=s.KQ_NOTE_WRITE))
        assert not reasons.wait_for("", timeout=0.3)  # not on the way to the registry: nobody is woken
        registry.mkdir(parents=True)
        kq.fire(types.SimpleNamespace(ident=home_fd, filter=s.KQ_FILTER_VNODE, flags=0, fflags=s.KQ_NOTE_WRITE))
        assert reasons.wait_for("folder")
        assert _vnode_paths(s)[-1] == str(registry) and watcher._ancestor_fds == {}  # home let go
        registry_fd = kq.registered[-1].ident
        reasons.clear()
        kq.fire(types.SimpleNamespace(ident=registry_fd, filter=s.KQ_FILTER_VNODE, flags=0, fflags=s.KQ_NOTE_WRITE))
        assert reasons.wait_for("file")
    finally:
        s.the_queue.fire(types.SimpleNamespace(ident=watcher._wake_read, filter=s.KQ_FILTER_READ, flags=0, fflags=0))
        watcher.close()


def test_windows_waits_for_a_missing_registry_on_its_nearest_folder_and_then_watches_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    registry = home / ".claude" / "active"
    kernel32 = FakeKernel32()
    reasons = Reasons()
    watcher = WindowsWatcher(str(registry), kernel32=kernel32, ctypes_module=fake_windows_ctypes())
    assert watcher.start(reasons)  # before: CreateFileW failed on the missing folder, and the tray polled

    def next_read(count: int) -> tuple:
        with kernel32.cond:
            assert kernel32.cond.wait_for(lambda: len(kernel32.reads) >= count, timeout=10)
            return kernel32.reads[count - 1]

    try:
        opened = [c[1] for c in kernel32.calls if c[0] == "CreateFileW" and c[1:2] != (str(registry),)]
        assert opened == [str(home)]
        home_handle = next_read(1)[0]
        assert next_read(1)[1:] == (False, FILE_NOTIFY_CHANGE_DIR_NAME)  # folder names right inside home only
        (home / "Documents").mkdir()
        kernel32.change(40)
        next_read(2)
        assert not reasons.wait_for("", timeout=0.3)  # not on the way to the registry: nobody is woken
        registry.mkdir(parents=True)
        kernel32.change(40)
        assert reasons.wait_for("folder")
        assert next_read(3)[1:] == (True, FILE_NOTIFY_CHANGES)  # the registry itself, as when it was there
        assert ("CreateFileW", str(registry)) in [c[:2] for c in kernel32.calls]
        assert ("CloseHandle", home_handle) in kernel32.calls
        reasons.clear()
        kernel32.change(48)
        assert reasons.wait_for("file")
    finally:
        watcher.close()


def test_windows_watches_the_other_folders_for_themselves_and_waits_for_a_missing_one(tmp_path):
    """config.json's folder (`orchestray sources add` while the tray runs), a project root: each its own
    thread, that folder only; one not there yet is waited for like the registry."""
    (tmp_path / "reg").mkdir()
    project, config = tmp_path / "shop", tmp_path / "home" / ".config" / "orchestray"
    project.mkdir()
    (tmp_path / "home").mkdir()
    kernel32 = FakeKernel32()
    reasons = Reasons()
    watcher = WindowsWatcher(str(tmp_path / "reg"), kernel32=kernel32, ctypes_module=fake_windows_ctypes())
    assert watcher.start(reasons)
    try:
        watcher.watch_pids([], folders=[str(project), str(config)])
        assert watcher.watched_folders == {str(project), str(config)}
        with kernel32.cond:
            assert kernel32.cond.wait_for(lambda: len(kernel32.reads) >= 3, timeout=10)
            shown = {kernel32.folders[handle]: (subtree, flags) for handle, subtree, flags in kernel32.reads}
        assert shown == {str(tmp_path / "reg"): (True, FILE_NOTIFY_CHANGES),
                         str(project): (False, FILE_NOTIFY_CHANGES),  # the root only: not its sub-folders
                         str(tmp_path / "home"): (False, FILE_NOTIFY_CHANGE_DIR_NAME)}  # waiting for .config
        kernel32.change(52, path=str(project))
        assert reasons.wait_for("file")
        reasons.clear()
        config.mkdir(parents=True)
        kernel32.change(40, path=str(tmp_path / "home"))
        assert reasons.wait_for("folder")  # the config folder is watched now
        reasons.clear()
        with kernel32.cond:
            assert kernel32.cond.wait_for(lambda: str(config) in kernel32.folders.values(), timeout=10)
        kernel32.change(40, path=str(config))
        assert reasons.wait_for("file")
    finally:
        watcher.close()
    with kernel32.cond:
        assert kernel32.folders == {}  # every folder handle closed


def _newly_watched_folder_says_so_once(watcher: Any, reasons: Reasons, folder: str) -> None:
    """A folder the snapshot just named is watched from now on only: the watcher asks for one more look (a
    change made in it since that snapshot read it would otherwise wait for the safety net), and only once."""
    reasons.clear()
    watcher.watch_pids([], folders=[folder])
    assert reasons.wait_for("folder-watched")
    reasons.clear()
    watcher.watch_pids([], folders=[folder])  # the same folder again: nothing new, no second look
    assert not reasons.wait_for("folder-watched", timeout=0.3)


@linux_only
def test_linux_asks_for_one_more_look_when_it_starts_watching_a_folder(linux_watcher, tmp_path):
    watcher, reasons = linux_watcher
    (tmp_path / "shop").mkdir()
    _newly_watched_folder_says_so_once(watcher, reasons, str(tmp_path / "shop"))


def test_kqueue_asks_for_one_more_look_when_it_starts_watching_a_folder(tmp_path):
    (tmp_path / "reg").mkdir()
    (tmp_path / "shop").mkdir()
    s = fake_select()
    reasons = Reasons()
    watcher = KqueueWatcher(str(tmp_path / "reg"), select_module=s)
    assert watcher.start(reasons)
    try:
        _newly_watched_folder_says_so_once(watcher, reasons, str(tmp_path / "shop"))
    finally:
        s.the_queue.fire(types.SimpleNamespace(ident=watcher._wake_read, filter=s.KQ_FILTER_READ, flags=0, fflags=0))
        watcher.close()


def test_windows_asks_for_one_more_look_when_it_starts_watching_a_folder(tmp_path):
    (tmp_path / "reg").mkdir()
    (tmp_path / "shop").mkdir()
    reasons = Reasons()
    watcher = WindowsWatcher(str(tmp_path / "reg"), kernel32=FakeKernel32(), ctypes_module=fake_windows_ctypes())
    assert watcher.start(reasons)
    try:
        _newly_watched_folder_says_so_once(watcher, reasons, str(tmp_path / "shop"))
    finally:
        watcher.close()


@linux_only
def test_a_death_reads_no_file_and_asks_the_os_about_that_process_only(tmp_path, procs, monkeypatch):
    """With 12 sessions watched, a killed one is told without reading any entry or activity file again and with
    one liveness question to the OS, for the process that ended (the others are known alive by their pidfds)."""
    from tray.core import liveness
    from tray.core.readcache import ReadCache

    registry = Registry(str(tmp_path / "reg"))
    project = tmp_path / "shop"
    project.mkdir()
    sessions = procs.many(12)
    for index, process in enumerate(sessions):
        register(registry, f"s{index:02d}", process.pid, str(project))
    view = RecordingView()
    controller = TrayController(registry, view, slow_poll_store(tmp_path), find_file=lambda root, name: None)
    controller.entry_cache = ReadCache(racy_seconds=0.0)  # files written a moment ago count as settled
    asked: List[int] = []
    created, gone = liveness.process_create_time, liveness.pid_gone
    monkeypatch.setattr(liveness, "process_create_time", lambda pid: asked.append(pid) or created(pid))
    monkeypatch.setattr(liveness, "pid_gone", lambda pid: asked.append(pid) or gone(pid))
    controller.start()
    try:
        wait_until(lambda: controller.change_watcher and len(controller.change_watcher.watched_pids) == 12,
                   "every session watched", timeout=10, interval=0.01)
        controller.wake()  # one more look, now that every process is known alive through its pidfd
        wait_until(lambda: controller.entry_cache.hits >= 12, "the tray's looks served from its cache",
                   timeout=10, interval=0.01)
        file_reads: List[str] = []
        monkeypatch.setattr(registry, "_read", lambda name: file_reads.append(name) or Registry._read(registry, name))
        asked[:] = []
        victim = sessions[5]
        procs.kill(victim)
        wait_until(lambda: not all(s.alive for s in controller.snapshot.sessions), "the death seen",
                   timeout=10, interval=0.01)
        assert file_reads == [], "a death made the tray read entry files again"
        assert asked and set(asked) == {victim.pid}, asked
    finally:
        controller.stop()
