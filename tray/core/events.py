"""What changed between two snapshots that a person should be told about, and what they can do about it.

Each episode is said once: an orchestrator that dies is one notice, even though its project becomes orphaned in
the same moment (the death notice names the successor, so a second "no orchestrator" would only repeat it); a
project that becomes orphaned, vacating or in conflict without a death is one notice, until it leaves that
state. Texts put the project first, use the same 8-character ids as the menu, and say the action in words, so
a notifier without buttons still tells the user what to do. Each notice also carries its actions as data
(`Offer`: promote a session, focus a session's terminal, open a file); the tray turns them into buttons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

from tray.core.entry import ROLE_ORCHESTRATOR
from tray.core.enums import StrEnum
from tray.core.snapshot import ProjectView, Snapshot, State


class EventKind(StrEnum):
    """What a notice is about (the values appear in the log)."""

    ORCHESTRATOR_DIED = "orchestrator-died"
    PROJECT_ORPHANED = "orphaned"
    PROJECT_VACATING = "vacating"
    PROJECT_CONFLICT = "conflict"
    SESSION_WAITING = "waiting"  # a session has waited for its user longer than the configured delay
    SESSION_NEEDS_YOU = "needs-you"  # a session asks for an answer (a permission)


#: Ids are shown by their first 8 characters everywhere (menu, notifications): enough to tell them apart.
SHORT_ID = 8


class OfferKind(StrEnum):
    """What a notice's buttons can do (the tray maps these to its own actions)."""

    PROMOTE = "promote"
    FOCUS = "focus"
    OPEN_HANDOVER = "open-handover"


def short_id(session_id: Optional[str]) -> str:
    return (session_id or "")[:SHORT_ID]


def _ids(session_ids: Tuple[str, ...]) -> str:
    shorts = [short_id(s) for s in session_ids]
    return shorts[0] if len(shorts) == 1 else ", ".join(shorts[:-1]) + " and " + shorts[-1]


@dataclass(frozen=True)
class Offer:
    """One thing a notice lets the user do: `kind` (an `OfferKind`), its button text, and its target.

    `target` is a session id (promote, focus) or a project key (open HANDOVER.md). The action re-checks the
    registry when it runs: the state may have changed since the notice was shown.
    """

    kind: OfferKind
    label: str
    target: str


