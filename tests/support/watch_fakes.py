"""Fakes shared by the change-watcher tests: what a watcher said, a recording view, and the kqueue and kernel32
boundaries through which the macOS and Windows watchers run on Linux."""

from __future__ import annotations

import ctypes
import os
import threading
import time
import types
from typing import Any, List, Optional

import pytest

from tray.app.config import ConfigStore
from tray.platform.watch_windows import INVALID_HANDLE_VALUE

linux_only = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="inotify and pidfd are Linux's")

class Reasons:
    """What a watcher said, with a way to wait for a reason (every wait has a deadline)."""

    def __init__(self) -> None:
        self.said: List[str] = []
        self.changed = threading.Condition()

    def __call__(self, reason: str) -> None:
        with self.changed:
            self.said.append(reason)
            self.changed.notify_all()

    def wait_for(self, word: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(word in reason for reason in self.said):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def clear(self) -> None:
        with self.changed:
            self.said.clear()

class FakeKqueue:
    def __init__(self) -> None:
        self.registered: List[Any] = []
        self.pending: List[Any] = []
        self.ready = threading.Condition()
        self.closed = False

    def control(self, changes: Optional[List[Any]], max_events: int, timeout: Optional[float] = None) -> List[Any]:
        if changes:
            self.registered.extend(changes)
            return []
        with self.ready:
            while not self.pending:
                self.ready.wait(5)
            out, self.pending = self.pending, []
            return out

    def fire(self, event: Any) -> None:
        with self.ready:
            self.pending.append(event)
            self.ready.notify_all()

    def close(self) -> None:
        self.closed = True


def fake_select() -> Any:
    kq = FakeKqueue()
    names = ["KQ_FILTER_READ", "KQ_FILTER_VNODE", "KQ_FILTER_PROC", "KQ_EV_ADD", "KQ_EV_DELETE", "KQ_EV_ONESHOT",
             "KQ_EV_CLEAR", "KQ_NOTE_EXIT", "KQ_NOTE_WRITE", "KQ_NOTE_DELETE", "KQ_NOTE_RENAME", "KQ_NOTE_ATTRIB",
             "KQ_NOTE_EXTEND"]
    constants = {name: 1 << index for index, name in enumerate(names)}
    kevent = lambda ident, filter, flags=0, fflags=0: types.SimpleNamespace(  # noqa: E731
        ident=ident, filter=filter, flags=flags, fflags=fflags)
    return types.SimpleNamespace(kqueue=lambda: kq, kevent=kevent, the_queue=kq, **constants)

class FakeKernel32:
    """Records every call; ReadDirectoryChangesW blocks until `change()` reaches its folder, or CancelIoEx."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []
        self.changes: dict = {}  # handle -> sizes of the changes waiting for its next read
        self.cond = threading.Condition()
        self.cancelled: set = set()
        self.next_handle = 100
        self.waits: dict = {}
        self.reads: List[tuple] = []  # (handle, whole tree, what to report) of each ReadDirectoryChangesW
        self.folders: dict = {}  # open folder handle -> its path

    def _handle(self) -> int:
        self.next_handle += 1
        return self.next_handle

    def CreateFileW(self, *args: Any) -> int:
        self.calls.append(("CreateFileW",) + args)
        if not os.path.isdir(args[0]):
            return INVALID_HANDLE_VALUE  # as Windows: no folder, no handle
        handle = self._handle()
        with self.cond:
            self.folders[handle] = args[0]
        return handle

    def ReadDirectoryChangesW(self, handle, buffer, size, subtree, flags, returned, overlapped, routine) -> int:
        with self.cond:
            self.reads.append((handle, subtree, flags))
            self.cond.notify_all()
            while not self.changes.get(handle) and handle not in self.cancelled:
                self.cond.wait(5)
            if handle in self.cancelled:
                return 0
            returned.contents.value = self.changes[handle].pop(0)
            return 1

    def change(self, size: int, path: Optional[str] = None) -> None:
        """A change of `size` bytes in the folder at `path` (default: the first folder opened that is still open)."""
        with self.cond:
            handle = [h for h, p in self.folders.items() if path is None or p == path][0]
            self.changes.setdefault(handle, []).append(size)
            self.cond.notify_all()

    def CancelIoEx(self, handle, overlapped) -> int:
        self.calls.append(("CancelIoEx", handle))
        with self.cond:
            self.cancelled.add(handle)
            self.cond.notify_all()
        return 1

    def OpenProcess(self, access, inherit, pid) -> int:
        self.calls.append(("OpenProcess", access, inherit, pid))
        return 0 if pid == 999 else self._handle()

    def RegisterWaitForSingleObject(self, wait_ref, handle, callback, context, timeout, flags) -> int:
        self.calls.append(("RegisterWaitForSingleObject", handle, context, flags))
        self.waits[context] = callback
        return 1

    def UnregisterWaitEx(self, wait, event) -> int:
        self.calls.append(("UnregisterWaitEx",))
        return 1

    def CloseHandle(self, handle) -> int:
        self.calls.append(("CloseHandle", handle))
        with self.cond:
            self.folders.pop(handle, None)
        return 1


def fake_windows_ctypes() -> Any:
    return types.SimpleNamespace(WINFUNCTYPE=ctypes.CFUNCTYPE, c_void_p=ctypes.c_void_p, c_bool=ctypes.c_bool,
                                 c_ulong=ctypes.c_ulong, byref=ctypes.pointer,
                                 create_string_buffer=ctypes.create_string_buffer)

class RecordingView:
    def __init__(self) -> None:
        self.shown: list = []
        self.notes: list = []
        self.noted = threading.Event()

    def show(self, state, count, title, menu) -> None:
        self.shown.append((state, count, title, menu))

    def notify(self, title: str, body: str, buttons=(), on_click=None) -> bool:
        self.notes.append((title, body))
        self.noted.set()
        return True

    def stop(self) -> None:
        pass


def slow_poll_store(tmp_path) -> ConfigStore:
    store = ConfigStore(str(tmp_path / "cfg"))
    config = store.load()
    config.poll_interval = 3600.0  # only an event can make the tray look again within this test
    store.save(config)
    return store
