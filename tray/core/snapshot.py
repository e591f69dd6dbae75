"""A snapshot of the registry: every entry with its liveness, grouped into projects with a state.

The tray's icon, tooltip, menu and notifications, and the CLI's `check`, `list` and `status`, are all functions
of a `Snapshot`; nothing else reads the registry for display.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from tray.core.activity import WAITING, Activity, activity_dir, read_all
from tray.core.entry import ROLE_ORCHESTRATOR, ROLE_VACATING, ROLE_WORKER, Entry, Unreadable
from tray.core.enums import StrEnum
from tray.core.liveness import REUSE_TOLERANCE_SECONDS, LivenessProbe
from tray.core.projects import Project, ProjectResolver
from tray.core.readcache import ReadCache
from tray.core.registry import Registry
from tray.core.turns import refine


class State(StrEnum):
    """A project's state, from its live sessions (and the overall state: the worst of them)."""

    OK = "ok"  # exactly one live orchestrator
    ORPHANED = "orphaned"  # live workers, no live orchestrator: a worker should take over
    VACATING = "vacating"  # the orchestrator is handing over
    CONFLICT = "conflict"  # two or more live orchestrators
    STALE = "stale"  # only dead entries
    NONE = "none"  # the overall state when there are no projects at all


# Worst first: the overall state is the most severe project state.
SEVERITY = (State.CONFLICT, State.ORPHANED, State.VACATING, State.STALE, State.OK, State.NONE)


@dataclass(frozen=True)
class Session:
    entry: Entry
    alive: bool
    project: Project
    activity: Optional[Activity] = None  # what the session does (working, waiting, needs attention), if known

    @property
    def session_id(self) -> str:
        return self.entry.session_id

    @property
    def role(self) -> str:
        return self.entry.role

    def to_json(self) -> Dict[str, Any]:
        data = self.entry.to_json()
        data.update({"alive": self.alive, "project": self.project.key, "file": self.entry.path})
        if self.activity is not None and self.alive:
            data.update(self.activity.to_json())
        return data


@dataclass(frozen=True)
class ProjectView:
    project: Project
    state: State
    orchestrators: Tuple[Session, ...]  # live orchestrators (more than one is a conflict)
    workers: Tuple[Session, ...]  # live workers, longest-running first
    vacating: Tuple[Session, ...]  # live sessions handing over
    stale: Tuple[Session, ...]  # entries whose process is gone
    suggested: Optional[Session]  # the worker that should take over

    @property
    def key(self) -> str:
        return self.project.key

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def orchestrator(self) -> Optional[Session]:
        return self.orchestrators[0] if self.orchestrators else None

    @property
    def live(self) -> Tuple[Session, ...]:
        return self.orchestrators + self.vacating + self.workers

    def to_json(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "root": self.project.root,
            "state": self.state,
            "orchestrator": self.orchestrator.to_json() if self.orchestrator else None,
            "orchestrators": [s.to_json() for s in self.orchestrators],
            "workers": [s.to_json() for s in self.workers],
            "vacating": [s.to_json() for s in self.vacating],
            "stale": [s.to_json() for s in self.stale],
            "suggested": self.suggested.session_id if self.suggested else None,
        }


