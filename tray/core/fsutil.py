"""The one place that touches files for the registry, the hooks and the tray: atomic writes, safe reads.

Every write goes through `atomic_write_bytes` (temp file in the same folder, fsync, `os.replace`): a reader sees
the old file or the new one, whole, even across a crash. Every read goes through `read_regular_file`: opened
with `O_NONBLOCK` and checked with `fstat` to be a regular file before a byte is read, with a size cap, so a FIFO
or a device planted where we expect a file can never make a command, the tray or a hook wait forever. Our
helper folders inside the registry (`.activity`, `.quarantine`) are opened with `private_dir`, which refuses a
symlink or a folder of another user instead of following it.

On Windows, `os.replace` and `os.unlink` fail with a sharing violation while another process has the file open
(the tray reads every entry at every poll; antivirus opens new files): `replace` and `unlink` here retry that
with a short bounded backoff. Elsewhere they are the plain calls.

Hand-written with `os` only, no `tempfile`, `json` or `logging` at import: the prompt hook imports this module on
every Claude Code prompt, and those imports alone would cost it milliseconds.
"""

from __future__ import annotations

import os
import stat
import time

from tray.core.private import PRIVATE_DIR, PRIVATE_FILE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the prompt hook imports this module)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Tuple

TEMP_SUFFIX = ".tmp"
NAME_MAX = 255  # bytes in one file name on every file system we run on (ext4, APFS, NTFS counts UTF-16 units)
WINDOWS = os.name == "nt"
# Waits between attempts of a Windows replace/unlink that met a sharing violation: about 1.5 s in all, enough
# for a reader's open-read-close or an antivirus scan, short enough for a hook.
RETRY_DELAYS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.4, 0.5)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: without it "\n" is written as "\r\n"
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# dir_fd calls (open/replace/unlink relative to an open folder) close the gap between checking a folder and
# using it; Windows has no such calls, and there the checks by path stand alone.
DIR_FD = _DIRECTORY != 0 and os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


class ReadRefused(Exception):
    """The path is not something we read: a link, a folder, a FIFO, a device, or too large."""


class NotOurs(Exception):
    """A helper path inside the registry is a symlink, not a folder/file, or another user's: we will not use it."""


# --- Windows-retrying replace and unlink ----------------------------------------------------------------


