"""What the change watchers of every platform share (see ``tray.platform.watch``): the folders worth watching
inside the registry, the callback's type, where to wait for a folder that does not exist yet, and the one daemon
thread the Linux and kqueue watchers wait in, and the log of what changed that every watcher keeps for the tray's
next look (``ChangeLog``)."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from tray.core.log import get_logger

log = get_logger("watch")

#: The folders inside the registry whose changes matter to the tray, besides the registry itself.
WATCHED_SUBFOLDERS = (".activity",)

OnChange = Callable[[str], None]
#: What changed since the tray last asked, by folder: the names that changed in it, or None when the folder
#: changed in a way that names nothing (kqueue's vnode events, the folder itself) and all of it is looked at.
Changes = Dict[str, Optional[Set[str]]]


class ChangeLog:
    """Which files changed since the tray's last look, so that a look re-reads those and not every file.

    The watcher's thread notes each event it is told of (``note``); anything that may hide a change (the kernel
    dropped events, a folder watched only from now on, a watched folder gone) makes the whole log unknown
    (``note_all``) and the next look reads everything. The tray takes the log (``take_changes``) BEFORE it reads:
    a change made while it reads is then in the next log, and its event wakes the tray again.
    """

    def __init__(self) -> None:
        self._log_lock = threading.Lock()
        self._changes: Changes = {}
        self._unknown = True  # nothing is known before the first look: it reads everything
        #: Folders asked for that no event covers (a watch refused, a shared file system): logged as changed at
        #: every look, so what they hold is read each time, as it was before any watcher told names.
        self._unfollowed: Set[str] = set()

    def unfollowed(self, folder: str) -> None:
        with self._log_lock:
            self._unfollowed.add(folder)

    def note(self, folder: str, name: str = "") -> None:
        """`name` changed in the watched `folder` ("" for the folder as a whole)."""
        with self._log_lock:
            if self._unknown:
                return
            if not name:
                self._changes[folder] = None
                return
            names = self._changes.setdefault(folder, set())
            if names is not None:
                names.add(name)

    def note_all(self) -> None:
        with self._log_lock:
            self._unknown = True
            self._changes = {}

    def take_changes(self) -> Optional[Changes]:
        """What changed since the last call (and forget it); None when that is not known: look at everything."""
        with self._log_lock:
            changes, unknown = self._changes, self._unknown
            self._changes, self._unknown = {}, False
            for folder in self._unfollowed:
                changes[folder] = None
        return None if unknown else changes


def nearest_existing(folder: str, isdir: Callable[[str], bool] = os.path.isdir) -> Tuple[str, str]:
    """Where to wait for a folder that does not exist yet: its nearest existing ancestor, and the name of that
    ancestor's child on the way down to it (the one creation worth a look). ``("", "")`` when nothing exists.

    A new user starts the tray before any Claude Code session ran: ``~/.claude/active`` (even ``~/.claude``) is
    not there yet, and the first session must show at once, not at the next safety-net rescan.
    """
    child, parent = folder, os.path.dirname(folder)
    while parent != child and not isdir(parent):
        child, parent = parent, os.path.dirname(parent)
    if parent == child:
        return "", ""
    return parent, os.path.basename(child)


class WatcherThread(ChangeLog):
    """What the Linux and kqueue watchers share: one daemon thread that waits in the kernel, a pipe that wakes
    it to end, the callback that says "look again", and the log of what changed."""

    def __init__(self) -> None:
        super().__init__()
        self.on_change: Optional[OnChange] = None
        self._wake_read = self._wake_write = -1
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _begin(self, on_change: OnChange) -> bool:
        self.on_change = on_change
        self.watch_folders()
        self._thread = threading.Thread(target=self._run, name="orchestray-watch", daemon=True)
        self._thread.start()
        return True

    def watch_folders(self, extra: Iterable[str] = ()) -> bool:
        """Watch the registry's folders and `extra`, waiting for those not there yet; True when one more is
        watched than before (a folder waited for has appeared)."""
        raise NotImplementedError

    def _wait(self) -> Any:
        """Block in the kernel until something happens; what happened, for `_handle`."""
        raise NotImplementedError

    def _handle(self, ready: Any) -> Optional[Set[str]]:
        """The reasons to look again in what `_wait` returned; None when close() asked the thread to end."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                ready = self._wait()
            except InterruptedError:
                continue
            except (OSError, ValueError):
                if not self._closed.is_set():
                    log.exception("watching the registry stopped; polling instead")
                    self.note_all()
                    self._later("watch-failed")
                return
            reasons = self._handle(ready)
            if reasons is None:
                return
            if reasons and not self._closed.is_set():
                self._later(",".join(sorted(reasons)))

    def _later(self, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(reason)

    def _end_thread(self, write: Callable[[int, bytes], None]) -> None:
        """Ask the thread to end (a byte on the wake pipe) and wait for it, unless called from it."""
        self._closed.set()
        if self._wake_write >= 0:
            try:
                write(self._wake_write, b"x")
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