@dataclass(frozen=True)
class Snapshot:
    registry: str
    taken_at: float = field(compare=False)
    sessions: Tuple[Session, ...]
    projects: Tuple[ProjectView, ...]
    unreadable: Tuple[Unreadable, ...]

    @property
    def state(self) -> State:
        """The overall state: the most severe project state, `none` without projects."""
        states = {view.state for view in self.projects}
        for state in SEVERITY:
            if state in states:
                return state
        return State.NONE

    @property
    def stale_count(self) -> int:
        return sum(len(view.stale) for view in self.projects)

    @property
    def local_stale_count(self) -> int:
        """Stale entries in this machine's registry (the ones the menu's Clean up removes here)."""
        return sum(len(view.stale) for view in self.projects if not view.project.source)

    def project(self, key: str) -> Optional[ProjectView]:
        for view in self.projects:
            if view.key == key:
                return view
        return None

    def session(self, session_id: str) -> Optional[Session]:
        for session in self.sessions:
            if session.session_id == session_id:
                return session
        return None

    def list_json(self) -> List[Dict[str, Any]]:
        """`orchestray list`: one object per registry file, in file-name order."""
        rows: List[Tuple[str, Dict[str, Any]]] = [(s.entry.path, s.to_json()) for s in self.sessions]
        rows += [(u.path, unreadable_json(u)) for u in self.unreadable]
        return [row for _, row in sorted(rows, key=lambda pair: pair[0])]

    def status_json(self) -> Dict[str, Any]:
        """`orchestray status --json`."""
        return {
            "registry": self.registry,
            "state": self.state,
            "projects": [view.to_json() for view in self.projects],
            "unreadable": [unreadable_json(u) for u in self.unreadable],
        }


def unreadable_json(record: Unreadable) -> Dict[str, Any]:
    return {"sessionId": record.session_id, "file": record.path, "error": record.error}


def seniority(session: Session) -> Tuple[float, str]:
    """Longest-running first: earliest `startedAt`, then session id."""
    return (session.entry.started_ts, session.session_id)


def project_state(orchestrators: int, vacating: int, workers: int) -> State:
    if orchestrators >= 2:
        return State.CONFLICT
    if orchestrators == 1:
        return State.OK
    if vacating:
        return State.VACATING
    if workers:
        return State.ORPHANED
    return State.STALE


def view_project(project: Project, sessions: List[Session]) -> ProjectView:
    live = sorted((s for s in sessions if s.alive), key=seniority)
    orchestrators = tuple(s for s in live if s.role == ROLE_ORCHESTRATOR)
    vacating = tuple(s for s in live if s.role == ROLE_VACATING)
    workers = tuple(s for s in live if s.role == ROLE_WORKER)
    stale = tuple(sorted((s for s in sessions if not s.alive), key=seniority))
    return ProjectView(
        project=project,
        # Counted by process: during a `/clear` the old and the new session id of one process are both on disk
        # for a moment (the new entry is written before the old one is removed); that is not a conflict.
        state=project_state(len({s.entry.pid for s in orchestrators}), len(vacating), len(workers)),
        orchestrators=orchestrators,
        workers=workers,
        vacating=vacating,
        stale=stale,
        suggested=workers[0] if workers else None,
    )


class SnapshotMemo:
    """What the tray's last look derived, for the next look to reuse while the change watcher names what changed.

    A session whose entry and activity are the very objects the caches served last time (their files were not
    named), and whose liveness answer is the same, is the same `Session`; a project whose sessions are all the
    same is the same `ProjectView`. An entry found dead stays dead without asking the OS again once its
    reference time plus the PID-reuse tolerance lay before the look that found it dead: any process with that PID
    now either was seen then or started later, both too late to be the one that registered. Only a look with
    `changes` uses the memo; a look that reads everything derives everything again.
    """

    def __init__(self) -> None:
        self.sessions: Dict[str, Tuple[Entry, Optional[Activity], Session]] = {}  # by entry file path
        self.views: Views = {}  # by project key: its sessions and view
        self.looked_at = 0.0  # wall-clock time of the look that filled it