@dataclass(frozen=True)
class Event:
    kind: EventKind
    project_key: str
    project_name: str
    session_id: Optional[str] = None  # the orchestrator that died (the first, when several died at once)
    suggested: Optional[str] = None  # the worker that should take over, when there is one
    detail: str = ""
    session_ids: Tuple[str, ...] = ()  # every orchestrator this notice is about (died, or in conflict)

    @property
    def title(self) -> str:
        return {
            EventKind.ORCHESTRATOR_DIED: f"{self.project_name}: orchestrator died",
            EventKind.PROJECT_ORPHANED: f"{self.project_name}: no orchestrator",
            EventKind.PROJECT_VACATING: f"{self.project_name}: orchestrator is handing over",
            EventKind.PROJECT_CONFLICT: f"{self.project_name}: two orchestrators",
        }[self.kind]

    @property
    def body(self) -> str:
        if self.suggested:
            todo = f"Promote worker {short_id(self.suggested)} to take over."
        else:
            todo = "No live worker to take over: start a new session there."
        if self.kind == EventKind.ORCHESTRATOR_DIED:
            ids = self.session_ids or ((self.session_id,) if self.session_id else ())
            who = f"Orchestrator {_ids(ids)}" if ids else "The orchestrator"
            if self.detail:  # another orchestrator is still alive (it was a conflict): nothing to promote
                return f"{who} stopped running. {self.detail}"
            return f"{who} stopped running. {todo}"
        if self.kind == EventKind.PROJECT_ORPHANED:
            return f"Workers are running without an orchestrator. {todo}"
        if self.kind == EventKind.PROJECT_VACATING:
            who = f"Orchestrator {short_id(self.session_id)}" if self.session_id else "The orchestrator"
            if self.suggested:
                return f"{who} wrote its handover. Read HANDOVER.md, then promote worker {short_id(self.suggested)}."
            return f"{who} wrote its handover. {todo}"
        return (f"Orchestrators {_ids(self.session_ids)} are live at once. Keep one: promote it from the tray "
                "menu (that demotes the others).")

    @property
    def offers(self) -> Tuple[Offer, ...]:
        """The buttons for this notice; the first `OfferKind.FOCUS` is also what a click on the body does."""
        if self.kind in (EventKind.ORCHESTRATOR_DIED, EventKind.PROJECT_ORPHANED) and self.suggested and (
                not self.detail):
            who = short_id(self.suggested)
            return (Offer(OfferKind.PROMOTE, f"Promote {who}", self.suggested),
                    Offer(OfferKind.FOCUS, f"Focus {who}", self.suggested))
        if self.kind == EventKind.PROJECT_VACATING and self.suggested:
            return (Offer(OfferKind.PROMOTE, f"Promote {short_id(self.suggested)}", self.suggested),
                    Offer(OfferKind.OPEN_HANDOVER, "Open HANDOVER.md", self.project_key))
        if self.kind == EventKind.PROJECT_VACATING:
            return (Offer(OfferKind.OPEN_HANDOVER, "Open HANDOVER.md", self.project_key),)
        return ()

    @property
    def click(self) -> Optional[Offer]:
        """What a click on the notice's body does: focus the session it is about, when there is one."""
        about_a_successor = (EventKind.ORCHESTRATOR_DIED, EventKind.PROJECT_ORPHANED, EventKind.PROJECT_VACATING)
        if self.kind in about_a_successor and self.suggested:
            return Offer(OfferKind.FOCUS, f"Focus {short_id(self.suggested)}", self.suggested)
        return None


def _entered(state: str, before: Optional[ProjectView], after: ProjectView) -> bool:
    return after.state == state and (before is None or before.state != state)


def diff(before: Optional[Snapshot], after: Snapshot) -> List[Event]:
    """Events for everything that became true in `after` and was not true in `before`: one per project."""
    events: List[Event] = []
    previous = {view.key: view for view in before.projects} if before is not None else {}
    for view in after.projects:
        old = previous.get(view.key)
        suggested = view.suggested.session_id if view.suggested else None
        died: Tuple[str, ...] = ()
        if old is not None:
            was_live = {s.session_id for s in old.orchestrators}
            died = tuple(s.session_id for s in view.stale
                         if s.role == ROLE_ORCHESTRATOR and s.session_id in was_live)
        if died:
            # One notice for the death; it covers the orphaned (or still-in-conflict) state it leaves behind.
            survivors = tuple(s.session_id for s in view.orchestrators)
            detail = f"Orchestrator {_ids(survivors)} is still running." if survivors else ""
            events.append(Event(EventKind.ORCHESTRATOR_DIED, view.key, view.name, died[0],
                                None if survivors else suggested, detail, died))
            continue
        if _entered(State.ORPHANED, old, view):
            events.append(Event(EventKind.PROJECT_ORPHANED, view.key, view.name, suggested=suggested))
        if _entered(State.VACATING, old, view):
            leaving = view.vacating[0].session_id if view.vacating else None
            events.append(Event(EventKind.PROJECT_VACATING, view.key, view.name, leaving, suggested=suggested))
        if _entered(State.CONFLICT, old, view):
            ids = tuple(s.session_id for s in view.orchestrators)
            events.append(Event(EventKind.PROJECT_CONFLICT, view.key, view.name,
                                detail=f"Live orchestrators: {_ids(ids)}.", session_ids=ids))
    return events




