"""The Windows half of ``tray.platform.watch``: ``ReadDirectoryChangesW`` for the registry folder and
``RegisterWaitForSingleObject`` for each session's process.

Each folder is watched by one thread blocked in a synchronous ``ReadDirectoryChangesW``; ``CancelIoEx`` ends
it. The registry's covers its whole tree (so ``.activity`` too); each other folder the tray follows
(config.json's, Claude Code's ``sessions/``, project roots) gets its own, for that folder only, up to
``MAX_OTHER_FOLDERS`` (the rest is left to the safety-net rescan). A process is watched by the system's thread pool: one
registered wait per process handle, called once when the process ends. That has no 63-handle limit per wait
(``WaitForMultipleObjects`` has) and needs no thread of ours per group of processes.

A folder that does not exist yet (a new user's registry) is waited for: its thread watches the nearest existing
ancestor for folder names only, not below it, checks whether the one child on the way exists after each change
there, and moves one level down (to the folder itself at last) when it does. Only the folder's appearance
wakes the tray. A folder removed later is waited for again the same way.

Each read names the files that changed (``FILE_NOTIFY_INFORMATION``); they go to the change log
(``watch_base.ChangeLog``) so that a look reads those files only, once the watcher is ``complete``.

Every call goes through ``kernel32``, which tests on Linux replace with a fake that records the calls and can
end a "process" or change the "folder" on demand.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set

from tray.core.log import get_logger
from tray.platform.watch_base import ChangeLog, nearest_existing

log = get_logger("watch")

FILE_LIST_DIRECTORY = 0x0001
FILE_SHARE_ALL = 0x00000001 | 0x00000002 | 0x00000004  # read, write, delete: never lock writers out
OPEN_EXISTING = 3
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000  # needed to open a folder
FILE_NOTIFY_CHANGE_DIR_NAME = 0x002
FILE_NOTIFY_CHANGES = 0x001 | FILE_NOTIFY_CHANGE_DIR_NAME | 0x004 | 0x010  # file name, folder name, attributes, write
SYNCHRONIZE = 0x00100000
INFINITE = 0xFFFFFFFF
WT_EXECUTEONLYONCE = 0x00000008
INVALID_HANDLE_VALUE = -1
BUFFER_BYTES = 64 * 1024
MAX_OTHER_FOLDERS = 32  # folders besides the registry with a thread of their own; the rest: the rescan


class FolderWatch:
    """One folder (or, while it is missing, its nearest existing ancestor) read by one thread blocked in
    ``ReadDirectoryChangesW``. `essential`: the registry, whose loss sends the tray back to polling."""

    def __init__(self, owner: WindowsWatcher, path: str, subtree: bool, essential: bool) -> None:
        self.owner, self.path, self.subtree, self.essential = owner, path, subtree, essential
        self.handle: Any = INVALID_HANDLE_VALUE
        self.opened = ""  # the folder `handle` is: `path`, or the ancestor it is waited for on
        self.thread: Optional[threading.Thread] = None

    @property
    def waiting(self) -> bool:
        """The folder is not there yet: its nearest existing ancestor is watched for it."""
        return bool(self.opened) and self.opened != self.path

    def open(self) -> bool:
        """Open the folder, or (while it is missing) its nearest existing ancestor. Called before the thread
        starts, then only on it; False when neither opens (or the watcher closed)."""
        owner = self.owner
        path = self.path if os.path.isdir(self.path) else nearest_existing(self.path)[0]
        if not path:
            return False
        handle = owner.kernel32.CreateFileW(path, FILE_LIST_DIRECTORY, FILE_SHARE_ALL, None, OPEN_EXISTING,
                                            FILE_FLAG_BACKUP_SEMANTICS, None)
        if handle in (None, INVALID_HANDLE_VALUE):
            return False
        with owner._lock:
            if owner._closed.is_set():
                owner.kernel32.CloseHandle(handle)
                return False
            old, self.handle, self.opened = self.handle, handle, path
        if old != INVALID_HANDLE_VALUE:
            owner.kernel32.CloseHandle(old)
        return True

    def start(self) -> None:
        self.thread = threading.Thread(target=self._read, name="orchestray-watch", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        owner = self.owner
        buffer = owner.ctypes.create_string_buffer(BUFFER_BYTES)
        returned = owner.ctypes.c_ulong(0)
        failed = False  # the last read failed: a second failure in a row is not a folder that moved
        while not owner._closed.is_set():
            waiting = self.waiting
            # While waiting: only folder names, only right inside the ancestor (nothing below it wakes us).
            ok = owner.kernel32.ReadDirectoryChangesW(self.handle, buffer, BUFFER_BYTES, self.subtree and not waiting,
                                                      FILE_NOTIFY_CHANGE_DIR_NAME if waiting else FILE_NOTIFY_CHANGES,
                                                      owner.ctypes.byref(returned), None, None)
            if owner._closed.is_set():
                return
            if ok:
                failed = False
                if not waiting:
                    if returned.value:
                        for name in changed_names(buffer.raw[:returned.value]):
                            self._note(name)
                        owner._say("file")
                    else:  # 0 bytes: more than the buffer held, and what changed is not known
                        owner.note_all()
                        owner._say("overflow")
                    continue
                if not self._on_the_way():
                    continue  # another folder changed beside the way to ours: nobody is woken
            elif failed or os.path.isdir(self.opened):
                self._stopped()
                return
            else:
                failed = True  # the folder watched went away: wait for it on the nearest one left
            if not self.open():
                if not owner._closed.is_set():
                    self._stopped()
                return
            if not self.waiting:
                owner.note_all()  # watched only from now on: what changed in it before was never told
                owner._say("folder")

    def _note(self, name: str) -> None:
        """Log `name`, relative to the folder watched (below it for the registry's whole tree)."""
        parts = [part for part in name.replace("\\", "/").split("/") if part]
        if not parts:
            self.owner.note(self.path)
            return
        self.owner.note(os.path.join(self.path, *parts[:-1]), parts[-1])

    def _stopped(self) -> None:
        self.owner.note_all()
        if self.essential:
            log.warning("watching the registry folder %s stopped; polling instead", self.path)
            self.owner._say("watch-failed")
        else:
            log.info("watching %s stopped; its changes are seen by the rescan", self.path)

    def _on_the_way(self) -> bool:
        """While waiting: does the ancestor's child on the way to the folder exist now?"""
        relative = os.path.relpath(self.path, self.opened)
        return os.path.isdir(os.path.join(self.opened, relative.split(os.sep)[0]))

    def cancel(self) -> None:
        if self.handle != INVALID_HANDLE_VALUE:
            self.owner.kernel32.CancelIoEx(self.handle, None)

    def end(self) -> None:
        """After `cancel`: wait for the thread, close the handle."""
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=2)
        if self.handle != INVALID_HANDLE_VALUE:
            self.owner.kernel32.CloseHandle(self.handle)
            self.handle = INVALID_HANDLE_VALUE


