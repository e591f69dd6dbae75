"""What a folder's files parsed to, kept between the tray's looks so a wake re-reads only the files that changed.

At 1,000 live sessions the tray's look after a registry write was spent mostly reading and parsing the 999
entries that had not changed. Here each parsed result is kept with the identity of the file it came from
(device, inode, size, mode, mtime and ctime in nanoseconds) and served again only while one `lstat` still
shows that identity: an atomic replace gives the name a new inode, an in-place edit a new size or time, a
removal no file at all, a link or a FIFO put in its place another mode. The read itself stays with the one safe
reader (`fsutil.read_regular`): this module only says whether a read is needed and remembers its result.

One weakness of any stat-keyed cache: a file rewritten in place twice within one tick of the file system's clock
keeps its size and times. A result is therefore trusted only once its file's times were already RACY_SECONDS in
the past when it was read (git's "racily clean" rule); a younger one is read again at the next look. Only what a
caller read successfully from a regular file is kept; refusals (a FIFO, a link, a file too large, one that
vanished) are not, and are asked again each time (cheap: the safe reader refuses after one `stat`).

With a change watcher that names the files that changed (inotify, ReadDirectoryChangesW), the tray need not
even `lstat` the others: `names` keeps the folder's listing of the last look, and `trusted` serves a kept
result without asking the file system, for a file the watcher did not name. The watcher's log is taken before
the look reads, so a change made meanwhile is named at the next look; anything that hides a change (dropped
events, a folder watched only from now on) makes the tray list and check the whole folder again.

Hand-written and `os`-only: the prompt hook imports `tray.core.activity`, which uses this, on every prompt.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the prompt hook imports this module)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

#: A file whose mtime or ctime is this close to the moment it was read may still change without changing them.
RACY_SECONDS = 1.0


def identity(info: os.stat_result) -> Tuple[int, ...]:
    """What changes whenever a file's content may have changed (see the module docstring)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mode, info.st_mtime_ns, info.st_ctime_ns)


class ReadCache:
    """Parsed results by file name, each valid while its file keeps the identity it had when it was read."""

    def __init__(self, racy_seconds: float = RACY_SECONDS) -> None:
        self.racy_seconds = racy_seconds
        self._kept: Dict[str, Tuple[Tuple[int, ...], Any]] = {}
        self.hits = 0  # for tests and the log: how many reads were saved
        self.reads = 0
        self.names: Optional[List[str]] = None  # the folder's listing at the last look (None: never listed)

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, name: str, path: str, dir_fd: Optional[int] = None) -> Tuple[bool, Any]:
        """(True, the kept result) when `path` is still the file it was read from; (False, None) otherwise."""
        kept = self._kept.get(name)
        if kept is None:
            return False, None
        try:
            info = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            del self._kept[name]
            return False, None
        if identity(info) != kept[0]:
            del self._kept[name]
            return False, None
        self.hits += 1
        return True, kept[1]

    def trusted(self, name: str) -> Tuple[bool, Any]:
        """(True, the kept result) without asking the file system: for a file the change watcher did not name
        since the look that kept it (the caller knows that); (False, None) when nothing is kept."""
        kept = self._kept.get(name)
        if kept is None:
            return False, None
        self.hits += 1
        return True, kept[1]

    def put(self, name: str, info: Optional[os.stat_result], result: Any, read_at: float) -> None:
        """Keep `result`, read from a file whose `fstat` was `info`, when a later look can trust it.

        `read_at` is the wall-clock time taken just before the read began."""
        self.reads += 1
        if info is None:
            self._kept.pop(name, None)
            return
        young = max(info.st_mtime_ns, info.st_ctime_ns) / 1e9 > read_at - self.racy_seconds
        if young:
            self._kept.pop(name, None)
        else:
            self._kept[name] = (identity(info), result)

    def listing(self, changed: Optional[Set[str]], list_all: Callable[[], List[str]],
                present: Callable[[str], bool]) -> List[str]:
        """The folder's names for this look, with files no longer among them forgotten. Listed (`list_all`) at the
        first look and whenever the change watcher cannot say what changed (`changed` None); otherwise the last
        look's listing with each name the watcher logged added or dropped as `present` says (a name the folder's
        reader would not list, such as a temporary file, is not `present`), and nothing else asked."""
        if changed is None or self.names is None:
            names = list_all()
            self.keep_only(names)
        else:
            names = self.names
            if changed:
                found = set(names)
                for name in changed:
                    if os.sep not in name and present(name):
                        found.add(name)
                    else:
                        found.discard(name)
                names = sorted(found)
            self.keep_only_after(changed, names)
        self.names = names
        return names

    def lookup(self, name: str, path: str, dir_fd: Optional[int], changed: Optional[Set[str]]) -> Tuple[bool, Any]:
        """`trusted` for a file the change watcher did not name since the last look (`changed`), else `get`."""
        if changed is not None and name not in changed:
            return self.trusted(name)
        return self.get(name, path, dir_fd)

    def keep_only_after(self, changed: Iterable[str], names: List[str]) -> None:
        """`keep_only(names)` when only the `changed` names may have left the folder (cheaper: no full pass)."""
        for name in changed:
            if name in self._kept and name not in names:
                del self._kept[name]

    def keep_only(self, names: Iterable[str]) -> None:
        """Forget every file not in `names` (those no longer in the folder): the cache never outgrows it."""
        wanted = set(names)
        for name in [name for name in self._kept if name not in wanted]:
            del self._kept[name]
