"""Wake the tray the moment what it shows may have changed: a registry file written, moved or removed, or a
session's process ending. Polling stays as the fallback and as a slow safety net (the controller rescans every
minute while a watcher is not ``complete``, every ten minutes while it is, and at once after the kernel says it
dropped events).

One small class per platform, behind one interface (``ChangeWatcher``); this module holds the interface, the
Linux watcher and ``for_platform``, ``watch_kqueue`` and ``watch_windows`` the others, ``watch_base`` what the
threads share:
- Linux: one inotify descriptor on the registry folder and its ``.activity`` folder, plus one ``pidfd`` per
  live session process, all in one ``epoll`` set waited on by one thread. A process's end makes its pidfd
  readable, so a death is seen in well under a millisecond, without polling.
- macOS (and the BSDs): one ``kqueue`` with ``EVFILT_VNODE`` on the folders and ``EVFILT_PROC``/``NOTE_EXIT``
  per process, waited on by one thread.
- Windows: ``ReadDirectoryChangesW`` in one thread per folder, and one registered wait per process handle
  (``RegisterWaitForSingleObject``: the system's thread pool calls back when the process ends).

Why by hand, not a library: ``watchdog`` costs three threads and, watching a folder we also read, woke itself
tens of thousands of times a second until its events were filtered, and it knows nothing of processes;
``inotify_simple`` covers only the Linux folder half. What is needed here is a few system calls per platform,
through ``os``, ``select`` and ``ctypes``, and every branch is reachable in tests on Linux through the
``system`` objects each class takes (fakes record what would be called).

A folder that does not exist yet (a new user's ``~/.claude/active`` before the first session, a config folder
never written) is waited for: its nearest existing ancestor is watched for the creation of the one child on the
way down (``watch_base.nearest_existing``), only that name wakes anyone, and the folder itself is watched the
moment it appears (then the ancestor is let go). A folder removed later is waited for again the same way.

The watcher never reads a registry file and never decides anything: it only says "look again", with a reason
for the log. A failure to watch something (the descriptor limit, a permission) is logged once and leaves that
part to the safety-net poll.

One module past 400 lines because it holds the interface every watcher shares and the Linux watcher built on
it, which CI runs for real; the other platforms' watchers are in their own modules.
"""

from __future__ import annotations

import errno
import os
import select
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Set

from tray.core.liveness import process_create_time
from tray.platform.watch_base import WATCHED_SUBFOLDERS, Changes, OnChange, WatcherThread, log, nearest_existing


class ChangeWatcher(Protocol):
    """What the controller needs: start, keep the set of watched processes current, stop."""

    name: str

    def start(self, on_change: OnChange) -> bool:
        """Begin watching; False when this watcher cannot run here (the caller then polls)."""
        ...

    def watch_pids(self, pids: Iterable[int], folders: Iterable[str] = ()) -> None:
        """Watch exactly these processes from now on (the live sessions of the latest snapshot), and also these
        folders outside the registry (Claude Code's `sessions/` folders, where a turn's end shows without a hook)."""
        ...

    def known_alive(self) -> Dict[int, float]:
        """Processes known to run now (PID -> creation time) without asking the OS; may be empty."""
        ...

    def take_changes(self) -> Optional[Changes]:
        """What changed since the last call, by folder (``watch_base.ChangeLog``), and forget it; None when that
        is not known (the first look, dropped events, a folder watched only from now on): read everything."""
        ...

    @property
    def complete(self) -> bool:
        """True while events alone report every change: each process asked for is watched, and so is the
        registry folder, on a file system whose changes the kernel sees (not one shared over a network).
        The controller then needs its safety-net rescan only rarely."""
        ...

    def close(self) -> None: ...


def raise_fd_limit(wanted: int = 65536, resource_module: Any = None) -> int:
    """Raise the soft descriptor limit towards the hard one (a pidfd per live session); the new soft limit.

    Debian's default soft limit is 1,024, which 1,000 sessions plus the GUI's own descriptors would exceed.
    """
    try:
        resource = resource_module or __import__("resource")
    except ImportError:  # Windows has no such limit for handles
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            log.warning("cannot raise the open-file limit from %d to %d", soft, target)
    return soft


