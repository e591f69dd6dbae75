"""The tray menu as plain data: a pure function of a snapshot (and a few settings).

Nothing here imports pystray, so the menu can be tested exhaustively without a display; `pystray_view`
turns this model into a real menu. Actions are data (`Action`), dispatched by the controller.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from tray.core.fmt import format_age, one_line, shorten_middle
from tray.core.snapshot import (
    STATE_CONFLICT,
    STATE_OK,
    STATE_ORPHANED,
    STATE_STALE,
    STATE_VACATING,
    ProjectView,
    Session,
    Snapshot,
)

PROMOTE = "promote"
OPEN = "open"
CLEAN = "clean"
REFRESH = "refresh"
TOGGLE_NOTIFICATIONS = "toggle-notifications"
TOGGLE_AUTOSTART = "toggle-autostart"
OPEN_LOG = "open-log"
REPAIR_HOOKS = "repair-hooks"
QUIT = "quit"
FOCUS = "focus"  # raise the terminal that shows a session (argument: its session id)
OPEN_HANDOVER = "open-handover"  # a notice's "Open HANDOVER.md" (argument: the project key; looked up when run)

#: Where an action came from: the menu (what the user saw a moment ago) or a notification (maybe minutes old).
FROM_MENU = "menu"
FROM_NOTICE = "notification"
FOCUS_LABEL = "Focus terminal"

HANDOVER = "HANDOVER.md"
TRAFFIC = "TRAFFIC.md"
SHORT_ID = 8
LABEL_LIMIT = 80

STATE_LABELS = {
    STATE_OK: "ok",
    STATE_ORPHANED: "no orchestrator",
    STATE_VACATING: "handing over",
    STATE_CONFLICT: "2+ orchestrators",
    STATE_STALE: "stale",
}
STATE_MARKS = {STATE_OK: "●", STATE_ORPHANED: "▲", STATE_VACATING: "◐", STATE_CONFLICT: "✖", STATE_STALE: "○"}


@dataclass(frozen=True)
class Action:
    kind: str
    argument: str = ""  # a session id to promote, or a path to open
    force: bool = False
    origin: str = FROM_MENU


@dataclass(frozen=True)
class MenuItem:
    """One line of the menu: a separator, an informational line, an action, a toggle, or a submenu."""

    text: str = ""
    action: Optional[Action] = None
    enabled: bool = True
    checked: Optional[bool] = None  # None: not a check item
    children: Tuple[MenuItem, ...] = ()
    separator: bool = False

    @property
    def is_submenu(self) -> bool:
        return bool(self.children)


SEPARATOR = MenuItem(separator=True)


@dataclass(frozen=True)
class MenuSettings:
    notifications: bool = True
    autostart: Optional[bool] = False  # None: start at login is not available here
    log_available: bool = True
    hook_problems: Tuple[str, ...] = ()  # one line per installed Claude Code hook that does not really run
    focus_problem: str = ""  # why "Focus terminal" cannot work on this desktop ("" = it can)


def label(text: str) -> str:
    """Any menu text: one line (a folder name may hold a newline or escape codes), at most LABEL_LIMIT."""
    return shorten_middle(one_line(text), LABEL_LIMIT)


def info(text: str) -> MenuItem:
    return MenuItem(text=label(text), enabled=False)


def short_id(session_id: str) -> str:
    return session_id[:SHORT_ID]


ACTIVITY_WORDS = {"working": "working", "waiting": "waiting", "attention": "needs you"}


def activity_text(session: Session, now: float) -> str:
    """`waiting 3m`, `working 20s`, `needs you 1m`; empty when the session's activity is unknown."""
    activity = session.activity
    if activity is None or not session.alive:
        return ""
    return f"{ACTIVITY_WORDS.get(activity.state, activity.state)} {format_age(now - activity.since)}"