def changed_names(data: bytes) -> List[str]:
    """The file names in what ``ReadDirectoryChangesW`` returned: a chain of ``FILE_NOTIFY_INFORMATION``
    (``DWORD NextEntryOffset, Action, FileNameLength; WCHAR FileName[]``, the name in UTF-16 without a NUL).
    A record that does not fit is read as "" (the folder as a whole changed)."""
    import struct

    names: List[str] = []
    offset = 0
    for _ in range(len(data) // 12 + 1):
        if offset + 12 > len(data):
            break
        following, _action, length = struct.unpack_from("<III", data, offset)
        raw = data[offset + 12: offset + 12 + length]
        names.append(raw.decode("utf-16-le", "replace") if len(raw) == length else "")
        if not following:
            break
        offset += following
    return names


class WindowsWatcher(ChangeLog):
    name = "ReadDirectoryChangesW+RegisterWaitForSingleObject"
    #: Not yet told apart (processes that could not be watched, shared folders): the minute rescan stays.
    complete = False

    def __init__(self, directory: str, kernel32: Any = None, ctypes_module: Any = None) -> None:
        super().__init__()
        self.directory = directory
        self.kernel32 = kernel32
        self.ctypes: Any = ctypes_module
        self.on_change: Optional[Callable[[str], None]] = None
        self._registry = FolderWatch(self, directory, subtree=True, essential=True)
        self._others: Dict[str, FolderWatch] = {}  # folder -> its watch, kept once added (as on Linux)
        self._waits: Dict[int, tuple[Any, Any]] = {}  # pid -> (process handle, wait handle)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._callback: Any = None

    def start(self, on_change: Callable[[str], None]) -> bool:
        try:
            if self.ctypes is None:
                import ctypes

                self.ctypes = ctypes
            if self.kernel32 is None:
                self.kernel32 = self.ctypes.WinDLL("kernel32", use_last_error=True)
            opened = self._registry.open()
        except (OSError, AttributeError) as error:
            log.warning("cannot watch the registry folder (%s); polling instead", error)
            return False
        if not opened:
            log.warning("cannot open the registry folder %s (or a folder above it) to watch it; polling instead",
                        self.directory)
            return False
        self.on_change = on_change
        callback_type = self.ctypes.WINFUNCTYPE(None, self.ctypes.c_void_p, self.ctypes.c_bool)
        self._callback = callback_type(self._process_ended)  # kept referenced: the pool calls it later
        self._registry.start()
        return True

    @property
    def waiting(self) -> bool:
        """The registry folder is not there yet: its nearest existing ancestor is watched for it."""
        return self._registry.waiting

    def watch_pids(self, pids: Iterable[int], folders: Iterable[str] = ()) -> None:
        """Watch exactly these processes, and also these folders (each with a thread of its own, kept once
        added, at most MAX_OTHER_FOLDERS of them)."""
        wanted: Set[int] = {pid for pid in pids if isinstance(pid, int) and pid > 0}
        with self._lock:
            if self._callback is None:
                return
            for pid in set(self._waits) - wanted:
                self._forget(pid)
            for pid in wanted - set(self._waits):
                process = self.kernel32.OpenProcess(SYNCHRONIZE, False, pid)
                if not process:
                    self._say("process-gone")
                    continue
                wait = self.ctypes.c_void_p()
                if not self.kernel32.RegisterWaitForSingleObject(self.ctypes.byref(wait), process, self._callback,
                                                                 pid, INFINITE, WT_EXECUTEONLYONCE):
                    self.kernel32.CloseHandle(process)
                    log.warning("cannot watch process %d; its end is found by polling", pid)
                    continue
                self._waits[pid] = (process, wait)
            asked = [folder for folder in dict.fromkeys(folders)
                     if folder not in self._others and folder != self.directory]
            new = asked[:MAX_OTHER_FOLDERS - len(self._others)]
        for folder in asked[len(new):]:
            self.unfollowed(folder)  # no thread for it: read at every look
        started = False
        for folder in new:
            watch = FolderWatch(self, folder, subtree=False, essential=False)
            if not watch.open():
                self.unfollowed(folder)
            else:
                watch.start()
                started = True
                with self._lock:
                    self._others[folder] = watch
                if self._closed.is_set():  # closed meanwhile: close() may not have seen this one
                    watch.cancel()
                    watch.end()
        if started:
            self.note_all()
            # Watched only from now on: a change made since the snapshot that named the folder would wait for
            # the safety net. Look once more.
            self._say("folder-watched")

    @property
    def watched_folders(self) -> Set[str]:
        """The folders besides the registry that have a watch (a missing one is waited for)."""
        with self._lock:
            return set(self._others)

    @property
    def watched_pids(self) -> Set[int]:
        with self._lock:
            return set(self._waits)

    def known_alive(self) -> Dict[int, float]:
        return {}  # the snapshot asks the OS; a handle could give the creation time, not measured worth it yet

    def _process_ended(self, context: Any, _timed_out: bool) -> None:
        """Called on a thread-pool thread when a watched process ends (``context`` is its PID)."""
        pid = int(context or 0)
        with self._lock:
            if pid in self._waits:
                self._forget(pid)
        self._say("process-exit")

    def _forget(self, pid: int) -> None:
        process, wait = self._waits.pop(pid)
        self.kernel32.UnregisterWaitEx(wait, None)  # None: do not wait for a callback that is running now
        self.kernel32.CloseHandle(process)

    def _say(self, reason: str) -> None:
        if self.on_change is not None and not self._closed.is_set():
            self.on_change(reason)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for pid in list(self._waits):
                self._forget(pid)
            watches = [self._registry, *self._others.values()]
        for watch in watches:
            watch.cancel()
        for watch in watches:
            watch.end()
