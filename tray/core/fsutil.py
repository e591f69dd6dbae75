"""Small file helpers with the guarantees the registry needs: atomic replace, bounded and link-safe reads."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from typing import Any, Callable, Optional

TEMP_SUFFIX = ".tmp"


def atomic_write_json(path: str, data: Any, mode: int = 0o644) -> None:
    """Write JSON so that readers see either the old file or the new one, whole, even across a crash."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(
    path: str, data: bytes, mode: int = 0o644, before_replace: Optional[Callable[[str], None]] = None
) -> None:
    """Write a file through a temp file in the same folder, fsync and `os.replace`: old or new, never torn.

    `before_replace` gets the complete temp file's path just before the replace: a caller can re-check the
    target there (compare-and-swap) or fix the owner, and raise to abort (the temp file is removed either way).
    """
    directory = os.path.dirname(path) or "."
    # `.<name>.<pid>-<random>.tmp`: the writer's PID tells a later run whether a leftover is stale.
    prefix = f".{os.path.basename(path)}.{os.getpid()}-"
    fd, temp_path = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_path, mode)
        if before_replace is not None:
            before_replace(temp_path)
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX only; Windows has no directory handles for this)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ReadRefused(Exception):
    """The path is not something we read: a link, a folder, a device, or too large."""


def read_regular_file(path: str, limit: int) -> bytes:
    """Read at most `limit` bytes of a regular file, refusing symlinks and anything that is not a file.

    `O_NOFOLLOW` closes the window between a check and the open where the platform has it; elsewhere the
    `lstat` check still refuses links that were there when we looked.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ReadRefused("is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise ReadRefused("is not a regular file")
    if info.st_size > limit:
        raise ReadRefused(f"is too large ({info.st_size} bytes, the limit is {limit})")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReadRefused("is not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ReadRefused(f"is too large (over {limit} bytes)")
    return data
