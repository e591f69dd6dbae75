"""A registry entry: the protocol's five fields, validated, with unknown fields kept.

Parsing never raises for bad *content*: it returns an `Unreadable` record that says what is wrong, because a
registry full of files written by other tools must be shown, never silently dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Union

ROLE_ORCHESTRATOR = "orchestrator"
ROLE_WORKER = "worker"
ROLE_VACATING = "vacating"
ROLES = (ROLE_ORCHESTRATOR, ROLE_WORKER, ROLE_VACATING)

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SEED_FIELDS = ("pid", "startedAt", "sessionId", "cwd", "role")
MAX_CWD_LENGTH = 4096


class InvalidSessionId(ValueError):
    """A session id that could be used to escape the registry folder, or is otherwise malformed."""


def valid_session_id(session_id: object) -> bool:
    return isinstance(session_id, str) and SESSION_ID_RE.match(session_id) is not None and (
        "\n" not in session_id
    )


def check_session_id(session_id: object) -> str:
    """Return the id if it is safe to build a file name from, else raise `InvalidSessionId`."""
    if not valid_session_id(session_id):
        shown = repr(session_id)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise InvalidSessionId(
            f"invalid session id {shown}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return session_id  # type: ignore[return-value]


def utc_now_iso() -> str:
    """Now as the protocol writes it: ISO-8601 UTC with a `Z`, whole seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch for an ISO-8601 timestamp; naive times are taken as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class Entry:
    """One live (or once live) session's registration."""

    session_id: str
    pid: int
    started_at: str
    cwd: str
    role: str
    started_ts: float
    extra: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    path: str = field(default="", compare=False)
    mtime: float = field(default=0.0, compare=False)  # when the file was last written (0: not read from disk)

    def reference_ts(self, now: float) -> float:
        """The time by which the entry's process must have been running, for the PID-reuse check.

        `startedAt` as written, unless it lies in the future: then the file's own mtime (a session cannot have
        written its entry before it started). Trusting a future `startedAt` would count any process that ever
        reuses the PID as alive, forever.
        """
        if self.started_ts > now and self.mtime:
            return min(self.started_ts, self.mtime)
        return self.started_ts

    def to_json(self) -> Dict[str, Any]:
        """The file's content: the protocol's fields first, then every other field we found or added."""
        data: Dict[str, Any] = {
            "pid": self.pid,
            "startedAt": self.started_at,
            "sessionId": self.session_id,
            "cwd": self.cwd,
            "role": self.role,
        }
        for key, value in self.extra.items():
            if key not in data:
                data[key] = value
        return data

    def replace(self, **changes: Any) -> Entry:
        values: Dict[str, Any] = {
            "session_id": self.session_id,
            "pid": self.pid,
            "started_at": self.started_at,
            "cwd": self.cwd,
            "role": self.role,
            "started_ts": self.started_ts,
            "extra": dict(self.extra),
            "path": self.path,
            "mtime": self.mtime,
        }
        values.update(changes)
        if "started_at" in changes and "started_ts" not in changes:
            values["started_ts"] = parse_timestamp(values["started_at"])
        return Entry(**values)


@dataclass(frozen=True)
class Unreadable:
    """A registry file that could not be parsed or validated; shown to the user, never silently dropped."""

    session_id: str  # the file name's stem, whatever it is
    path: str
    error: str
    mtime: float = 0.0


Record = Union[Entry, Unreadable]


def new_entry(session_id: str, pid: int, cwd: str, role: str, started_at: Optional[str] = None) -> Entry:
    started = started_at or utc_now_iso()
    return Entry(
        session_id=check_session_id(session_id),
        pid=pid,
        started_at=started,
        cwd=cwd,
        role=role,
        started_ts=parse_timestamp(started),
    )


class InvalidCwd(ValueError):
    """A session folder the registry would reject: empty, relative, too long or with a NUL character."""


def check_cwd(cwd: object) -> str:
    """The session folder as an entry stores it (absolute, normalised), or `InvalidCwd` saying why not.

    Checked when a session registers, so that we never write an entry that every reader then calls unreadable
    (and `clean` would move aside while the session lives). A relative folder is made absolute against the
    current folder: the hook runs in the session's folder.
    """
    if not isinstance(cwd, str) or not cwd:
        raise InvalidCwd(f"the session folder must be a non-empty path, found {_short(cwd)}")
    if "\x00" in cwd:
        raise InvalidCwd(f"the session folder contains a NUL character: {_short(cwd)}")
    absolute = os.path.abspath(cwd)
    if len(absolute) > MAX_CWD_LENGTH:
        raise InvalidCwd(f"the session folder is longer than {MAX_CWD_LENGTH} characters ({len(absolute)})")
    return absolute


def entry_from_json(data: Any, stem: str, path: str = "") -> Union[Entry, str]:
    """Validate decoded JSON against the protocol's format; return the Entry or a one-line reason."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {type(data).__name__}"
    missing = [name for name in SEED_FIELDS if name not in data]
    if missing:
        return "missing field(s): " + ", ".join(missing)
    pid = data["pid"]
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31:
        return f"pid must be a positive integer, found {_short(pid)}"
    session_id = data["sessionId"]
    if not valid_session_id(session_id):
        return f"sessionId is not a valid session id: {_short(session_id)}"
    if session_id != stem:
        return f"sessionId {_short(session_id)} does not match the file name"
    cwd = data["cwd"]
    if not isinstance(cwd, str) or not cwd or len(cwd) > MAX_CWD_LENGTH or "\x00" in cwd:
        return f"cwd must be a non-empty path, found {_short(cwd)}"
    role = data["role"]
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}, found {_short(role)}"
    started_at = data["startedAt"]
    if not isinstance(started_at, str):
        return f"startedAt must be an ISO-8601 string, found {_short(started_at)}"
    try:
        started_ts = parse_timestamp(started_at)
    except (ValueError, OverflowError, OSError):
        return f"startedAt is not an ISO-8601 time: {_short(started_at)}"
    extra = {key: value for key, value in data.items() if key not in SEED_FIELDS}
    return Entry(
        session_id=session_id,
        pid=pid,
        started_at=started_at,
        cwd=cwd,
        role=role,
        started_ts=started_ts,
        extra=extra,
        path=path,
    )


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
