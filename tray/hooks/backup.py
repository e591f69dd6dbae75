"""Backups of ``settings.json`` written before each change: ``<name>.orchestray-backup-<UTC stamp>[-n]``.

They sit beside the path as given (not beside a symlink's target, often a dotfiles repository), hold the exact
bytes that were read, keep the file's mode, and only the few most recent are kept.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import List

from tray.core.fsutil import fit_name, fsync_directory
from tray.core.fsutil import unlink_quietly as fsutil_unlink_quietly
from tray.hooks.jsonfile import SettingsError

BACKUP_INFIX = ".orchestray-backup-"
BACKUPS_KEPT = 5
# What a backup adds to the file's name: the infix, a 22-character stamp and at most "-999".
_BACKUP_ROOM = len(BACKUP_INFIX) + 22 + 4


def _stem(base: str) -> str:
    """The file's name as its backups start: shortened for a long name, so a backup's name fits (255 bytes)."""
    return fit_name(base, _BACKUP_ROOM)


def _pattern(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(_stem(base) + BACKUP_INFIX) + r"(\d{8}T\d{12}Z)(?:-(\d+))?$")


def list_backups(path: str) -> List[str]:
    """Orchestray's backups of ``path`` (absolute, as given), oldest first."""
    directory, base = os.path.split(path)
    pattern = _pattern(base)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            found.append(((match.group(1), int(match.group(2) or 0)), os.path.join(directory, name)))
    return [full for _, full in sorted(found)]


def unlink_quietly(path: str) -> None:
    fsutil_unlink_quietly(path)  # retried on Windows while another process has the file open


def write_backup(path: str, raw: bytes, mode: int) -> str:
    """Write ``raw`` (the bytes read from ``path``) to a new backup beside ``path``; returns its path."""
    directory, base = os.path.split(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for attempt in range(1000):
        backup = os.path.join(directory, f"{_stem(base)}{BACKUP_INFIX}{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            fd = os.open(backup, flags, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SettingsError(f"{path}: cannot write a backup: {exc.strerror or exc}", path) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(backup, mode)
        except BaseException:
            unlink_quietly(backup)
            raise
        fsync_directory(directory)
        prune_backups(path)
        return backup
    raise SettingsError(f"{path}: cannot find a free backup name", path)


def prune_backups(path: str) -> None:
    for old in list_backups(path)[:-BACKUPS_KEPT]:
        unlink_quietly(old)
