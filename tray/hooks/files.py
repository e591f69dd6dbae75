"""Reading and writing the files the hooks installer owns a part of (``settings.json``, ``registry.py``).

* **Never blocks, never reads what is not a file.** A symlinked ``settings.json`` is followed to its target
  (dotfiles), and that target is read with ``fsutil.read_regular_file``: opened non-blocking, checked to be a
  regular file, size-capped. A FIFO, a device or a folder there is refused with one line.
* **A read-only file is refused, never replaced** (``os.replace`` over a read-only file succeeds on POSIX
  when the folder is writable, which would silently override the user's choice).
* **Compare-and-swap writes** through the one atomic writer, ``fsutil.atomic_write_bytes``: just before its
  replace, the target is read again, and if it changed since we read it (Claude Code wrote it), nothing is
  replaced and :class:`Conflict` is raised; the caller redoes its change from the new content.
* **Leftovers of a killed run are removed**: temp files of our writer beside the target whose writer is gone.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from tray.core import fsutil
from tray.hooks.jsonfile import SettingsError, Style, parse_settings

MAX_SETTINGS_BYTES = 16 * 1024 * 1024
NEW_FILE_MODE = 0o600
#: Temp files of an earlier settings writer (``tempfile.mkstemp`` names); removed like fsutil's own.
_OLD_TEMP_SUFFIX = ".orchestray-tmp"
#: A temp file whose writer we cannot identify is left alone until it is this old (seconds).
STALE_TEMP_SECONDS = 600.0


class Conflict(Exception):
    """The file changed under us between the read and the replace."""


def resolve(path: str) -> Tuple[str, str]:
    """(the path as given, made absolute; the file actually read and written, symlinks resolved)."""
    path = os.path.abspath(os.path.expanduser(path))
    return path, os.path.realpath(path)


def read_target(path: str, target: str) -> Optional[bytes]:
    """The bytes of ``target`` (named ``path`` in messages), None when there is no file; SettingsError else."""
    try:
        return fsutil.read_regular_file(target, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return None
    except fsutil.ReadRefused as refused:
        if os.path.isdir(target):
            raise SettingsError(f"{path}: is a folder, not a file", path) from None
        reason = str(refused)
        if "regular file" in reason:
            reason = "is not a regular file (a FIFO or a device?); not reading it"
        elif "large" in reason:
            reason = f"too large for a settings file (over {MAX_SETTINGS_BYTES} bytes)"
        raise SettingsError(f"{path}: {reason}", path) from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}", path) from None


def check_writable(path: str, target: str) -> None:
    """Refuse a file the user made read-only (``chmod a-w``) instead of replacing it."""
    try:
        info = os.stat(target)
    except OSError:
        return
    if not info.st_mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise SettingsError(
            f"{path}: is read-only; not changing it (make it writable, e.g. chmod u+w, and run the command again)",
            path,
        )


def file_mode(target: str, default: int = NEW_FILE_MODE) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return default


def write_checked(path: str, target: str, raw: bytes, expected: Optional[bytes], mode: int) -> None:
    """Replace ``target`` with ``raw`` if it still holds ``expected`` (None: still absent), else :class:`Conflict`.

    Keeps the owner when root edits someone else's settings (sudo). Raises SettingsError for an OSError.
    """
    directory = os.path.dirname(target)

    def still_ours(temp: str) -> None:
        if read_target(path, target) != expected:
            raise Conflict()
        _keep_owner(target, temp)

    try:
        os.makedirs(directory, exist_ok=True)
        fsutil.atomic_write_bytes(target, raw, mode, before_replace=still_ours)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot write: {exc.strerror or exc}", path) from None


def _keep_owner(target: str, temp: str) -> None:
    if os.name != "posix" or os.geteuid() != 0:
        return
    try:
        info = os.stat(target)
        os.chown(temp, info.st_uid, info.st_gid)
    except OSError:
        pass


def _writer_gone(pid: int) -> bool:
    try:
        import psutil
    except ImportError:
        return False
    return not psutil.pid_exists(pid)


def remove_stale_temps(target: str, now: Optional[float] = None) -> int:
    """Remove temp files a killed writer left beside ``target``; returns how many were removed.

    fsutil's temp files are named ``.<name>.<pid>-<random>.tmp`` (the writer's PID: gone means stale); earlier
    writers used ``.<name>.<8 random>.tmp`` and ``.<name>.<8 random>.orchestray-tmp`` (stale once
    STALE_TEMP_SECONDS old: a write takes milliseconds).
    """
    import time

    directory, name = os.path.split(target)
    stem = re.escape("." + name[:200] + ".")
    # `.<name>.<pid>-<hex>.tmp`, the name shortened by fsutil.temp_name when it is long: checked below.
    with_pid = re.compile(r"\.(.+)\.(\d+)-[a-z0-9_]{8}" + re.escape(fsutil.TEMP_SUFFIX) + "$", re.DOTALL)
    suffixes = "|".join(re.escape(suffix) for suffix in (fsutil.TEMP_SUFFIX, _OLD_TEMP_SUFFIX))
    random_name = re.compile(stem + r"[a-z0-9_]{8}(?:" + suffixes + ")$")
    now = time.time() if now is None else now
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for candidate in names:
        match = with_pid.match(candidate)
        if match is not None and match.group(1) != fsutil.fit_name(name, len(candidate) - len(match.group(1))):
            match = None  # another file's temp (`.<name>.x.<pid>-...`): not ours to remove
        if match is None and random_name.match(candidate) is None:
            continue
        full = os.path.join(directory, candidate)
        try:
            info = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        gone = match is not None and int(match.group(2)) != os.getpid() and _writer_gone(int(match.group(2)))
        if (gone or now - info.st_mtime > STALE_TEMP_SECONDS) and fsutil.unlink_quietly(full):
            removed += 1
    return removed


@dataclass
class Loaded:
    path: str  # as given (absolute); may be a symlink
    target: str  # the file actually read and written
    exists: bool
    raw: bytes
    data: Dict[str, Any]
    style: Style
    mode: int


def settings_file(settings_path: Optional[str]) -> str:
    if settings_path is None:
        from tray.core.paths import settings_path as default_settings_path

        return default_settings_path()
    return settings_path


def load(settings_path: Optional[str]) -> Loaded:
    path, target = resolve(settings_file(settings_path))
    raw = read_target(path, target)
    if raw is None:
        return Loaded(path, target, False, b"", {}, Style(), NEW_FILE_MODE)
    data, style = parse_settings(raw, path)
    return Loaded(path, target, True, raw, data, style, file_mode(target))
