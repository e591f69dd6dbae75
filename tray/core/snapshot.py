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
from tray.core.liveness import LivenessProbe
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


def build_snapshot(
    registry: Registry,
    resolver: Optional[ProjectResolver] = None,
    probe: Optional[LivenessProbe] = None,
    entry_cache: Optional[ReadCache] = None,
    activity_cache: Optional[ReadCache] = None,
    changes: Optional[Mapping[str, Optional[Set[str]]]] = None,
) -> Snapshot:
    """Scan the registry once and derive everything shown to the user. The tray passes its caches of parsed
    entry and activity files (only changed files are read again) and, while its change watcher misses nothing,
    what that watcher logged since the last look (`changes`, by folder: then only the files it named are
    checked, see `ReadCache`); read-modify-write paths never do. Liveness is asked afresh at every look."""
    resolver = resolver or ProjectResolver()
    probe = probe or LivenessProbe()
    # A probe of another kind (a test's stand-in) may have only `alive`.
    alive = getattr(probe, "alive_fast", None) or probe.alive
    resolve = resolver.resolve
    activities = read_all(registry.directory, activity_cache, _named(changes, activity_dir(registry.directory)))
    now = time.time()
    sessions: List[Session] = []
    unreadable: List[Unreadable] = []
    for record in registry.scan(entry_cache, _named(changes, registry.directory)):
        if isinstance(record, Unreadable):
            unreadable.append(record)
            continue
        activity = activities.get(record.session_id)
        live = alive(record.pid, record.reference_ts(now))
        if activity is not None and live and activity.state != WAITING:
            # A turn the hooks left open may have ended (Esc) or resumed (a permission approved) without a hook.
            activity = refine(activity, record.pid, record.session_id)
        sessions.append(Session(record, live, resolve(record.cwd), activity))
    return snapshot_from_sessions(registry.directory, sessions, unreadable)


def _named(changes: Optional[Mapping[str, Optional[Set[str]]]], folder: str) -> Optional[Set[str]]:
    """The names logged in `folder` (an empty set when nothing was); None when not known: check them all."""
    if changes is None:
        return None
    return changes.get(folder, set())


def snapshot_from_sessions(directory: str, sessions: List[Session], unreadable: List[Unreadable]) -> Snapshot:
    grouped: Dict[str, List[Session]] = {}
    projects: Dict[str, Project] = {}
    for session in sessions:
        grouped.setdefault(session.project.key, []).append(session)
        projects.setdefault(session.project.key, session.project)
    views = [view_project(projects[key], grouped[key]) for key in grouped]
    views.sort(key=lambda view: (SEVERITY.index(view.state), view.name.lower(), view.key))
    return Snapshot(
        registry=directory,
        taken_at=time.time(),
        sessions=tuple(sessions),
        projects=tuple(views),
        unreadable=tuple(unreadable),
    )
