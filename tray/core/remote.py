"""Another machine's snapshot, read from the JSON its `orchestray status --json` printed, and merged with ours.

The answer is untrusted input (another machine, a container, anything that answers on that transport): it is
size-capped, every field is type-checked, every session id must match the registry's own pattern, every text
is made one line and bounded. Anything wrong makes the whole answer one `BadAnswer` line, never a traceback
and never half a snapshot. Liveness was judged over there (a PID only means something where it runs): the
`alive` flags are taken as they come, and the project states are derived here again from the sessions, by the
same rules as for our own registry (`snapshot.snapshot_from_sessions`).

A remote project's key is the source's spec and its own key (`ssh:devbox|/home/me/api`), so it never meets a
local one; its name is `devbox: api`, so the menu and every notice name the host.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence

from tray.core.activity import LATEST_SINCE, STATES, Activity
from tray.core.entry import ROLES, Entry, parse_timestamp, valid_session_id
from tray.core.fmt import one_line
from tray.core.projects import Project
from tray.core.snapshot import SEVERITY, Session, Snapshot, snapshot_from_sessions
from tray.core.sources import Source

MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_PROJECTS = 1000
MAX_SESSIONS = 5000
MAX_TEXT = 4096
MAX_NAME = 200
MAX_PID = 2**32
SESSION_LISTS = ("orchestrators", "workers", "vacating", "stale")


class BadAnswer(ValueError):
    """The other side's answer cannot be used (one line for the user)."""


def _text(value: object, what: str, limit: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or "\x00" in value or (not value and not empty):
        raise BadAnswer(f"{what} is not a string of at most {limit} characters")
    return value


def _session(item: object, project: Project) -> Session:
    if not isinstance(item, dict):
        raise BadAnswer("a session is not an object")
    session_id = item.get("sessionId")
    if not valid_session_id(session_id):
        raise BadAnswer(f"session id {str(session_id)[:40]!r} does not match the registry's pattern")
    assert isinstance(session_id, str)
    pid = item.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < MAX_PID:
        raise BadAnswer(f"session {session_id[:8]}: pid is not a positive integer")
    role = item.get("role")
    if role not in ROLES:
        raise BadAnswer(f"session {session_id[:8]}: unknown role {str(role)[:20]!r}")
    alive = item.get("alive")
    if not isinstance(alive, bool):
        raise BadAnswer(f"session {session_id[:8]}: alive is not true or false")
    started_at = _text(item.get("startedAt"), f"session {session_id[:8]}: startedAt", 64)
    try:
        started_ts = parse_timestamp(started_at)
    except (ValueError, OverflowError, OSError):
        raise BadAnswer(f"session {session_id[:8]}: startedAt {started_at[:40]!r} is not a time") from None
    cwd = _text(item.get("cwd"), f"session {session_id[:8]}: cwd")
    entry = Entry(session_id=session_id, pid=pid, started_at=started_at, cwd=cwd, role=str(role),
                  started_ts=started_ts)
    return Session(entry, alive, project, _activity(item) if alive else None)


def _activity(item: Dict[str, Any]) -> Optional[Activity]:
    """The session's activity if the answer has a well-formed one; a malformed one is dropped (it is a hint)."""
    state, at = item.get("activity"), item.get("activityAt")
    if state not in STATES or not isinstance(at, str) or len(at) > 64:
        return None
    try:
        since = parse_timestamp(at)
    except (ValueError, OverflowError, OSError):
        return None
    if not 0 <= since <= LATEST_SINCE:
        return None
    detail, prompt = item.get("activityDetail", ""), item.get("lastPrompt", "")
    detail = one_line(detail)[:MAX_NAME] if isinstance(detail, str) else ""
    prompt = one_line(prompt)[:MAX_NAME] if isinstance(prompt, str) else ""
    return Activity(str(state), since, detail, prompt, "")


def parse_status(source: Source, raw: bytes) -> Snapshot:
    """The snapshot in `orchestray status --json`'s answer from `source`; raises BadAnswer."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise BadAnswer(f"the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadAnswer("the answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("projects"), list):
        raise BadAnswer("the answer is not a status object (is Orchestray over there too old or something else?)")
    projects = data["projects"]
    if len(projects) > MAX_PROJECTS:
        raise BadAnswer(f"the answer lists more than {MAX_PROJECTS} projects")
    sessions: List[Session] = []
    seen = set()
    for item in projects:
        if not isinstance(item, dict):
            raise BadAnswer("a project is not an object")
        key = _text(item.get("key"), "a project's key")
        root = _text(item.get("root"), "a project's root")
        name = one_line(_text(item.get("name"), "a project's name", MAX_NAME)) or "?"
        project = Project(key=f"{source.spec}|{key}", root=root, name=f"{source.name}: {name}", source=source.spec)
        for group in SESSION_LISTS:
            members = item.get(group, [])
            if not isinstance(members, list):
                raise BadAnswer(f"a project's {group} is not a list")
            for member in members:
                session = _session(member, project)
                if session.session_id in seen:
                    continue  # `orchestrator` repeats the first of `orchestrators`; lists must not overlap
                seen.add(session.session_id)
                sessions.append(session)
                if len(sessions) > MAX_SESSIONS:
                    raise BadAnswer(f"the answer lists more than {MAX_SESSIONS} sessions")
    registry = data.get("registry")
    where = f"{source.spec}:{registry}" if isinstance(registry, str) and len(registry) < MAX_TEXT else source.spec
    return snapshot_from_sessions(where, sessions, [])


def merge(local: Snapshot, remotes: Sequence[Snapshot]) -> Snapshot:
    """One snapshot of this machine and the others: the projects sorted together, worst first."""
    if not remotes:
        return local
    sessions = list(local.sessions)
    views = list(local.projects)
    for remote in remotes:
        sessions.extend(remote.sessions)
        views.extend(remote.projects)
    views.sort(key=lambda view: (SEVERITY.index(view.state), view.name.lower(), view.key))
    return Snapshot(registry=local.registry, taken_at=time.time(), sessions=tuple(sessions), projects=tuple(views),
                    unreadable=local.unreadable)

