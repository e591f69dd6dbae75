"""`orchestray check`: the human summary of every project, as plain text.

Every string that comes from the registry (folders, ids, prompts, file names, errors) goes through
`fmt.printable` first: a folder named with an escape sequence or a newline must not drive the user's terminal or
fake a line of the summary, and still shows which folder it is.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence

from tray.core.events import short_id
from tray.core.fmt import format_age, printable
from tray.core.snapshot import ProjectView, Snapshot, State

if TYPE_CHECKING:
    from tray.core.projectfiles import ProjectFiles
    from tray.core.teams import Team

STATE_WORDS = {
    State.OK: "ok",
    State.ORPHANED: "ORPHANED: no live orchestrator",
    State.VACATING: "VACATING: the orchestrator is handing over",
    State.CONFLICT: "CONFLICT: more than one live orchestrator",
    State.STALE: "stale: no live session",
}


def _line(label: str, session, now: float, note: str = "") -> str:
    entry = session.entry
    where = entry.cwd if os.path.normcase(entry.cwd) != os.path.normcase(session.project.root) else "."
    text = (
        f"  {label:<13} {printable(entry.session_id)}  pid {entry.pid}  up {format_age(now - entry.started_ts)}"
        f"  {printable(where)}"
    )
    activity = session.activity
    if activity is not None and session.alive:
        doing = {"attention": "NEEDS YOU"}.get(activity.state, activity.state)
        text += f"  [{doing} {format_age(now - activity.since)}]"
        if activity.prompt:
            text += f'  "{printable(activity.prompt)}"'
    return text + (f"  {note}" if note else "")


def _short(session_id: str) -> str:
    return printable(short_id(session_id))


def file_lines(view: ProjectView, files: ProjectFiles, now: float) -> List[str]:
    """What the project's TRAFFIC.md, HANDOVER.md and task lists say, as the tray's menu shows it."""
    lines: List[str] = []
    said = files.traffic
    if said.traffic.problem:
        lines.append(f"  TRAFFIC.md unreadable: {printable(said.traffic.problem)}")
    for session in view.live:
        found = said.sessions.get(session.session_id)
        if found is not None and (found.domain or found.branch or found.claims):
            parts = [printable(part) for part in (found.domain, found.branch) if part]
            if found.claims:
                parts.append("claims " + ", ".join(printable(c) for c in found.claims))
            lines.append(f"  {_short(session.session_id)}: " + " · ".join(parts))
    for clash in said.clashes:
        lines.append(f"  ! {printable(clash.file)} claimed by " + ", ".join(_short(s) for s in clash.session_ids))
    for task_list in files.task_lists:
        lines.append(f"  tasks ({printable(task_list.list_id)}): {task_list.summary()}")
    for session in view.live:
        for task in files.holding.get(session.session_id, ()):
            lines.append(f"  {_short(session.session_id)} holds task #{printable(task.id)}: {printable(task.subject)}")
    if files.handover_modified is not None:
        lines.append(f"  HANDOVER.md: {format_age(now - files.handover_modified)} old")
    return lines


def team_lines(teams: Sequence[Team], snapshot: Snapshot) -> List[str]:
    """Agent teams: the lead as orchestrator, teammates as workers, "unknown" where liveness cannot be known."""
    from tray.core.teams import liveness

    registered = {s.session_id: s.alive for v in snapshot.projects for s in (*v.live, *v.stale)}
    lines: List[str] = []
    for team in teams:
        lines.append("")
        if team.problem:
            lines.append(f"team {printable(team.name)}: unreadable ({printable(team.problem)})")
            continue
        lead_state, mates = liveness(team, registered)
        lead = printable(team.lead.name) if team.lead else "?"
        lines.append(f"team {printable(team.name)}  {printable(team.path)}")
        lines.append(f"  lead (orchestrator)  {lead}  {lead_state}")
        for mate in team.teammates:
            lines.append(f"  teammate (worker)    {printable(mate.name)}  {mates.get(mate.agent_id, 'unknown')}")
    return lines


def render_summary(snapshot: Snapshot, now: Optional[float] = None,
                   files: Optional[Mapping[str, ProjectFiles]] = None, teams: Sequence[Team] = ()) -> str:
    """The summary; with `files` (by project key) and `teams` also what the project files and agent teams say."""
    now = time.time() if now is None else now
    lines: List[str] = [f"Registry: {printable(snapshot.registry)}"]
    if not snapshot.projects and not snapshot.unreadable:
        lines.append("No sessions registered.")
    for view in snapshot.projects:
        lines.append("")
        state = STATE_WORDS.get(view.state, view.state)
        lines.append(f"{printable(view.name)} [{state}]  {printable(view.project.root)}")
        for session in view.orchestrators:
            lines.append(_line("orchestrator", session, now))
        for session in view.vacating:
            lines.append(_line("vacating", session, now))
        for session in view.workers:
            note = "<- suggested successor" if view.suggested is session and view.state != State.OK else ""
            lines.append(_line("worker", session, now, note))
        for session in view.stale:
            lines.append(_line("stale", session, now, f"({session.role}, process gone)"))
        if view.state in (State.ORPHANED, State.VACATING) and view.suggested:
            lines.append(f"  -> orchestray promote {printable(view.suggested.session_id)}")
        gathered = files.get(view.key) if files is not None else None
        if gathered is not None:
            lines.extend(file_lines(view, gathered, now))
    lines.extend(team_lines(teams, snapshot))
    if snapshot.unreadable:
        lines.append("")
        lines.append("Unreadable registry files:")
        for record in snapshot.unreadable:
            lines.append(f"  {printable(os.path.basename(record.path))}: {printable(record.error)}")
    stale = snapshot.stale_count
    if stale:
        lines.append("")
        lines.append(f"{stale} stale entr{'y' if stale == 1 else 'ies'}: run 'orchestray clean' to remove.")
    return "\n".join(lines) + "\n"