# --- Linux: inotify + pidfd + epoll --------------------------------------------------------------------------

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
#: What a writer of the registry does: a temp file created and renamed over an entry, an entry removed, a
#: file changed in place (another tool that does not write atomically), a folder moved or removed.
FOLDER_EVENTS = (
    IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
    | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW
)
#: What a folder we wait for needs from its nearest existing ancestor: a child created or moved in, the
#: ancestor itself gone. A file created there wakes only the watcher's thread, which drops it by its name.
AWAIT_EVENTS = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
_AWAIT_PASSES = 16  # folders created while we add watches: look one level deeper, at most this often
_EVENT_HEADER = 16  # struct inotify_event: int wd; uint32 mask, cookie, len; then `len` bytes of name


class LinuxSystem:
    """The system calls the Linux watcher makes; a test passes a fake with the same methods."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._ctypes = ctypes

    def _check(self, result: int) -> int:
        if result < 0:
            code = self._ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result

    def inotify_init(self) -> int:
        return self._check(self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))

    def inotify_add_watch(self, fd: int, path: str, mask: int) -> int:
        return self._check(self._libc.inotify_add_watch(fd, os.fsencode(path), self._ctypes.c_uint32(mask)))

    def inotify_rm_watch(self, fd: int, wd: int) -> None:
        self._check(self._libc.inotify_rm_watch(fd, wd))

    def pidfd_open(self, pid: int) -> int:
        return os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]  # Linux 5.3+, Python 3.9+

    def epoll(self) -> Any:
        return select.epoll()  # type: ignore[attr-defined,unused-ignore]

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def pipe(self) -> tuple[int, int]:
        return os.pipe()

    def write(self, fd: int, data: bytes) -> None:
        os.write(fd, data)


def parse_inotify_events(buffer: bytes) -> List[tuple[int, int, str]]:
    """``(wd, mask, name)`` for each event in what one read of an inotify descriptor returned."""
    import struct

    events = []
    offset = 0
    while offset + _EVENT_HEADER <= len(buffer):
        wd, mask, _cookie, length = struct.unpack_from("iIII", buffer, offset)
        raw = buffer[offset + _EVENT_HEADER : offset + _EVENT_HEADER + length]
        events.append((wd, mask, os.fsdecode(raw.split(b"\0", 1)[0])))
        offset += _EVENT_HEADER + length
    return events


class LinuxWatcher(WatcherThread):
    """inotify on the folders and a pidfd per process, in one epoll set, waited on by one daemon thread."""

    name = "inotify+pidfd"

    def __init__(self, directory: str, system: Optional[Any] = None) -> None:
        super().__init__()
        self.directory = directory
        self.system: Any = system
        self._epoll: Any = None
        self._inotify = -1
        self._folders: Dict[int, str] = {}  # inotify watch descriptor -> folder
        #: watch descriptor -> (an existing ancestor, the names of its children on the way to missing folders)
        self._awaiting: Dict[int, tuple[str, Set[str]]] = {}
        self._registry_awaited = False  # the registry is missing and its creation is watched for
        self._pidfds: Dict[int, int] = {}  # pid -> pidfd
        self._fd_pids: Dict[int, int] = {}  # pidfd -> pid
        self._created: Dict[int, float] = {}  # pid -> creation time of the process its pidfd holds
        self._extra: Set[str] = set()  # folders outside the registry worth a wake (kept once added)
        self._refused: Set[str] = set()  # folders whose watch the kernel refused (said once)
        self._settled = False  # every folder asked for is watched or waited for (nothing to try again)
        self._pid_trouble = False
        self._local = False  # is the registry on a file system whose changes inotify reports (set at start)

    def start(self, on_change: OnChange) -> bool:
        self._local = local_filesystem(self.directory)
        if not self._local:
            log.info("%s is on a shared file system: changes made elsewhere are seen by the rescan", self.directory)
        try:
            self.system = self.system or LinuxSystem()
            self._inotify = self.system.inotify_init()
            self._epoll = self.system.epoll()
            self._wake_read, self._wake_write = self.system.pipe()
            self._epoll.register(self._inotify, select.EPOLLIN)
            self._epoll.register(self._wake_read, select.EPOLLIN)
        except (OSError, AttributeError) as error:
            log.warning("cannot watch the registry with inotify (%s); polling instead", error)
            self._release()
            return False
        return self._begin(on_change)

    def watch_folders(self, extra: Iterable[str] = ()) -> bool:
        """Watch the registry, its sub-folders and `extra`; wait for those missing (called again when one may
        have appeared). True when a folder not watched before is watched now."""
        extra = [folder for folder in extra if folder not in self._extra]
        if self._settled and not extra:
            return False  # every folder asked for is watched or waited for: events say when that changes
        self._extra.update(extra)
        wanted = [self.directory] + [os.path.join(self.directory, sub) for sub in WATCHED_SUBFOLDERS]
        wanted += sorted(self._extra)
        added = False
        with self._lock:
            if self._inotify < 0:
                return False
            self._settled = False
            for _ in range(_AWAIT_PASSES):
                absent = []
                for folder in wanted:
                    if folder in self._folders.values():
                        continue
                    try:
                        wd = self.system.inotify_add_watch(self._inotify, folder, FOLDER_EVENTS)
                    except OSError as error:
                        if error.errno in (errno.ENOENT, errno.ENOTDIR):
                            absent.append(folder)
                        elif folder not in self._refused:
                            self._refused.add(folder)
                            self.unfollowed(folder)  # read at every look instead
                            log.warning("cannot watch %s: %s", folder, error.strerror or error)
                        continue
                    if folder in self._extra and not local_filesystem(folder):
                        self.unfollowed(folder)  # another machine's writes there are not reported
                    self._folders[wd] = folder
                    added = True
                    self.note_all()  # what changed in it before now was never told: the next look reads all
                if not self._await(absent):
                    # Nothing appeared while the ancestors' watches were added: settled, unless a folder could
                    # not be waited for (no ancestor exists) or its watch was refused (then it is asked again).
                    self._settled = all(nearest_existing(folder)[0] for folder in absent) and not any(
                        folder in self._refused for folder in wanted)
                    break
        return added

    def _await(self, missing: List[str]) -> bool:
        """Watch the nearest existing ancestor of each folder that is not there, for the child on the way to it (and
        let go of ancestors no longer needed). True when such a child exists already: the caller looks again."""
        wanted: Dict[str, Set[str]] = {}
        for folder in missing:
            ancestor, name = nearest_existing(folder)
            if ancestor:
                wanted.setdefault(ancestor, set()).add(name)
        awaiting: Dict[int, tuple[str, Set[str]]] = {}
        appeared = False
        for ancestor, names in wanted.items():
            known = [wd for wd, folder in self._folders.items() if folder == ancestor]
            if known:  # watched for itself already: its events carry the names too
                wd = known[0]
            else:
                try:
                    wd = self.system.inotify_add_watch(self._inotify, ancestor, AWAIT_EVENTS)
                except OSError as error:
                    if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                        log.warning("cannot watch %s for %s: %s", ancestor, sorted(names), error.strerror or error)
                    appeared = appeared or error.errno in (errno.ENOENT, errno.ENOTDIR)  # gone meanwhile
                    continue
            awaiting[wd] = (ancestor, names)
            appeared = appeared or any(os.path.isdir(os.path.join(ancestor, name)) for name in names)
        for wd in set(self._awaiting) - set(awaiting):
            if wd not in self._folders:
                try:
                    self.system.inotify_rm_watch(self._inotify, wd)
                except OSError:
                    pass  # its folder is gone, and the watch with it
        self._awaiting = awaiting
        route = nearest_existing(self.directory)[0] if self.directory in missing else ""
        self._registry_awaited = bool(route) and any(folder == route for folder, _ in awaiting.values())
        return appeared

    def watch_pids(self, pids: Iterable[int], folders: Iterable[str] = ()) -> None:
        wanted: Set[int] = {pid for pid in pids if isinstance(pid, int) and pid > 0}
        with self._lock:
            if self._epoll is None:
                return
            for pid in list(self._pidfds):
                if pid not in wanted:
                    self._forget_pid(pid)
            for pid in wanted - set(self._pidfds):
                try:
                    fd = self.system.pidfd_open(pid)
                except ProcessLookupError:
                    self._later("process-gone")  # it ended between the snapshot and now: look again
                    continue
                except OSError as error:
                    if not self._pid_trouble:  # EMFILE, or an old kernel: the poll still sees deaths
                        log.warning("cannot watch process %d (%s); its end is found by polling", pid, error)
                        self._pid_trouble = True
                    continue
                created = process_create_time(pid)  # of the process this pidfd holds, asked once in its life
                if created is None:  # it ended between pidfd_open and now
                    self.system.close(fd)
                    self._later("process-gone")
                    continue
                self._pidfds[pid] = fd
                self._fd_pids[fd] = pid
                self._created[pid] = created
                self._epoll.register(fd, select.EPOLLIN)
        if self.watch_folders(folders):
            # A folder named by the snapshot just taken is watched only from now on: a change made in it since
            # that snapshot read it (a TRAFFIC.md written right away) would wait for the safety net. Look once more.
            self._later("folder-watched")

    def known_alive(self) -> Dict[int, float]:
        """Creation time of each watched process that has not ended: running now, as sure as asking the OS."""
        with self._lock:
            return {pid: self._created[pid] for pid in self._pidfds if pid in self._created}

    @property
    def complete(self) -> bool:
        with self._lock:
            registry = self.directory in self._folders.values() or self._registry_awaited
            return self._local and not self._pid_trouble and registry

    @property
    def watched_pids(self) -> Set[int]:
        with self._lock:
            return set(self._pidfds)

    def _forget_pid(self, pid: int) -> None:
        self._created.pop(pid, None)
        fd = self._pidfds.pop(pid)
        self._fd_pids.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass
        self.system.close(fd)

    def _wait(self) -> Any:
        return self._epoll.poll()  # no timeout: nothing wakes this thread but an event

    def _handle(self, ready: List[tuple[int, int]]) -> Optional[Set[str]]:
        reasons: Set[str] = set()
        for fd, _mask in ready:
            if fd == self._wake_read:
                return None  # close() asked the thread to end
            if fd == self._inotify:
                reasons |= self._drain_inotify()
                continue
            with self._lock:
                pid = self._fd_pids.get(fd)
                if pid is not None:
                    self._forget_pid(pid)
                    reasons.add("process-exit")
        return reasons

    def _drain_inotify(self) -> Set[str]:
        reasons: Set[str] = set()
        look_again = False  # a folder we wait for (or the way to it) may have appeared
        while True:
            try:
                buffer = self.system.read(self._inotify, 64 * 1024)
            except BlockingIOError:
                break
            except OSError:
                self.note_all()
                reasons.add("overflow")
                break
            if not buffer:
                break
            for wd, mask, name in parse_inotify_events(buffer):
                with self._lock:
                    folder = self._folders.get(wd)
                    watched = folder is not None
                    awaited = self._awaiting.get(wd, ("", set()))[1]
                if folder is not None:
                    self.note(folder, name)  # inotify names the file: the next look reads that one
                if mask & IN_Q_OVERFLOW:
                    self.note_all()  # the kernel dropped events: nobody knows what changed
                    reasons.add("overflow")
                    look_again = True
                elif mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):
                    with self._lock:
                        self._folders.pop(wd, None)
                        self._awaiting.pop(wd, None)
                    if watched:
                        self.note_all()  # a watched folder went away (and may come back with other files)
                        reasons.add("folder")
                    look_again = look_again or watched or bool(awaited)
                elif name in awaited:
                    look_again = True  # said below if the folder it leads to is watched now
                elif watched:
                    reasons.add("file")
                # else: something else changed beside a folder we wait for: nobody is woken for it
        if look_again:
            self._settled = False  # a folder watched or waited for came or went: add the watches again
        if look_again and self.watch_folders():
            reasons.add("folder")
        return reasons

    def close(self) -> None:
        if self.system is not None:
            self._end_thread(self.system.write)
        self._release()

    def _release(self) -> None:
        with self._lock:
            for pid in list(self._pidfds):
                self._forget_pid(pid)
            for fd in (self._inotify, self._wake_read, self._wake_write):
                if fd >= 0 and self.system is not None:
                    try:
                        self.system.close(fd)
                    except OSError:
                        pass
            self._inotify = self._wake_read = self._wake_write = -1
            self._folders.clear()
            self._awaiting.clear()
            if self._epoll is not None:
                self._epoll.close()
                self._epoll = None


#: File systems whose changes may come from another machine (or from Windows, for WSL's drvfs and 9p), where
#: inotify reports only this machine's own writes. FUSE counts as shared: sshfs, rclone and the like are FUSE.
SHARED_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "drvfs", "virtiofs", "vboxsf", "ceph",
                      "glusterfs", "afs", "davfs", "lustre", "gpfs", "fuse")


MOUNTS_LIMIT = 4 * 1024 * 1024  # bytes of mount table read: thousands of mounts (containers, snaps) fit


#: statfs(2) ``f_type`` of the same kinds (linux/magic.h): NFS, SMB, CIFS, SMB2, FUSE (sshfs, rclone, virtiofs), 9p
#: (WSL 2's Windows drives), Ceph, AFS, VirtualBox shared folders.
SHARED_MAGIC = frozenset({0x6969, 0x517B, 0xFF534D42, 0xFE534D42, 0x65735546, 0x01021997, 0x00C36400, 0x5346414F,
                          0x786F4256})


def statfs_type(path: str) -> Optional[int]:
    """The type of the file system holding `path` (statfs(2) ``f_type``, the first word of ``struct statfs`` on
    Linux), or None when it cannot be asked. ctypes, because Python's ``os.statvfs`` leaves the type out."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        buffer = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux, 84 on 32-bit
        if libc.statfs(os.fsencode(path), buffer) != 0:
            return None
        return int(ctypes.c_long.from_buffer(buffer).value) & 0xFFFFFFFF
    except (OSError, AttributeError, ValueError, TypeError):
        return None