def session_label(session: Session, now: float, extra: str = "") -> str:
    entry = session.entry
    parts = [short_id(entry.session_id), f"pid {entry.pid}", f"up {format_age(now - entry.started_ts)}"]
    folder = session_folder(session)
    if folder:
        parts.append(folder)
    doing = activity_text(session, now)
    if doing:
        parts.append(doing)
    text = one_line(" · ".join(parts))
    return shorten_middle(text + (f"  {extra}" if extra else ""), LABEL_LIMIT)


def session_folder(session: Session) -> str:
    """The session's folder when it is not the project root (a worktree or a subfolder), else empty."""
    root = os.path.normcase(os.path.normpath(session.project.root))
    cwd = os.path.normcase(os.path.normpath(session.entry.cwd))
    if cwd == root:
        return ""
    return os.path.basename(session.entry.cwd.rstrip("\\/")) or session.entry.cwd


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def project_label(view: ProjectView) -> str:
    """`● name — ok (2 sessions)`; a project with dead entries counts them: `(1 session, 2 stale)`,
    `(2 stale entries)` when nothing of it runs any more."""
    mark = STATE_MARKS.get(view.state, "")
    live, stale = len(view.live), len(view.stale)
    if not live:
        count = _count(stale, "stale entry", "stale entries")
    else:
        count = _count(live, "session", "sessions") + (f", {stale} stale" if stale else "")
    return label(f"{mark} {view.name} — {STATE_LABELS.get(view.state, view.state)} ({count})")


def focus_item(session: Session, settings: MenuSettings) -> MenuItem:
    """"Focus terminal", or, where no terminal can be raised from here, one disabled line saying why."""
    if settings.focus_problem:
        return info(f"{FOCUS_LABEL}: {settings.focus_problem}")
    return MenuItem(FOCUS_LABEL, Action(FOCUS, session.session_id))


def live_item(prefix: str, session: Session, now: float, settings: MenuSettings) -> MenuItem:
    """The orchestrator's or a vacating session's line: a submenu, so it reads as live (never greyed out)."""
    children = (focus_item(session, settings), MenuItem("Open folder", Action(OPEN, session.entry.cwd)))
    return MenuItem(text=label(f"{prefix}: {session_label(session, now)}"), children=children)


def worker_item(view: ProjectView, session: Session, now: float,
                settings: MenuSettings = MenuSettings()) -> MenuItem:  # noqa: B008 - frozen, never mutated
    suggested = view.suggested is session
    mark = "★ suggested" if suggested and view.state != STATE_OK else ""
    holder = view.orchestrator
    if holder is None:
        promote = MenuItem("Promote to orchestrator", Action(PROMOTE, session.session_id))
    else:
        promote = MenuItem(
            f"Promote to orchestrator (demotes {short_id(holder.session_id)})",
            Action(PROMOTE, session.session_id, force=True),
        )
    children = (promote, focus_item(session, settings), MenuItem("Open folder", Action(OPEN, session.entry.cwd)))
    return MenuItem(text=session_label(session, now, mark), children=children)


def project_items(
    view: ProjectView,
    now: float,
    find_file: Callable[[str, str], Optional[str]],
    settings: MenuSettings = MenuSettings(),  # noqa: B008 - frozen, never mutated
) -> Tuple[MenuItem, ...]:
    items = []
    for session in view.orchestrators:
        items.append(live_item("Orchestrator", session, now, settings))
    for session in view.vacating:
        items.append(live_item("Vacating", session, now, settings))
    if view.state in (STATE_ORPHANED, STATE_STALE):
        items.append(info("No live orchestrator"))
    if view.workers:
        items.append(info(f"Workers ({len(view.workers)}):"))
        items.extend(worker_item(view, session, now, settings) for session in view.workers)
    for session in view.stale:
        items.append(info(f"Stale {session.role}: {short_id(session.session_id)} · pid {session.entry.pid} gone"))
    items.append(SEPARATOR)
    for name in (HANDOVER, TRAFFIC):
        path = find_file(view.project.root, name)
        items.append(MenuItem(f"Open {name}", Action(OPEN, path) if path else None, enabled=path is not None))
    folder_exists = os.path.isdir(view.project.root)
    items.append(
        MenuItem("Open folder", Action(OPEN, view.project.root) if folder_exists else None, enabled=folder_exists)
    )
    return tuple(items)


