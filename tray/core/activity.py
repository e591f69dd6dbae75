"""What each session is doing: working, waiting for the user, or needing an answer (a permission prompt).

Kept beside the registry, in `<registry>/.activity/<session id>`, not in the entry itself, because it changes
twice per turn (prompt, answer): rewriting the shared entry that often would race with other tools that
read-modify-write entries without our lock, and would cost the prompt hook a JSON encoder. The file is a few
lines of plain text, replaced atomically, written only by the session's own hooks; a torn or foreign file is
ignored (activity is a hint, never a reason to change the registry).

Format: `orchestray-activity 1`, state, since (epoch seconds), detail, first line of the last prompt (at most
PROMPT_LIMIT characters: the prompt's text is the user's and stays short here), and the session's transcript
path (so the tray can tell a turn that ended without a hook; see `tray/core/turns.py`). The last line may be
absent (files written before it existed). The file lives as long as its entry: `SessionEnd`, `deregister`,
`clean` and the tray's clean up remove it.

The file holds prompt text, so `.activity` is checked to be our own user-only folder (`fsutil.private_dir`) and
used through its descriptor: a symlink planted there is refused with one warning, never written through.
"""

from __future__ import annotations

import os
import time

from tray.core.fsutil import (
    NotOurs,
    ReadRefused,
    atomic_write_bytes,
    private_dir,
    read_regular,
    unlink_quietly,
    warn_once,
)
from tray.core.private import ensure_private_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the prompt hook imports this module)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple

    from tray.core.readcache import ReadCache

ACTIVITY_DIR = ".activity"
MAGIC = "orchestray-activity 1"
WORKING = "working"
WAITING = "waiting"  # the answer is done; the session waits for the user's next prompt
ATTENTION = "attention"  # the session asked for something (a permission) and is blocked on the user
STATES = (WORKING, WAITING, ATTENTION)
PROMPT_LIMIT = 80
MAX_FILE_BYTES = 4096
LATEST_SINCE = 253402300799.0  # 9999-12-31T23:59:59Z: a later (or negative) time cannot be formatted


class Activity(tuple[object, ...]):  # a builtin generic: no `typing` import at run time
    """(state, since, detail, prompt, transcript) as a plain tuple subclass: no `typing`/`collections` import."""

    __slots__ = ()

    def __new__(cls, state: str, since: float, detail: str = "", prompt: str = "", transcript: str = "") -> Activity:
        return tuple.__new__(cls, (state, since, detail, prompt, transcript))

    state = property(lambda self: self[0])
    since = property(lambda self: self[1])
    detail = property(lambda self: self[2])
    prompt = property(lambda self: self[3])
    transcript = property(lambda self: self[4])  # Claude Code's transcript of the session, "" if unknown

    def moved_to(self, state: str, since: float, detail: str = "") -> Activity:
        """The same session's activity in another state (the prompt and transcript stay)."""
        return Activity(state, since, detail, self.prompt, self.transcript)

    def to_json(self) -> Dict[str, object]:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since))
        return {"activity": self.state, "activityAt": since, "activityDetail": self.detail, "lastPrompt": self.prompt}


def one_line(text: str, limit: int = PROMPT_LIMIT) -> str:
    """The first non-empty line, control characters removed, capped with an ellipsis."""
    for line in text.splitlines():
        line = "".join(ch if ch.isprintable() else " " for ch in line).strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def activity_dir(registry_dir: str) -> str:
    return os.path.join(registry_dir, ACTIVITY_DIR)


def write_activity(
    registry_dir: str, session_id: str, state: str, detail: str = "", prompt: Optional[str] = None,
    now: Optional[float] = None, transcript: Optional[str] = None,
) -> None:
    """Record the session's activity; `prompt=None` (`transcript=None`) keeps the one already recorded.

    `session_id` must already be validated: it names the file.
    """
    folder = activity_dir(registry_dir)
    try:
        fd = _open_folder(registry_dir, folder)
    except NotOurs as refused:
        warn_once(f"session activity not recorded: {refused}", key=str(refused))
        return
    try:
        name = session_id if fd is not None else os.path.join(folder, session_id)
        if prompt is None or not transcript:
            previous = read_activity_file(name, fd)
            if prompt is None:
                prompt = previous.prompt if previous is not None else ""
            if not transcript:
                transcript = previous.transcript if previous is not None else ""
        text = "\n".join((MAGIC, state, repr(time.time() if now is None else now), one_line(detail),
                          one_line(prompt), _path_line(transcript))) + "\n"
        # Not fsynced: activity is a hint, and the prompt hook must stay fast.
        atomic_write_bytes(name, text.encode("utf-8"), durable=False, dir_fd=fd)
    finally:
        if fd is not None:
            os.close(fd)


