"""The registry lock: one inter-process lock file held around every read-modify-write.

A hand-written `flock`/`msvcrt.locking` lock rather than a dependency, because the hook imports this on every
Claude Code prompt and must stay cheap. The lock file is never deleted (deleting a lock file races with a
process that has just opened it). It is opened through `fsutil.open_private_file`: a symlink, FIFO or folder
planted at its name is refused (`NotOurs`), never followed, so no file is ever created outside the registry.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Optional, Type

from tray.core.fsutil import open_private_file

LOCK_NAME = ".orchestray.lock"


class LockTimeout(RuntimeError):
    """Another process held the registry lock for longer than we are willing to wait."""


class FileLock:
    """Exclusive inter-process lock on one file; re-entrant within one object."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: Optional[int] = None
        self._depth = 0

    def acquire(self) -> None:
        if self._depth:
            self._depth += 1
            return
        fd = open_private_file(self.path)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                _try_lock(fd)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"the lock {self.path} is held by another process") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.release()


class RegistryLock(FileLock):
    """The registry's lock: `<registry>/.orchestray.lock`."""

    def __init__(self, directory: str, timeout: float = 10.0) -> None:
        super().__init__(os.path.join(directory, LOCK_NAME), timeout)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
