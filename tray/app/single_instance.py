"""One tray per user: a lock file in the user state folder, held for the tray's lifetime.

The OS releases the lock when the process dies, however it dies, so a crash never blocks the next start.
"""

from __future__ import annotations

import os
from typing import Optional

from tray.core.fsutil import ReadRefused, atomic_write_bytes, read_regular_file
from tray.core.lock import FileLock, LockTimeout


class AlreadyRunning(RuntimeError):
    pass


class SingleInstance:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.pid_path = os.path.join(directory, "tray.pid")
        self._lock = FileLock(os.path.join(directory, "tray.lock"), timeout=0.2)

    def acquire(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        try:
            self._lock.acquire()
        except LockTimeout:
            other = self.running_pid()
            who = f" (pid {other})" if other else ""
            raise AlreadyRunning(f"Orchestray is already running{who}") from None
        atomic_write_bytes(self.pid_path, str(os.getpid()).encode("ascii"))

    def running_pid(self) -> Optional[int]:
        try:  # a FIFO or a huge file planted here must not hang or break the start
            return int(read_regular_file(self.pid_path, 64).decode("ascii").strip() or 0) or None
        except (OSError, ReadRefused, ValueError):
            return None

    def release(self) -> None:
        self._lock.release()
