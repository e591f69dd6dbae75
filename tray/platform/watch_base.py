"""What the change watchers of every platform share (see ``tray.platform.watch``): the folders worth watching
inside the registry, the callback's type, where to wait for a folder that does not exist yet, and the one daemon
thread the Linux and kqueue watchers wait in."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Optional, Set, Tuple

from tray.core.log import get_logger

log = get_logger("watch")

#: The folders inside the registry whose changes matter to the tray, besides the registry itself.
WATCHED_SUBFOLDERS = (".activity",)

OnChange = Callable[[str], None]


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


class WatcherThread:
    """What the Linux and kqueue watchers share: one daemon thread that waits in the kernel, a pipe that wakes
    it to end, and the callback that says "look again"."""

    def __init__(self) -> None:
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