@dataclass(frozen=True)
class SessionEvent:
    """A session that waits for its user: said once per waiting episode (one episode per `since`)."""

    kind: EventKind
    session_id: str
    project_name: str
    waited: float = 0.0
    detail: str = ""
    prompt: str = ""

    @property
    def title(self) -> str:
        if self.kind == EventKind.SESSION_NEEDS_YOU:
            return f"{self.project_name}: a session needs you"
        return f"{self.project_name}: a session is waiting for you"

    @property
    def body(self) -> str:
        from tray.core.fmt import format_age

        what = f" ({self.detail})" if self.detail else ""
        last = f' Last prompt: "{self.prompt}".' if self.prompt else ""
        who = short_id(self.session_id)
        if self.kind == EventKind.SESSION_NEEDS_YOU:
            return f"Session {who} is asking for an answer{what}: focus it to answer.{last}"
        return f"Session {who} has been waiting for you for {format_age(self.waited)}.{last}"

    @property
    def offers(self) -> Tuple[Offer, ...]:
        return (Offer(OfferKind.FOCUS, "Focus", self.session_id),)

    @property
    def click(self) -> Optional[Offer]:
        return Offer(OfferKind.FOCUS, "Focus", self.session_id)


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
                    kind = EventKind.SESSION_NEEDS_YOU
                elif activity.state == "waiting" and waited >= self.delay:
                    kind = EventKind.SESSION_WAITING
                else:
                    continue
                self._said.add(key)
                found.append(SessionEvent(kind, session.session_id, view.name, waited, activity.detail,
                                          activity.prompt))
        self._said &= current  # forget episodes that ended
        return found

    def next_due(self, snapshot: Optional[Snapshot], now: float) -> Optional[float]:
        """Seconds until a waiting session that has not been said yet reaches `delay`, or None if none will.

        An event-driven tray sleeps until something changes; waiting long enough is a change only the clock
        makes, so the tray wakes for it then and not before.
        """
        if snapshot is None:
            return None
        due: Optional[float] = None
        for view in snapshot.projects:
            for session in view.live:
                activity = session.activity
                if activity is None or activity.state != "waiting":
                    continue
                if (session.session_id, activity.state, activity.since) in self._said:
                    continue
                left = max(0.0, activity.since + self.delay - now)
                due = left if due is None else min(due, left)
        return due


CLAIM_CLASH = "claim-clash"


@dataclass(frozen=True)
class ClaimEvent:
    """Two or more live sessions claim the same file in TRAFFIC.md: said once per episode (per file and set of
    claimants), until the clash ends."""

    project_name: str
    file: str
    session_ids: Tuple[str, ...]
    kind: str = CLAIM_CLASH

    @property
    def session_id(self) -> str:
        return self.session_ids[0] if self.session_ids else ""

    @property
    def title(self) -> str:
        return f"{self.project_name}: two sessions claim one file"

    @property
    def body(self) -> str:
        return f"Sessions {_ids(self.session_ids)} both claim {self.file} in TRAFFIC.md. Agree who keeps it."

    @property
    def offers(self) -> Tuple[Offer, ...]:
        return tuple(Offer(OfferKind.FOCUS, f"Focus {short_id(s)}", s) for s in self.session_ids[:2])

    @property
    def click(self) -> Optional[Offer]:
        return self.offers[0] if self.offers else None


class ClaimWatcher:
    """Turns TRAFFIC.md clashes into at most one notification per episode."""

    def __init__(self) -> None:
        self._said: Set[Tuple[str, str, Tuple[str, ...]]] = set()

    def check(self, clashes: List[Tuple[str, str, str, Tuple[str, ...]]]) -> List[ClaimEvent]:
        """`clashes`: (project key, project name, file, session ids) for every clash seen now."""
        found: List[ClaimEvent] = []
        current = set()
        for key, name, file, ids in clashes:
            episode = (key, file.lower(), tuple(sorted(ids)))
            current.add(episode)
            if episode not in self._said:
                self._said.add(episode)
                found.append(ClaimEvent(name, file, ids))
        self._said &= current
        return found
