"""What a project's coordination files say, gathered once per poll for the menu: TRAFFIC.md, HANDOVER.md, and
the Claude Code task lists its live sessions use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from tray.core import handover, tasklists, traffic
from tray.core.snapshot import ProjectView, Snapshot


@dataclass(frozen=True)
class ProjectFiles:
    traffic: traffic.ProjectTraffic = field(default_factory=traffic.ProjectTraffic)
    handover_modified: Optional[float] = None  # when HANDOVER.md was last written; None: there is none
    task_lists: Tuple[tasklists.TaskList, ...] = ()
    holding: Dict[str, Tuple[tasklists.Task, ...]] = field(default_factory=dict)  # by session id


def gather_project(view: ProjectView) -> ProjectFiles:
    live = [(s.session_id, s.entry.cwd) for s in view.live]
    lists, holding = tasklists.for_sessions([(s.session_id, s.entry.pid) for s in view.live])
    return ProjectFiles(
        traffic=traffic.for_project(view.project.root, live),
        handover_modified=handover.look(view.project.root).modified,
        task_lists=lists,
        holding=holding,
    )


def gather(snapshot: Optional[Snapshot]) -> Dict[str, ProjectFiles]:
    """ProjectFiles of every project with a live session, by project key (dead projects are not read)."""
    if snapshot is None:
        return {}
    return {view.key: gather_project(view) for view in snapshot.projects if view.live}


Clashes = List[Tuple[str, str, str, Tuple[str, ...]]]


def clashes(snapshot: Optional[Snapshot], files: Dict[str, ProjectFiles]) -> Clashes:
    """(project key, name, file, session ids) of every file two live sessions claim: for `events.ClaimWatcher`."""
    found: Clashes = []
    if snapshot is None:
        return []
    for view in snapshot.projects:
        gathered = files.get(view.key)
        if gathered is None:
            continue
        for clash in gathered.traffic.clashes:
            found.append((view.key, view.name, clash.file, clash.session_ids))
    return found
