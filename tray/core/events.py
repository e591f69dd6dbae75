"""What changed between two snapshots that a person should be told about.

Each event is said once per episode: an orchestrator dies once; a project becomes orphaned, vacating or in
conflict once, until it leaves that state. The tray turns events into notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

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
