"""The macOS (and BSD) half of ``tray.platform.watch``: one kqueue with ``EVFILT_VNODE`` on the registry's
folders and ``EVFILT_PROC``/``NOTE_EXIT`` per session process, waited on by one thread.

kqueue holds no handle on a process (a PID could be reused unseen), so unlike the Linux pidfds it gives the
snapshot no liveness answers: it only says "look again".

A folder that does not exist yet is waited for on its nearest existing ancestor (``NOTE_WRITE``: an entry was
added or removed there). kqueue names no entry, so the thread then checks whether the one child on the way
exists: only that wakes the tray, once the folder it leads to is watched itself.

What changed is logged per folder only (``ChangeLog.note`` without a name): a look after a wake lists and checks
the folders that changed, not the files in them.
"""

from __future__ import annotations

import os
import select
from typing import Any, Dict, Iterable, Optional, Set

from tray.platform.watch_base import WATCHED_SUBFOLDERS, OnChange, WatcherThread, log, nearest_existing

O_EVTONLY = 0x8000  # macOS: open a folder only to be told about it (does not keep a volume from unmounting)


class KqueueWatcher(WatcherThread):
    """``EVFILT_VNODE`` on the folders and ``EVFILT_PROC``/``NOTE_EXIT`` per process, in one kqueue.

    ``select_module`` is ``select`` on macOS; tests on Linux pass a fake with ``kqueue``, ``kevent`` and the
    constants, and check what was registered.
    """

    name = "kqueue"
    #: Not yet told apart (processes that could not be watched, shared file systems): the minute rescan stays.
    complete = False

    def __init__(self, directory: str, select_module: Any = None, os_module: Any = None) -> None:
        super().__init__()
        self.directory = directory
        self.select = select_module or select
        self.os = os_module or os
        self._kq: Any = None
        self._folder_fds: Dict[str, int] = {}
        self._awaiting: Dict[str, Set[str]] = {}  # an existing ancestor -> its children on the way to missing folders
        self._ancestor_fds: Dict[str, int] = {}  # those ancestors not watched for themselves
        self._pids: Set[int] = set()
        self._extra: Set[str] = set()

    def _event(self, ident: int, kind: str, flags: tuple[str, ...], fflags: int = 0) -> Any:
        """A kevent; ``kind`` and ``flags`` name the select module's constants (``KQ_FILTER_*``, ``KQ_EV_*``)."""
        s = self.select
        bits = 0
        for flag in flags:
            bits |= getattr(s, flag)
        return s.kevent(ident, filter=getattr(s, kind), flags=bits, fflags=fflags)

    def start(self, on_change: OnChange) -> bool:
        if not hasattr(self.select, "kqueue"):
            return False
        try:
            self._kq = self.select.kqueue()
            self._wake_read, self._wake_write = self.os.pipe()
            self._kq.control([self._event(self._wake_read, "KQ_FILTER_READ", ("KQ_EV_ADD",))], 0)
        except OSError as error:
            log.warning("cannot watch the registry with kqueue (%s); polling instead", error)
            return False
        return self._begin(on_change)

    def watch_folders(self, extra: Iterable[str] = ()) -> bool:
        """Watch the registry, its sub-folders and `extra`; wait for those missing. True when a folder not
        watched before is watched now."""
        self._extra.update(extra)
        s = self.select
        fflags = s.KQ_NOTE_WRITE | s.KQ_NOTE_DELETE | s.KQ_NOTE_RENAME | s.KQ_NOTE_ATTRIB | s.KQ_NOTE_EXTEND
        added = False
        with self._lock:
            ours = [self.directory] + [os.path.join(self.directory, sub) for sub in WATCHED_SUBFOLDERS]
            for _ in range(16):  # a folder created while watches are added: one level deeper, at most this often
                absent = []
                for folder in ours + sorted(self._extra):
                    if folder in self._folder_fds or self._kq is None:
                        continue
                    fd = self._open(folder)
                    if fd < 0:
                        absent.append(folder)
                        continue
                    self._folder_fds[folder] = fd
                    if folder in self._ancestor_fds:  # was waited on for a child: now it is watched itself
                        self.os.close(self._ancestor_fds.pop(folder))
                    self._kq.control([self._event(fd, "KQ_FILTER_VNODE", ("KQ_EV_ADD", "KQ_EV_CLEAR"), fflags)], 0)
                    added = True
                    self.note_all()  # what changed in it before now was never told: the next look reads all
                if self._kq is None or not self._await(absent):
                    break
        return added

    def _open(self, folder: str) -> int:
        try:
            return int(self.os.open(folder, O_EVTONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)))
        except OSError:
            return -1

    def _await(self, absent: Iterable[str]) -> bool:
        """Watch the nearest existing ancestor of each absent folder (``NOTE_WRITE``: an entry added or removed),
        let go of those no longer needed; True when a child on the way exists already (look again)."""
        wanted: Dict[str, Set[str]] = {}
        for folder in absent:
            ancestor, name = nearest_existing(folder)
            if ancestor:
                wanted.setdefault(ancestor, set()).add(name)
        for ancestor in set(self._ancestor_fds) - set(wanted):
            self.os.close(self._ancestor_fds.pop(ancestor))  # closing the descriptor removes its filter
        appeared = False
        for ancestor, names in wanted.items():
            if ancestor not in self._folder_fds and ancestor not in self._ancestor_fds:
                fd = self._open(ancestor)
                if fd < 0:
                    appeared = True  # gone meanwhile: look for the nearest existing one again
                    continue
                s = self.select
                self._ancestor_fds[ancestor] = fd
                self._kq.control([self._event(fd, "KQ_FILTER_VNODE", ("KQ_EV_ADD", "KQ_EV_CLEAR"),
                                              s.KQ_NOTE_WRITE | s.KQ_NOTE_DELETE | s.KQ_NOTE_RENAME)], 0)
            appeared = appeared or any(os.path.isdir(os.path.join(ancestor, name)) for name in names)
        self._awaiting = wanted
        return appeared

    def watch_pids(self, pids: Iterable[int], folders: Iterable[str] = ()) -> None:
        wanted = {pid for pid in pids if isinstance(pid, int) and pid > 0}
        s = self.select
        with self._lock:
            if self._kq is None:
                return
            for pid in self._pids - wanted:
                try:
                    self._kq.control([self._event(pid, "KQ_FILTER_PROC", ("KQ_EV_DELETE",), s.KQ_NOTE_EXIT)], 0)
                except OSError:
                    pass  # the process is gone already: so is its filter
                self._pids.discard(pid)
            for pid in wanted - self._pids:
                try:
                    exit_filter = self._event(pid, "KQ_FILTER_PROC", ("KQ_EV_ADD", "KQ_EV_ONESHOT"), s.KQ_NOTE_EXIT)
                    self._kq.control([exit_filter], 0)
                except ProcessLookupError:
                    self._later("process-gone")
                    continue
                except OSError as error:
                    log.warning("cannot watch process %d (%s); its end is found by polling", pid, error)
                    continue
                self._pids.add(pid)
        if self.watch_folders(folders):
            # A folder named by the snapshot just taken is watched only from now on: a change made in it since
            # that snapshot read it (a TRAFFIC.md written right away) would wait for the safety net. Look once more.
            self._later("folder-watched")

    @property
    def watched_pids(self) -> Set[int]:
        with self._lock:
            return set(self._pids)

    def known_alive(self) -> Dict[int, float]:
        return {}  # kqueue holds no handle on the process: a PID could be reused unseen, so ask the OS

    def _wait(self) -> Any:
        return self._kq.control(None, 64, None)

    def _handle(self, ready: Any) -> Optional[Set[str]]:
        s = self.select
        reasons: Set[str] = set()
        look_again = False
        for event in ready:
            if event.filter == s.KQ_FILTER_READ and event.ident == self._wake_read:
                return None  # close() asked the thread to end
            if event.filter == s.KQ_FILTER_PROC:
                with self._lock:
                    self._pids.discard(event.ident)
                reasons.add("process-exit")
                continue
            with self._lock:
                folder = next((f for f, fd in self._folder_fds.items() if fd == event.ident), "")
                ancestor = next((f for f, fd in self._ancestor_fds.items() if fd == event.ident), "")
                awaited = bool(self._awaiting.get(folder or ancestor))
            if folder:
                self.note(folder)  # a vnode event names the folder, not the file: the next look reads it all
                reasons.add("file")
            # else: an entry added or removed beside a folder we wait for: said only if it was that folder
            look_again = look_again or awaited
            if event.fflags & (s.KQ_NOTE_DELETE | s.KQ_NOTE_RENAME):
                self._forget_folder(event.ident)
                look_again = True
                if folder:
                    self.note_all()
                    reasons.add("folder")
        if look_again and self.watch_folders():
            reasons.add("folder")
        return reasons

    def _forget_folder(self, fd: int) -> None:
        with self._lock:
            for table in (self._folder_fds, self._ancestor_fds):
                for folder, known in list(table.items()):
                    if known == fd:
                        del table[folder]
                        self.os.close(fd)

    def close(self) -> None:
        self._end_thread(self.os.write)
        with self._lock:
            for fd in list(self._folder_fds.values()) + list(self._ancestor_fds.values()) + [self._wake_read,
                                                                                              self._wake_write]:
                if fd >= 0:
                    try:
                        self.os.close(fd)
                    except OSError:
                        pass
            self._folder_fds.clear()
            self._ancestor_fds.clear()
            if self._kq is not None:
                self._kq.close()
                self._kq = None
