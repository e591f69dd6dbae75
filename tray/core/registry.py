"""The registry folder: scanning, reading, writing and removing entries.

Reads need no lock (writes are atomic renames); every read-modify-write goes through `Registry.lock()`.
"""

from __future__ import annotations

import errno
import json
import os
from typing import Iterator, List, Optional

from tray.core.entry import Entry, Record, Unreadable, check_session_id, entry_from_json
from tray.core.fsutil import ReadRefused, atomic_write_json, read_regular_file
from tray.core.lock import RegistryLock

MAX_ENTRY_BYTES = 64 * 1024
SUFFIX = ".json"


class Registry:
    """One registry folder (`~/.claude/active` by default)."""

    def __init__(self, directory: str, lock_timeout: float = 10.0) -> None:
        self.directory = directory
        self._lock = RegistryLock(directory, lock_timeout)

    def ensure(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

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

    def scan(self) -> List[Record]:
        """Every entry file, parsed or reported as unreadable, in file-name order."""
        return [self.read_file(name) for name in self.file_names()]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.scan())

    def read_file(self, name: str) -> Record:
        path = os.path.join(self.directory, name)
        stem = name[: -len(SUFFIX)]
        try:
            raw = read_regular_file(path, MAX_ENTRY_BYTES)
        except ReadRefused as refused:
            return Unreadable(stem, path, f"file {refused}", _mtime(path))
        except OSError as error:
            if error.errno == errno.ENOENT:
                return Unreadable(stem, path, "file vanished while being read", 0.0)
            return Unreadable(stem, path, f"cannot read file: {error.strerror or error}", _mtime(path))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return Unreadable(stem, path, f"not UTF-8 text (byte {error.start})", _mtime(path))
        if not text.strip():
            return Unreadable(stem, path, "empty file", _mtime(path))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            return Unreadable(stem, path, f"invalid JSON at line {error.lineno} column {error.colno}", _mtime(path))
        except RecursionError:
            return Unreadable(stem, path, "invalid JSON: nested too deeply", _mtime(path))
        result = entry_from_json(data, stem, path)
        if isinstance(result, str):
            return Unreadable(stem, path, result, _mtime(path))
        return result

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
        atomic_write_json(path, entry.to_json())
        return entry.replace(path=path)

    def remove(self, session_id: str) -> bool:
        """Remove an entry's file; True if it was there. Callers hold the lock and have checked liveness."""
        try:
            os.unlink(self.path_for(session_id))
            return True
        except FileNotFoundError:
            return False


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0
