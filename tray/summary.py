"""`orchestray check`: the human summary of every project, as plain text.

Every string that comes from the registry (folders, ids, prompts, file names, errors) goes through
`fmt.printable` first: a folder named with an escape sequence or a newline must not drive the user's terminal or
fake a line of the summary, and still shows which folder it is.
"""

from __future__ import annotations

import os
import time
from typing import List, Optional

from tray.core.fmt import format_age, printable
from tray.core.snapshot import Snapshot, State

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


def render_summary(snapshot: Snapshot, now: Optional[float] = None) -> str:
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