def build_snapshot(
    registry: Registry,
    resolver: Optional[ProjectResolver] = None,
    probe: Optional[LivenessProbe] = None,
    entry_cache: Optional[ReadCache] = None,
    activity_cache: Optional[ReadCache] = None,
    changes: Optional[Mapping[str, Optional[Set[str]]]] = None,
    memo: Optional[SnapshotMemo] = None,
) -> Snapshot:
    """Scan the registry once and derive everything shown to the user. The tray passes its caches of parsed
    entry and activity files (only changed files are read again), its `memo` of the last look and, while its
    change watcher misses nothing, what that watcher logged since the last look (`changes`, by folder: then only
    the files it named are checked, see `ReadCache`, and unchanged sessions are reused, see `SnapshotMemo`);
    read-modify-write paths pass none of these. Liveness is asked afresh for every entry not settled dead."""
    resolver = resolver or ProjectResolver()
    probe = probe or LivenessProbe()
    # A probe of another kind (a test's stand-in) may have only `alive`.
    alive = getattr(probe, "alive_fast", None) or probe.alive
    tolerance = getattr(probe, "tolerance", REUSE_TOLERANCE_SECONDS)
    resolve = resolver.resolve
    activities = read_all(registry.directory, activity_cache, _named(changes, activity_dir(registry.directory)))
    now = time.time()
    kept = memo.sessions if memo is not None and changes is not None else {}
    looked_at = memo.looked_at if memo is not None else 0.0
    derived: Dict[str, Tuple[Entry, Optional[Activity], Session]] = {}
    sessions: List[Session] = []
    unreadable: List[Unreadable] = []
    for record in registry.scan(entry_cache, _named(changes, registry.directory)):
        if isinstance(record, Unreadable):
            unreadable.append(record)
            continue
        raw = activities.get(record.session_id)
        old = kept.get(record.path)
        if old is not None and old[0] is not record:
            old = None  # the file was read again: nothing derived from the last one holds
        if old is not None and not old[2].alive and record.reference_ts(now) + tolerance < looked_at:
            live = False  # settled dead (see SnapshotMemo)
        else:
            live = alive(record.pid, record.reference_ts(now))
        activity = raw
        if activity is not None and live and activity.state != WAITING:
            # A turn the hooks left open may have ended (Esc) or resumed (a permission approved) without a hook.
            activity = refine(activity, record.pid, record.session_id)
        if old is not None and old[1] is raw and old[2].alive == live and old[2].activity == activity:
            session = old[2]
        else:
            session = Session(record, live, resolve(record.cwd), activity)
        derived[record.path] = (record, raw, session)
        sessions.append(session)
    views: Views = {}
    snapshot = snapshot_from_sessions(registry.directory, sessions, unreadable,
                                      memo.views if memo is not None and changes is not None else None, views)
    if memo is not None:
        memo.sessions, memo.views, memo.looked_at = derived, views, now
    return snapshot


def _named(changes: Optional[Mapping[str, Optional[Set[str]]]], folder: str) -> Optional[Set[str]]:
    """The names logged in `folder` (an empty set when nothing was); None when not known: check them all."""
    if changes is None:
        return None
    return changes.get(folder, set())


def _same(one: Tuple[Session, ...], other: Tuple[Session, ...]) -> bool:
    return len(one) == len(other) and all(a is b for a, b in zip(one, other))


Views = Dict[str, Tuple[Tuple[Session, ...], ProjectView]]


def snapshot_from_sessions(directory: str, sessions: List[Session], unreadable: List[Unreadable],
                           kept: Optional[Views] = None, made: Optional[Views] = None) -> Snapshot:
    """Group `sessions` into projects; a project whose sessions are the very ones of `kept` keeps its view.
    `made`, when given, is filled with each project's sessions and view (the next look's `kept`)."""
    grouped: Dict[str, List[Session]] = {}
    projects: Dict[str, Project] = {}
    for session in sessions:
        grouped.setdefault(session.project.key, []).append(session)
        projects.setdefault(session.project.key, session.project)
    views = []
    for key, members in grouped.items():
        old = kept.get(key) if kept is not None else None
        group = tuple(members)
        view = old[1] if old is not None and _same(old[0], group) else view_project(projects[key], members)
        if made is not None:
            made[key] = (group, view)
        views.append(view)
    views.sort(key=lambda view: (SEVERITY.index(view.state), view.name.lower(), view.key))
    return Snapshot(
        registry=directory,
        taken_at=time.time(),
        sessions=tuple(sessions),
        projects=tuple(views),
        unreadable=tuple(unreadable),
    )
