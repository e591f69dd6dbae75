"""The registry folder: scanning, reading, writing and removing entries.

Reads need no lock (writes are atomic renames); every read-modify-write goes through `Registry.lock()`.
Reading never fails a command: whatever a file holds (a FIFO, a 4,301-digit number, nesting a parser cannot
follow), it is one `Unreadable` record. The folder is created user-only and entries are written 0600.
"""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Iterator, List, Optional, Set, Tuple

from tray.core.entry import Entry, Record, Unreadable, check_session_id, entry_from_json
from tray.core.fsutil import (
    ReadRefused,
    atomic_write_json,
    loose_mode_warning,
    read_regular,
    unlink,
    warn_once,
)
from tray.core.lock import RegistryLock
from tray.core.private import PRIVATE_FILE, ensure_private_dir
from tray.core.readcache import ReadCache

MAX_ENTRY_BYTES = 64 * 1024
SUFFIX = ".json"


class Registry:
    """One registry folder (`~/.claude/active` by default)."""

    def __init__(self, directory: str, lock_timeout: float = 10.0) -> None:
        self.directory = directory
        self._lock = RegistryLock(directory, lock_timeout)

    def ensure(self) -> None:
        """Create the folder user-only if it is missing (an existing one keeps its modes: see `check_modes`)."""
        ensure_private_dir(self.directory)

    def check_modes(self) -> None:
        """Warn once per process when other users can reach into the registry (the log, and stderr for the CLI)."""
        warning = loose_mode_warning(self.directory)
        if warning:
            warn_once(warning)

    def lock(self) -> RegistryLock:
        """The inter-process lock; creates the folder first so the lock file has somewhere to live."""
        self.ensure()
        return self._lock

    def path_for(self, session_id: str) -> str:
        return os.path.join(self.directory, check_session_id(session_id) + SUFFIX)

    def file_names(self) -> List[str]:
        """Names of the entry files: `*.json`, minus our own temporaries and hidden helper files."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(name for name in names if name.endswith(SUFFIX) and not name.startswith("."))

    def scan(self, cache: Optional[ReadCache] = None, changed: Optional[Set[str]] = None) -> List[Record]:
        """Every entry file, parsed or reported as unreadable, in file-name order.

        With a `cache` (the tray's, kept between its looks), a file whose identity has not changed since it was
        last parsed is not read again. With `changed` too (the names the change watcher logged in this folder
        since the cache's last look), the folder is not listed and the files not named are not even checked:
        only those are. Read-modify-write paths never pass either: under the lock they read afresh.
        """
        if cache is None:
            return [self.read_file(name) for name in self.file_names()]
        names = cache.listing(changed, self.file_names, self._present)
        records = []
        for name in names:
            hit, record = cache.lookup(name, os.path.join(self.directory, name), None, changed)
            if not hit:
                read_at = time.time()
                record, info = self._read(name)
                cache.put(name, info, record, read_at)
            records.append(record)
        return records

    def _present(self, name: str) -> bool:
        """Is `name` an entry file's name that the folder has now (what `file_names` would list)?"""
        wanted = name.endswith(SUFFIX) and not name.startswith(".")
        return wanted and os.path.lexists(os.path.join(self.directory, name))

    def __iter__(self) -> Iterator[Record]:
        return iter(self.scan())

    def read_file(self, name: str) -> Record:
        return self._read(name)[0]

    def _read(self, name: str) -> Tuple[Record, Optional[os.stat_result]]:
        """The record of one file, and the `fstat` of the regular file it came from (None when none was read)."""
        path = os.path.join(self.directory, name)
        stem = name[: -len(SUFFIX)]
        try:
            raw, info = read_regular(path, MAX_ENTRY_BYTES)
        except ReadRefused as refused:
            return Unreadable(stem, path, f"file {refused}", _mtime(path)), None
        except OSError as error:
            if error.errno == errno.ENOENT:
                return Unreadable(stem, path, "file vanished while being read", 0.0), None
            return Unreadable(stem, path, f"cannot read file: {error.strerror or error}", _mtime(path)), None
        return self._parse(stem, path, raw, info.st_mtime), info

    def _parse(self, stem: str, path: str, raw: bytes, mtime: float) -> Record:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return Unreadable(stem, path, f"not UTF-8 text (byte {error.start})", mtime)
        if not text.strip():
            return Unreadable(stem, path, "empty file", mtime)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            return Unreadable(stem, path, f"invalid JSON at line {error.lineno} column {error.colno}", mtime)
        except RecursionError:
            return Unreadable(stem, path, "invalid JSON: nested too deeply", mtime)
        except (ValueError, MemoryError) as error:  # e.g. an integer of more than 4,300 digits
            reason = "a number too long to read (over 4,300 digits)" if "digits" in str(error) else _first_line(error)
            return Unreadable(stem, path, f"invalid JSON: {reason}", mtime)
        try:
            result = entry_from_json(data, stem, path)
        except Exception as error:  # noqa: BLE001 - whatever the content, one unreadable entry, not a failed command
            return Unreadable(stem, path, f"cannot use the content: {_first_line(error)}", mtime)
        if isinstance(result, str):
            return Unreadable(stem, path, result, mtime)
        return result.replace(mtime=mtime)

    def get(self, session_id: str) -> Optional[Record]:
        """The record of one session, or None when it has no file."""
        name = check_session_id(session_id) + SUFFIX
        if not os.path.lexists(os.path.join(self.directory, name)):
            return None
        return self.read_file(name)

    def write(self, entry: Entry) -> Entry:
        """Atomically (re)write an entry. Callers hold the lock."""
        self.ensure()
        path = self.path_for(entry.session_id)
        atomic_write_json(path, entry.to_json(), PRIVATE_FILE)
        return entry.replace(path=path)

    def remove(self, session_id: str) -> bool:
        """Remove an entry's file; True if it was there. Callers hold the lock and have checked liveness."""
        try:
            unlink(self.path_for(session_id))
            return True
        except FileNotFoundError:
            return False


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _first_line(error: BaseException, limit: int = 120) -> str:
    text = (str(error).splitlines() or [type(error).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."
