"""What changed between two snapshots that a person should be told about.

Each event is said once per episode: an orchestrator dies once; a project becomes orphaned, vacating or in
conflict once, until it leaves that state. The tray turns events into notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

from tray.core.entry import ROLE_ORCHESTRATOR
from tray.core.snapshot import STATE_CONFLICT, STATE_ORPHANED, STATE_VACATING, ProjectView, Snapshot

ORCHESTRATOR_DIED = "orchestrator-died"
PROJECT_ORPHANED = "orphaned"
PROJECT_VACATING = "vacating"
PROJECT_CONFLICT = "conflict"


@dataclass(frozen=True)
class Event:
    kind: str
    project_key: str
    project_name: str
    session_id: Optional[str] = None  # the orchestrator that died, when relevant
    suggested: Optional[str] = None  # the worker that should take over, when there is one
    detail: str = ""

    @property
    def title(self) -> str:
        return {
            ORCHESTRATOR_DIED: f"{self.project_name}: orchestrator died",
            PROJECT_ORPHANED: f"{self.project_name}: no orchestrator",
            PROJECT_VACATING: f"{self.project_name}: orchestrator is handing over",
            PROJECT_CONFLICT: f"{self.project_name}: two orchestrators",
        }[self.kind]

    @property
    def body(self) -> str:
        successor = f"Suggested successor: {self.suggested}." if self.suggested else "No live worker to take over."
        if self.kind == ORCHESTRATOR_DIED:
            return f"Session {self.session_id} stopped running. {successor}"
        if self.kind == PROJECT_ORPHANED:
            return f"Workers are running without an orchestrator. {successor}"
        if self.kind == PROJECT_VACATING:
            return f"The orchestrator wrote its handover. {successor}"
        return f"{self.detail} Demote one of them from the tray menu or with 'orchestray promote --force'."


def _entered(state: str, before: Optional[ProjectView], after: ProjectView) -> bool:
    return after.state == state and (before is None or before.state != state)


def diff(before: Optional[Snapshot], after: Snapshot) -> List[Event]:
    """Events for everything that became true in `after` and was not true in `before`."""
    events: List[Event] = []
    previous = {view.key: view for view in before.projects} if before is not None else {}
    for view in after.projects:
        old = previous.get(view.key)
        suggested = view.suggested.session_id if view.suggested else None
        if old is not None:
            was_live = {s.session_id for s in old.orchestrators}
            for session in view.stale:
                if session.role == ROLE_ORCHESTRATOR and session.session_id in was_live:
                    events.append(Event(ORCHESTRATOR_DIED, view.key, view.name, session.session_id, suggested))
        if _entered(STATE_ORPHANED, old, view):
            events.append(Event(PROJECT_ORPHANED, view.key, view.name, suggested=suggested))
        if _entered(STATE_VACATING, old, view):
            events.append(Event(PROJECT_VACATING, view.key, view.name, suggested=suggested))
        if _entered(STATE_CONFLICT, old, view):
            names = ", ".join(s.session_id for s in view.orchestrators)
            events.append(Event(PROJECT_CONFLICT, view.key, view.name, detail=f"Live orchestrators: {names}."))
    return events


SESSION_WAITING = "waiting"
SESSION_NEEDS_YOU = "needs-you"


@dataclass(frozen=True)
class SessionEvent:
    """A session that waits for its user: said once per waiting episode (one episode per `since`)."""

    kind: str
    session_id: str
    project_name: str
    waited: float = 0.0
    detail: str = ""
    prompt: str = ""

    @property
    def title(self) -> str:
        if self.kind == SESSION_NEEDS_YOU:
            return f"{self.project_name}: a session needs you"
        return f"{self.project_name}: a session is waiting for you"

    @property
    def body(self) -> str:
        from tray.core.fmt import format_age

        what = f" ({self.detail})" if self.detail else ""
        last = f' Last prompt: "{self.prompt}".' if self.prompt else ""
        if self.kind == SESSION_NEEDS_YOU:
            return f"Session {self.session_id} is asking for an answer{what}.{last}"
        return f"Session {self.session_id} has been waiting for {format_age(self.waited)}.{last}"


class ActivityWatcher:
    """Turns session activity into at most one notification per waiting episode.

    A permission prompt is said at once; plain waiting only after `delay` seconds, so that the short pause
    between an answer and the user's next prompt stays quiet.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._said: Set[Tuple[str, str, float]] = set()

    def check(self, snapshot: Snapshot, now: float) -> List[SessionEvent]:
        found: List[SessionEvent] = []
        current = set()
        for view in snapshot.projects:
            for session in view.live:
                activity = session.activity
                if activity is None:
                    continue
                key = (session.session_id, activity.state, activity.since)
                current.add(key)
                if key in self._said:
                    continue
                waited = now - activity.since
                if activity.state == "attention":
                    kind = SESSION_NEEDS_YOU
                elif activity.state == "waiting" and waited >= self.delay:
                    kind = SESSION_WAITING
                else:
                    continue
                self._said.add(key)
                found.append(SessionEvent(kind, session.session_id, view.name, waited, activity.detail,
                                          activity.prompt))
        self._said &= current  # forget episodes that ended
        return found