def _open_folder(registry_dir: str, folder: str) -> Optional[int]:
    """`.activity`, checked to be ours (created user-only, with the registry if it is missing)."""
    try:
        return private_dir(folder)
    except FileNotFoundError:
        ensure_private_dir(registry_dir)  # the prompt hook may be the first to touch the registry
        return private_dir(folder)


def read_activity_file(path: str, dir_fd: Optional[int] = None) -> Optional[Activity]:
    """One activity file, or None when there is none or it is not ours to read.

    Through the non-blocking reader: a FIFO (or a device) put there must not block the reader forever; a link
    is not followed; a file larger than ours can be is someone else's: ignored, not read in part.
    """
    return _read_one(path, dir_fd)[0]


def _read_one(path: str, dir_fd: Optional[int]) -> Tuple[Optional[Activity], Optional[os.stat_result]]:
    """`read_activity_file`, and the `fstat` of the regular file read (None when nothing was read)."""
    try:
        raw, info = read_regular(path, MAX_FILE_BYTES, dir_fd=dir_fd)
    except (OSError, ReadRefused):
        return None, None
    return _parse(raw), info


def _parse(raw: bytes) -> Optional[Activity]:
    lines = raw.decode("utf-8", "replace").split("\n")
    if len(lines) < 5 or lines[0] != MAGIC or lines[1] not in STATES:
        return None
    try:
        since = float(lines[2])
    except ValueError:
        return None
    if not 0 <= since <= LATEST_SINCE:  # NaN, infinite, or out of range for time.gmtime and the ages shown
        return None
    transcript = lines[5] if len(lines) > 5 else ""  # absent in files written before it was recorded
    return Activity(lines[1], since, lines[3], lines[4], transcript)


def read_all(registry_dir: str, cache: Optional[ReadCache] = None,
             changed: Optional[Set[str]] = None) -> Dict[str, Activity]:
    """Every session's recorded activity, by session id; unreadable files are skipped. With a `cache` (the
    tray's), a file unchanged since it was last read is not read again; with `changed` too (the names the change
    watcher logged in the folder since the cache's last look), the folder is not listed and only those files
    are checked (`Registry.scan` does the same for entries)."""
    folder = activity_dir(registry_dir)
    try:
        fd = private_dir(folder, create=False)
    except NotOurs as refused:
        warn_once(f"session activity not shown: {refused}", key=str(refused))
        return {}
    except OSError:
        return {}
    try:
        def list_all() -> List[str]:
            return [name for name in os.listdir(fd if fd is not None else folder) if not name.endswith(".tmp")]

        def present(name: str) -> bool:
            return not name.endswith(".tmp") and _present(name, fd, folder)

        names = list_all() if cache is None else cache.listing(changed, list_all, present)
        found = {}
        for name in names:
            path = name if fd is not None else os.path.join(folder, name)
            if cache is None:
                activity = read_activity_file(path, fd)
            else:
                hit, activity = cache.lookup(name, path, fd, changed)
                if not hit:
                    read_at = time.time()
                    activity, info = _read_one(path, fd)
                    cache.put(name, info, activity, read_at)
            if activity is not None:
                found[name] = activity
        return found
    except OSError:
        return {}
    finally:
        if fd is not None:
            os.close(fd)


def _present(name: str, fd: Optional[int], folder: str) -> bool:
    """Is there something named `name` in the activity folder now (one not to be looked at counts: the reader
    says why)?"""
    try:
        os.stat(name if fd is not None else os.path.join(folder, name), dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _path_line(path: str) -> str:
    """A path kept on one line, or "" (a path with a line break, or absurdly long, is not recorded)."""
    return path if path and len(path) <= 1024 and "\n" not in path and "\r" not in path else ""


def remove_activity(registry_dir: str, session_id: str) -> None:
    """Remove a session's activity file (its entry is gone or replaced: the file holds the user's last prompt);
    a folder that is not ours is left alone (and said once)."""
    folder = activity_dir(registry_dir)
    try:
        fd = private_dir(folder, create=False)
    except NotOurs as refused:
        warn_once(f"session activity not removed: {refused}", key=str(refused))
        return
    except OSError:
        return
    try:
        unlink_quietly(session_id if fd is not None else os.path.join(folder, session_id), fd)
    finally:
        if fd is not None:
            os.close(fd)