def build_menu(
    snapshot: Optional[Snapshot],
    settings: MenuSettings,
    find_file: Callable[[str, str], Optional[str]],
    now: Optional[float] = None,
    error: str = "",
) -> Tuple[MenuItem, ...]:
    """The whole tray menu for a snapshot. `find_file(root, name)` says whether HANDOVER.md etc. exist."""
    now = time.time() if now is None else now
    items = []
    if error:
        items.append(info(f"⚠ {error}"))
    if settings.hook_problems:
        items.append(info(f"⚠ {settings.hook_problems[0]}"))
        items.append(MenuItem("Repair Claude Code hooks", Action(REPAIR_HOOKS)))
    if snapshot is None:
        items.append(info("Reading the registry…"))
    elif not snapshot.projects:
        items.append(info("No Claude Code sessions registered"))
    else:
        for view in snapshot.projects:
            items.append(MenuItem(text=project_label(view), children=project_items(view, now, find_file, settings)))
    if snapshot is not None and snapshot.unreadable:
        count = len(snapshot.unreadable)
        items.append(info(f"{count} unreadable registry file{'s' if count != 1 else ''} (see 'orchestray check')"))
    items.append(SEPARATOR)
    stale = snapshot.stale_count if snapshot is not None else 0
    clean_text = f"Clean up {stale} stale entr{'y' if stale == 1 else 'ies'}" if stale else "Clean up stale entries"
    items.append(MenuItem(clean_text, Action(CLEAN), enabled=stale > 0))
    items.append(MenuItem("Refresh now", Action(REFRESH)))
    items.append(SEPARATOR)
    items.append(MenuItem("Notifications", Action(TOGGLE_NOTIFICATIONS), checked=settings.notifications))
    if settings.autostart is not None:
        items.append(MenuItem("Start at login", Action(TOGGLE_AUTOSTART), checked=settings.autostart))
    items.append(MenuItem("Open log", Action(OPEN_LOG), enabled=settings.log_available))
    items.append(MenuItem("Quit", Action(QUIT)))
    return tuple(items)


def attention_count(snapshot: Optional[Snapshot]) -> int:
    """Projects that need a person (no orchestrator, handing over, or in conflict)."""
    if snapshot is None:
        return 0
    return sum(1 for view in snapshot.projects if view.state in (STATE_ORPHANED, STATE_VACATING, STATE_CONFLICT))


def waiting_count(snapshot: Optional[Snapshot]) -> int:
    """The icon's badge: live sessions waiting for their user (done answering, or asking for permission)."""
    if snapshot is None:
        return 0
    return sum(
        1
        for view in snapshot.projects
        for session in view.live
        if session.activity is not None and session.activity.state in ("waiting", "attention")
    )


def tooltip(snapshot: Optional[Snapshot], error: str = "", limit: int = 127) -> str:
    """The icon's tooltip; capped because Windows keeps at most 127 characters."""
    if error:
        text = f"Orchestray: {error}"
    elif snapshot is None:
        text = "Orchestray: starting"
    elif not snapshot.projects:
        text = "Orchestray: no sessions"
    else:
        live = sum(len(view.live) for view in snapshot.projects)
        head = f"Orchestray: {len(snapshot.projects)} project(s), {live} live session(s)"
        waiting = waiting_count(snapshot)
        if waiting:
            head += f", {waiting} waiting for you"
        trouble = [f"{v.name} {STATE_LABELS[v.state]}" for v in snapshot.projects if v.state != STATE_OK]
        text = head + ("; " + "; ".join(trouble) if trouble else "; all ok")
    return text if len(text) <= limit else text[: limit - 1] + "…"