def local_filesystem(directory: str, mounts: str = "/proc/self/mounts",
                     statfs: Callable[[str], Optional[int]] = statfs_type) -> bool:
    """Whether `directory` (or its nearest existing parent) is on a file system of this machine, from the mount
    table: the longest mount point that contains it decides. A table that lists no mount point above it (a
    chroot's lists only what was mounted inside the chroot) leaves it to the kernel's own answer for the folder
    (`statfs`). False when that cannot be told."""
    from tray.core.fsutil import ReadRefused, read_regular_file

    path = os.path.realpath(directory)
    try:  # the one reader: never blocks, and a mount table past MOUNTS_LIMIT is not read in part
        table = read_regular_file(mounts, MOUNTS_LIMIT, follow=True).decode("utf-8", "replace").splitlines()
    except (OSError, ReadRefused):
        return False
    best, kind = "", ""
    for line in table:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    if not best:
        existing = path if os.path.isdir(path) else nearest_existing(path)[0]
        magic = statfs(existing) if existing else None
        return magic is not None and magic not in SHARED_MAGIC
    return kind.split(".")[0] not in SHARED_FILESYSTEMS


def for_platform(directory: str, platform: str = sys.platform) -> Optional[ChangeWatcher]:
    """The watcher for this system, or None where only polling works."""
    if platform.startswith("linux"):
        return LinuxWatcher(directory)
    if platform == "darwin" or "bsd" in platform:
        from tray.platform.watch_kqueue import KqueueWatcher

        return KqueueWatcher(directory)
    if platform == "win32":
        from tray.platform.watch_windows import WindowsWatcher

        return WindowsWatcher(directory)
    return None
