"""The tray menu as plain data: a pure function of a snapshot (and a few settings).

Nothing here imports pystray, so the menu can be tested exhaustively without a display; `pystray_view`
turns this model into a real menu. Actions are data (`Action`), dispatched by the controller. Past 400
lines in one module because the menu is read top to bottom as the user sees it: splitting the items of one
submenu across files would hide their order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Tuple

from tray.core.enums import StrEnum
from tray.core.events import short_id
from tray.core.fmt import format_age, one_line, shorten_middle
from tray.core.projectfiles import ProjectFiles
from tray.core.snapshot import (
    ProjectView,
    Session,
    Snapshot,
    State,
)
from tray.core.tasklists import Task
from tray.core.teams import Team, liveness
from tray.core.traffic import SessionTraffic

KEEP_CURRENT_LABEL = "Keep TRAFFIC.md's Active Sessions current"
NEW_WORKER_LABEL = "New worker (claude --worktree)"


class ActionKind(StrEnum):
    """What a menu item (or a notice's button) asks the controller to do."""

    PROMOTE = "promote"
    OPEN = "open"
    CLEAN = "clean"
    REFRESH = "refresh"
    TOGGLE_NOTIFICATIONS = "toggle-notifications"
    TOGGLE_AUTOSTART = "toggle-autostart"
    OPEN_LOG = "open-log"
    QUIT = "quit"
    FOCUS = "focus"  # raise the terminal that shows a session (argument: its session id)
    OPEN_HANDOVER = "open-handover"  # a notice's "Open HANDOVER.md" (argument: the project key; looked up when run)
    REPAIR_HOOKS = "repair-hooks"
    CREATE_TRAFFIC = "create-traffic"  # create TRAFFIC.md from the template (argument: the project root)
    CREATE_HANDOVER = "create-handover"  # create HANDOVER.md from the template, then open it (argument: the root)
    TOGGLE_TRAFFIC_SYNC = "toggle-traffic-sync"  # keep TRAFFIC.md's Active Sessions current (argument: project key)
    NEW_WORKER = "new-worker"  # open a terminal running `claude --worktree` in the project (argument: the root)
    VACATE = "vacate"  # mark an orchestrator as handing over (argument: its session id; other sources only)


#: Where an action came from: the menu (what the user saw a moment ago) or a notification (maybe minutes old).
FROM_MENU = "menu"
FROM_NOTICE = "notification"
FOCUS_LABEL = "Focus terminal"

HANDOVER = "HANDOVER.md"
TRAFFIC = "TRAFFIC.md"
LABEL_LIMIT = 80
CLAIMS_SHOWN = 3  # claimed files named in a session's submenu; the rest are counted
NO_FILES = ProjectFiles()

STATE_LABELS = {
    State.OK: "ok",
    State.ORPHANED: "no orchestrator",
    State.VACATING: "handing over",
    State.CONFLICT: "2+ orchestrators",
    State.STALE: "stale",
}
STATE_MARKS = {State.OK: "●", State.ORPHANED: "▲", State.VACATING: "◐", State.CONFLICT: "✖", State.STALE: "○"}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    argument: str = ""  # a session id to promote, or a path to open
    force: bool = False
    origin: str = FROM_MENU
    source: str = ""  # "" for this machine, else the spec of the source whose session or project it is about


@dataclass(frozen=True)
class MenuItem:
    """One line of the menu: a separator, an informational line, an action, a toggle, or a submenu."""

    text: str = ""
    action: Optional[Action] = None
    enabled: bool = True
    checked: Optional[bool] = None  # None: not a check item
    children: Tuple[MenuItem, ...] = ()
    separator: bool = False


SEPARATOR = MenuItem(separator=True)


@dataclass(frozen=True)
class MenuSettings:
    notifications: bool = True
    autostart: Optional[bool] = False  # None: start at login is not available here
    log_available: bool = True
    hook_problems: Tuple[str, ...] = ()  # one line per installed Claude Code hook that does not really run
    focus_problem: str = ""  # why "Focus terminal" cannot work on this desktop ("" = it can)
    traffic_sync: Tuple[str, ...] = ()  # projects whose TRAFFIC.md Active Sessions table the tray keeps current
    sources: Tuple[str, ...] = ()  # one line per other source that has something to say (unreachable, empty)


def label(text: str) -> str:
    """Any menu text: one line (a folder name may hold a newline or escape codes), at most LABEL_LIMIT."""
    return shorten_middle(one_line(text), LABEL_LIMIT)


def info(text: str) -> MenuItem:
    return MenuItem(text=label(text), enabled=False)


ACTIVITY_WORDS = {"working": "working", "waiting": "waiting", "attention": "needs you"}


def activity_text(session: Session, now: float) -> str:
    """`waiting 3m`, `working 20s`, `needs you 1m`; empty when the session's activity is unknown."""
    activity = session.activity
    if activity is None or not session.alive:
        return ""
    word = ACTIVITY_WORDS.get(activity.state, activity.state)
    return f"{word} {format_age(now - activity.since, coarse=True)}"


def session_label(session: Session, now: float, extra: str = "") -> str:
    entry = session.entry
    up = format_age(now - entry.started_ts, coarse=True)
    parts = [short_id(entry.session_id), f"pid {entry.pid}", f"up {up}"]
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
    return MenuItem(FOCUS_LABEL, Action(ActionKind.FOCUS, session.session_id))


def traffic_lines(found: Optional[SessionTraffic]) -> Tuple[MenuItem, ...]:
    """What TRAFFIC.md says about a session, as short greyed lines at the top of its submenu."""
    if found is None:
        return ()
    lines = []
    head = " · ".join(part for part in (found.domain, found.branch) if part)
    if head:
        lines.append(info(head))
    if found.claims:
        shown = ", ".join(found.claims[:CLAIMS_SHOWN])
        more = len(found.claims) - CLAIMS_SHOWN
        lines.append(info(f"Claims: {shown}" + (f" +{more} more" if more > 0 else "")))
    return tuple(lines)


def task_lines(tasks: Tuple[Task, ...]) -> Tuple[MenuItem, ...]:
    """The task a session holds in its task list (`Task #3: subject`), and how many more."""
    if not tasks:
        return ()
    first = tasks[0]
    more = f" (+{len(tasks) - 1} more)" if len(tasks) > 1 else ""
    return (info(f"Task #{first.id}: {first.subject}{more}"),)


def live_item(prefix: str, session: Session, now: float, settings: MenuSettings,
              found: Optional[SessionTraffic] = None, tasks: Tuple[Task, ...] = ()) -> MenuItem:
    """The orchestrator's or a vacating session's line: a submenu, so it reads as live (never greyed out)."""
    children = traffic_lines(found) + task_lines(tasks) + (
        focus_item(session, settings), MenuItem("Open folder", Action(ActionKind.OPEN, session.entry.cwd)))
    return MenuItem(text=label(f"{prefix}: {session_label(session, now)}"), children=children)


def worker_item(view: ProjectView, session: Session, now: float,
                settings: MenuSettings = MenuSettings(),  # noqa: B008 - frozen, never mutated
                found: Optional[SessionTraffic] = None, tasks: Tuple[Task, ...] = ()) -> MenuItem:
    suggested = view.suggested is session
    mark = "★ suggested" if suggested and view.state != State.OK else ""
    holder = view.orchestrator
    if holder is None:
        promote = MenuItem("Promote to orchestrator", Action(ActionKind.PROMOTE, session.session_id))
    else:
        promote = MenuItem(
            f"Promote to orchestrator (demotes {short_id(holder.session_id)})",
            Action(ActionKind.PROMOTE, session.session_id, force=True),
        )
    children = traffic_lines(found) + task_lines(tasks) + (
        promote, focus_item(session, settings), MenuItem("Open folder", Action(ActionKind.OPEN, session.entry.cwd)))
    return MenuItem(text=session_label(session, now, mark), children=children)


def file_items(view: ProjectView, now: float, find_file: Callable[[str, str], Optional[str]],
               files: Optional[ProjectFiles], sync: Tuple[str, ...] = ()) -> Tuple[MenuItem, ...]:
    """HANDOVER.md (with its age) and TRAFFIC.md: open them, or create them from the template where missing.

    Without `files` (nothing was gathered) a missing file is a greyed "Open" item, as nothing can be said."""
    items = []
    root = view.project.root
    path = find_file(root, HANDOVER)
    if path is not None:
        modified = files.handover_modified if files is not None else None
        age = f", {format_age(now - modified, coarse=True)} old" if modified is not None else ""
        items.append(MenuItem(f"Open {HANDOVER}{age}", Action(ActionKind.OPEN, path)))
    elif files is not None and os.path.isdir(root):
        items.append(MenuItem(f"Create {HANDOVER} from template", Action(ActionKind.CREATE_HANDOVER, root)))
    else:
        items.append(MenuItem(f"Open {HANDOVER}", None, enabled=False))
    traffic = files.traffic.traffic if files is not None else None
    path = find_file(root, TRAFFIC)
    if traffic is not None and traffic.problem:
        items.append(info(f"⚠ {TRAFFIC} unreadable: {traffic.problem}"))
    if path is not None:
        items.append(MenuItem(f"Open {TRAFFIC}", Action(ActionKind.OPEN, path)))
        if traffic is not None and traffic.readable:
            items.append(MenuItem(KEEP_CURRENT_LABEL, Action(ActionKind.TOGGLE_TRAFFIC_SYNC, view.key),
                                  checked=view.key in sync))
    elif traffic is not None and not traffic.exists and os.path.isdir(root):
        items.append(MenuItem(f"Create {TRAFFIC}", Action(ActionKind.CREATE_TRAFFIC, root)))
    else:
        items.append(MenuItem(f"Open {TRAFFIC}", None, enabled=False))
    return tuple(items)


def project_items(
    view: ProjectView,
    now: float,
    find_file: Callable[[str, str], Optional[str]],
    settings: MenuSettings = MenuSettings(),  # noqa: B008 - frozen, never mutated
    files: Optional[ProjectFiles] = None,
) -> Tuple[MenuItem, ...]:
    items = []
    said = (files or NO_FILES).traffic.sessions
    holding = (files or NO_FILES).holding
    for session in view.orchestrators:
        items.append(live_item("Orchestrator", session, now, settings, said.get(session.session_id),
                               holding.get(session.session_id, ())))
    for session in view.vacating:
        items.append(live_item("Vacating", session, now, settings, said.get(session.session_id),
                               holding.get(session.session_id, ())))
    if view.state in (State.ORPHANED, State.STALE):
        items.append(info("No live orchestrator"))
    if view.workers:
        items.append(info(f"Workers ({len(view.workers)}):"))
        items.extend(worker_item(view, session, now, settings, said.get(session.session_id),
                                 holding.get(session.session_id, ()))
                     for session in view.workers)
    for session in view.stale:
        items.append(info(f"Stale {session.role}: {short_id(session.session_id)} · pid {session.entry.pid} gone"))
    for clash in (files or NO_FILES).traffic.clashes:
        who = ", ".join(short_id(s) for s in clash.session_ids)
        items.append(info(f"⚠ {clash.file} claimed by {who}"))
    lists = (files or NO_FILES).task_lists
    for task_list in lists:
        named = f" ({task_list.list_id})" if len(lists) > 1 else ""
        items.append(info(f"Tasks{named}: {task_list.summary()}"))
    items.append(SEPARATOR)
    items.extend(file_items(view, now, find_file, files, settings.traffic_sync))
    folder_exists = os.path.isdir(view.project.root)
    if folder_exists:
        items.append(MenuItem(NEW_WORKER_LABEL, Action(ActionKind.NEW_WORKER, view.project.root)))
    items.append(
        MenuItem("Open folder", Action(ActionKind.OPEN, view.project.root) if folder_exists else None,
                 enabled=folder_exists)
    )
    return tuple(items)


def remote_project_items(view: ProjectView, now: float) -> Tuple[MenuItem, ...]:
    """A project on another source: the same sessions and promotions, acted on over there (the source's own
    Orchestray, through its transport). No terminal to focus and no folder to open from here: they are there."""
    source = view.project.source
    items = []
    for session in view.orchestrators:
        items.append(MenuItem(label(f"Orchestrator: {session_label(session, now)}"), children=(
            MenuItem("Hand over (mark as vacating)", Action(ActionKind.VACATE, session.session_id, source=source)),
        )))
    for session in view.vacating:
        items.append(MenuItem(label(f"Vacating: {session_label(session, now)}"),
                              children=(info(f"folder: {session.entry.cwd}"),)))
    if view.state in (State.ORPHANED, State.STALE):
        items.append(info("No live orchestrator"))
    if view.workers:
        items.append(info(f"Workers ({len(view.workers)}):"))
    holder = view.orchestrator
    for session in view.workers:
        mark = "★ suggested" if view.suggested is session and view.state != State.OK else ""
        text = "Promote to orchestrator" + (f" (demotes {short_id(holder.session_id)})" if holder else "")
        promote = MenuItem(text, Action(ActionKind.PROMOTE, session.session_id, force=holder is not None,
                                        source=source))
        items.append(MenuItem(session_label(session, now, mark), children=(promote,)))
    for session in view.stale:
        items.append(info(f"Stale {session.role}: {short_id(session.session_id)} · pid {session.entry.pid} gone"))
    items.append(SEPARATOR)
    items.append(MenuItem(f"Open {HANDOVER}", Action(ActionKind.OPEN_HANDOVER, view.key, source=source)))
    if view.stale:
        count = len(view.stale)
        items.append(MenuItem(f"Clean up {count} stale entr{'y' if count == 1 else 'ies'} there",
                              Action(ActionKind.CLEAN, source=source)))
    items.append(info(f"Folder: {view.project.root}"))
    return tuple(items)


def team_item(team: Team, registered: Mapping[str, bool]) -> MenuItem:
    """An agent team as a project-like group: its lead the orchestrator, its teammates workers."""
    if team.problem:
        return info(f"⚠ team {team.name}: unreadable ({team.problem})")
    lead_state, mates = liveness(team, registered)
    lead = team.lead
    children = [info(f"Lead (orchestrator): {lead.name if lead else '?'}"
                     + (f" · {short_id(team.lead_session_id)}" if team.lead_session_id else "") + f" · {lead_state}")]
    children += [info(f"Teammate (worker): {m.name} · {mates.get(m.agent_id, 'unknown')}") for m in team.teammates]
    count = _count(len(team.teammates), "teammate", "teammates")
    return MenuItem(text=label(f"⚑ team {team.name} — lead {lead_state} ({count})"), children=tuple(children))


class ProjectMenus:
    """The submenus of the menu built last, by project, each with everything it was built from: a project whose
    view, gathered files, settings, age clock, HANDOVER.md/TRAFFIC.md paths and folder are all equal to last
    time gets the same items back without building them again. A session starting in one project of fifty
    then costs the labels of that project, not of fifty (the ages change only with `now`, which the tray moves
    at most once a minute or as the menu opens). Only the projects of the last menu are kept."""

    def __init__(self) -> None:
        self._last: Dict[str, Tuple[Tuple[object, ...], Tuple[MenuItem, ...]]] = {}
        self._next: Dict[str, Tuple[Tuple[object, ...], Tuple[MenuItem, ...]]] = {}

    def items(self, view: ProjectView, now: float, find_file: Callable[[str, str], Optional[str]],
              settings: MenuSettings, files: Optional[ProjectFiles]) -> Tuple[MenuItem, ...]:
        root = view.project.root
        found = {name: find_file(root, name) for name in (HANDOVER, TRAFFIC)}
        basis = (view, now, settings, files, found[HANDOVER], found[TRAFFIC], os.path.isdir(root))
        known = self._last.get(view.key)
        if known is not None and known[0] == basis:
            children = known[1]
        else:
            children = project_items(view, now, lambda r, name: found[name] if r == root and name in found
                                     else find_file(r, name), settings, files)
        self._next[view.key] = (basis, children)
        return children

    def done(self) -> None:
        """The menu is built: what it was built from is what the next one is compared with."""
        self._last, self._next = self._next, {}


def build_menu(
    snapshot: Optional[Snapshot],
    settings: MenuSettings,
    find_file: Callable[[str, str], Optional[str]],
    now: Optional[float] = None,
    error: str = "",
    files: Optional[Mapping[str, ProjectFiles]] = None,
    teams: Tuple[Team, ...] = (),
    memo: Optional[ProjectMenus] = None,
) -> Tuple[MenuItem, ...]:
    """The whole tray menu for a snapshot. `find_file(root, name)` says whether HANDOVER.md etc. exist;
    `files` (by project key) what TRAFFIC.md and HANDOVER.md say; `memo` the projects' submenus of the menu
    built before (`ProjectMenus`), reused where nothing they are built from changed."""
    now = time.time() if now is None else now
    items = []
    if error:
        items.append(info(f"⚠ {error}"))
    if settings.hook_problems:
        count = len(settings.hook_problems)
        items.append(info(f"⚠ {count} Claude Code hook{'s' if count != 1 else ''} broken (details: Open log)"))
        items.append(MenuItem("Repair Claude Code hooks", Action(ActionKind.REPAIR_HOOKS)))
    if snapshot is None:
        items.append(info("Reading the registry…"))
    elif not snapshot.projects:
        items.append(info("No Claude Code sessions registered"))
    else:
        for view in snapshot.projects:
            if view.project.source:
                items.append(MenuItem(text=project_label(view), children=remote_project_items(view, now)))
                continue
            gathered = files.get(view.key) if files is not None else None
            if memo is not None:
                children = memo.items(view, now, find_file, settings, gathered)
            else:
                children = project_items(view, now, find_file, settings, gathered)
            items.append(MenuItem(text=project_label(view), children=children))
    if memo is not None:
        memo.done()
    if teams:
        registered = {} if snapshot is None else {
            s.session_id: s.alive for v in snapshot.projects for s in (*v.live, *v.stale)}
        items.extend(team_item(team, registered) for team in teams)
    items.extend(info(line) for line in settings.sources)
    if snapshot is not None and snapshot.unreadable:
        count = len(snapshot.unreadable)
        items.append(info(f"{count} unreadable registry file{'s' if count != 1 else ''} (see 'orchestray check')"))
    items.append(SEPARATOR)
    # This machine's stale entries: another source's are cleaned from its own projects' submenus.
    stale = snapshot.local_stale_count if snapshot is not None else 0
    clean_text = f"Clean up {stale} stale entr{'y' if stale == 1 else 'ies'}" if stale else "Clean up stale entries"
    items.append(MenuItem(clean_text, Action(ActionKind.CLEAN), enabled=stale > 0))
    items.append(MenuItem("Refresh now", Action(ActionKind.REFRESH)))
    items.append(SEPARATOR)
    items.append(MenuItem("Notifications", Action(ActionKind.TOGGLE_NOTIFICATIONS), checked=settings.notifications))
    if settings.autostart is not None:
        items.append(MenuItem("Start at login", Action(ActionKind.TOGGLE_AUTOSTART), checked=settings.autostart))
    items.append(MenuItem("Open log", Action(ActionKind.OPEN_LOG), enabled=settings.log_available))
    items.append(MenuItem("Quit", Action(ActionKind.QUIT)))
    return tuple(items)


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
        trouble = [f"{v.name} {STATE_LABELS[v.state]}" for v in snapshot.projects if v.state != State.OK]
        text = head + ("; " + "; ".join(trouble) if trouble else "; all ok")
    return text if len(text) <= limit else text[: limit - 1] + "…"