def _retrying(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `operation`; on Windows, retry a `PermissionError` (a sharing violation) after each RETRY_DELAYS wait."""
    for delay in RETRY_DELAYS if WINDOWS else ():
        try:
            return operation(*args, **kwargs)
        except PermissionError:
            time.sleep(delay)
    return operation(*args, **kwargs)


def replace(source: str, target: str, src_dir_fd: Optional[int] = None, dst_dir_fd: Optional[int] = None) -> None:
    """`os.replace`, retried while another process holds the file open on Windows."""
    if src_dir_fd is None and dst_dir_fd is None:
        _retrying(os.replace, source, target)
    else:
        _retrying(os.replace, source, target, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def unlink(path: str, dir_fd: Optional[int] = None) -> None:
    """`os.unlink`, retried while another process holds the file open on Windows."""
    if dir_fd is None:
        _retrying(os.unlink, path)
    else:
        _retrying(os.unlink, path, dir_fd=dir_fd)


def unlink_quietly(path: str, dir_fd: Optional[int] = None) -> bool:
    """`unlink`, True if the file was removed; False when it was gone already or could not be removed."""
    try:
        unlink(path, dir_fd)
        return True
    except OSError:
        return False


# --- the one atomic writer -------------------------------------------------------------------------------


def fit_name(name: str, room: int = 0) -> str:
    """`name` shortened so that it plus `room` more bytes fits in one file name (NAME_MAX bytes).

    Cut at a character boundary: a UTF-8 character is never split (a name that is not UTF-8 is cut by bytes).
    """
    encoded = os.fsencode(name)
    budget = max(NAME_MAX - room, 1)
    if len(encoded) <= budget:
        return name
    cut = encoded[:budget]
    for back in range(1, min(4, len(cut)) + 1):  # a multi-byte character cut in half loses its start too
        byte = cut[-back]
        if byte & 0xC0 == 0xC0:  # the lead byte of the last character
            if back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
                cut = cut[:-back]
            break
        if byte & 0xC0 != 0x80:  # an ASCII byte: nothing was split
            break
    return os.fsdecode(cut)


def temp_name(name: str) -> str:
    """A fresh temp file name beside `name`: `.<name>.<pid>-<random>.tmp`, within the file-name limit."""
    tail = f".{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}"
    return "." + fit_name(name, 1 + len(tail)) + tail


def atomic_write_json(path: str, data: Any, mode: int = PRIVATE_FILE) -> None:
    """Write JSON so that readers see either the old file or the new one, whole, even across a crash."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(
    path: str,
    data: bytes,
    mode: int = PRIVATE_FILE,
    durable: bool = True,
    dir_fd: Optional[int] = None,
    before_replace: Optional[Callable[[str], None]] = None,
) -> None:
    """Write a file through a temp file in the same folder, then `replace`: old or new, never torn.

    `mode` is set exactly (user-only by default). `durable` fsyncs the file and the folder (a hint like activity
    can skip it). With `dir_fd`, `path` is a name inside that open folder (see `private_dir`). `before_replace`
    gets the temp file's path (relative to `dir_fd` if given) once it is complete, just before the replace: a
    caller can re-check the target there (compare-and-swap) or fix the owner, and raise to abort (the temp file
    is removed either way).
    """
    directory, name = os.path.split(path)
    temp = os.path.join(directory, temp_name(name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
    while True:
        try:
            fd = os.open(temp, flags, PRIVATE_FILE, dir_fd=dir_fd)
            break
        except FileExistsError:  # another writer's temp file with our random name: pick another
            temp = os.path.join(directory, temp_name(name))
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        if not hasattr(os, "fchmod"):
            os.chmod(temp, mode)
        if before_replace is not None:
            before_replace(temp)
        replace(temp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        unlink_quietly(temp, dir_fd)
        raise
    if durable:
        if dir_fd is not None:
            _fsync_quietly(dir_fd)
        else:
            fsync_directory(directory or ".")


def fsync_directory(directory: str) -> None:
    """Make a rename itself durable (POSIX only; Windows has no directory handles for this)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        _fsync_quietly(fd)
    finally:
        os.close(fd)


def _fsync_quietly(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass


# --- folders ----------------------------------------------------------------------------------------------


def private_dir(path: str, create: bool = True) -> Optional[int]:
    """Check (creating it if asked) one of our helper folders; return an fd for dir_fd calls where there are any.

    Raises `NotOurs` for a symlink, a non-folder or (POSIX) a folder owned by another user, and
    FileNotFoundError when it is missing and `create` is False. Returns None where dir_fd calls do not exist
    (Windows): the caller then uses paths, after this check.
    """
    if create:
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            pass
    info = os.lstat(path)
    _check_ours(path, info, want_dir=True)
    if not DIR_FD:
        return None
    fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _NONBLOCK)
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):  # swapped between the check and the open
        os.close(fd)
        raise NotOurs(f"{path} changed while being opened; not using it")
    return fd


def _check_ours(path: str, info: os.stat_result, want_dir: bool) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise NotOurs(f"{path} is a symbolic link, not Orchestray's; remove it (nothing was written through it)")
    if want_dir and not stat.S_ISDIR(info.st_mode):
        raise NotOurs(f"{path} is not a folder; move it away so Orchestray can use the name")
    if not want_dir and not stat.S_ISREG(info.st_mode):
        raise NotOurs(f"{path} is not a regular file; move it away so Orchestray can use the name")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise NotOurs(f"{path} belongs to another user (uid {info.st_uid}); not using it")


def open_private_file(path: str) -> int:
    """Open (creating user-only) one of our helper files, e.g. a lock, without following a symlink.

    Raises `NotOurs` when the name holds a symlink, a FIFO, a device or a folder: nothing is created elsewhere.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _BINARY, PRIVATE_FILE)
    except OSError as error:
        info = _lstat_or_none(path)
        if info is not None and (stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode)):
            _check_ours(path, info, want_dir=False)
        raise error
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        _check_ours(path, info, want_dir=False)
    return fd


def _lstat_or_none(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except OSError:
        return None


def loose_mode_warning(directory: str) -> Optional[str]:
    """One line when other users can reach into `directory` (POSIX), else None.

    "Reach" counts the way there: a 0755 folder inside a 0700 home is not open to anyone, so it is not
    reported. Only group/other bits that every folder on the way also grants (search permission) count.
    """
    if os.name != "posix":
        return None
    try:
        mode = stat.S_IMODE(os.stat(directory).st_mode)
    except OSError:
        return None
    exposed = mode & 0o077
    if not exposed:
        return None
    reach = 0o011  # group and other may search every folder on the way (checked below)
    current = os.path.dirname(os.path.abspath(directory))
    while reach:
        try:
            reach &= os.stat(current).st_mode
        except OSError:
            return None
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    who = []
    if exposed & 0o070 and reach & 0o010:
        who.append("its group")
    if exposed & 0o007 and reach & 0o001:
        who.append("other users")
    if not who:
        return None
    return (
        f"the registry {directory} is open to {' and '.join(who)} (mode {mode:04o}); "
        f"Orchestray keeps it user-only: chmod 700 {directory}"
    )


# --- warnings said once -----------------------------------------------------------------------------------

_warned: Dict[str, bool] = {}
_warning_sink: Optional[Callable[[str], None]] = None


def set_warning_sink(sink: Optional[Callable[[str], None]]) -> None:
    """Where `warn_once` also says its line (the command line: stderr); the log always gets it."""
    global _warning_sink
    _warning_sink = sink


def warn_once(message: str, key: Optional[str] = None) -> None:
    """Log `message` (and tell the sink) the first time this process meets it (or its `key`: one problem said
    in different words by different steps is said once); later calls are silent."""
    key = message if key is None else key
    if key in _warned:
        return
    _warned[key] = True
    try:
        from tray.core.log import get_logger

        get_logger("files").warning(message)
    except Exception:  # noqa: BLE001 - a warning must never break the caller (a hook)
        pass
    if _warning_sink is not None:
        _warning_sink(message)


# --- the one safe reader ----------------------------------------------------------------------------------


def read_regular_file(path: str, limit: int, follow: bool = False, dir_fd: Optional[int] = None) -> bytes:
    """Read at most `limit` bytes of a regular file: never blocks, never reads a FIFO, a device or a folder.

    Without `follow` a symlink is refused (`O_NOFOLLOW` closes the window between the check and the open where
    the platform has it; elsewhere the `lstat` check still refuses links that were there when we looked).
    `stat` first so that a FIFO or a device is never even opened; `O_NONBLOCK` and `fstat` on the open file
    for the one swapped in between. Raises `ReadRefused`, or OSError (FileNotFoundError when there is none).
    """
    return read_regular(path, limit, follow, dir_fd)[0]


def read_regular(
    path: str, limit: int, follow: bool = False, dir_fd: Optional[int] = None
) -> Tuple[bytes, os.stat_result]:
    """`read_regular_file`, and the `fstat` of the file that was read (its mtime, its mode)."""
    info = os.stat(path, dir_fd=dir_fd, follow_symlinks=follow)
    if stat.S_ISLNK(info.st_mode):
        raise ReadRefused("is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise ReadRefused("is not a regular file")
    if info.st_size > limit:
        raise ReadRefused(f"is too large ({info.st_size} bytes, the limit is {limit})")
    flags = os.O_RDONLY | _BINARY | _NONBLOCK | (0 if follow else _NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadRefused("is not a regular file")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise ReadRefused(f"is too large (over {limit} bytes)")
    return data, info
