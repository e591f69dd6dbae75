"""What a project's coordination files say, gathered for the menu at each look: TRAFFIC.md, HANDOVER.md, and
the Claude Code task lists its live sessions use.

While the tray's change watcher misses nothing, a look gathers again only the projects whose live sessions or
followed folders (`followed_folders`: the root, the task lists' folders, the config folders' `tasks`) changed;
the others keep what they had (`update`). Only the branch each session has checked out is asked again for
those, when TRAFFIC.md is readable: no watch follows a checkout, and TRAFFIC.md's rows are matched by branch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Dict, List, Mapping, Optional, Tuple

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


def inputs(view: ProjectView) -> Tuple[object, ...]:
    """What a project's files are gathered for besides the files themselves: its root and live sessions."""
    return (view.project.root,) + tuple((s.session_id, s.entry.cwd, s.entry.pid) for s in view.live)


def followed_folders(view: ProjectView, files: Optional[ProjectFiles]) -> List[str]:
    """The folders whose change may change what `gather_project` finds for `view`: its root (TRAFFIC.md,
    HANDOVER.md), its task lists' folders, and the `tasks` folder of each live session's config folder (a
    list created there). The tray watches these and gathers a project again when one of them changed."""
    folders = {view.project.root}
    if files is not None:
        folders.update(task_list.folder for task_list in files.task_lists)
    for session in view.live:
        place = tasklists.session_place(session.session_id, session.entry.pid)
        folders.add(os.path.join(place.config, "tasks"))
    return sorted(folder for folder in folders if folder)


#: By project key: what its files were gathered for (`inputs`), the files, the folders followed, and the view.
Gathered = Dict[str, Tuple[Tuple[object, ...], ProjectFiles, List[str], ProjectView]]


def update(snapshot: Snapshot, kept: Gathered, changes: Optional[Mapping[str, object]]) -> Gathered:
    """ProjectFiles of every project with a live session, by key, with their inputs and followed folders:
    gathered again where `changes` (the folders the change watcher logged; None: unknown) touches one of the
    project's followed folders or its live sessions changed, else `kept`'s (with the branches asked again when
    TRAFFIC.md is readable)."""
    fresh: Gathered = {}
    for view in snapshot.projects:
        if not view.live:
            continue
        old = kept.get(view.key)
        wanted = old[0] if old is not None and old[3] is view else inputs(view)  # the same view: the same inputs
        if changes is not None and old is not None and old[0] == wanted and not any(f in changes for f in old[2]):
            fresh[view.key] = (wanted, _rematch(view, old[1]), old[2], view)
            continue
        found = gather_project(view)
        fresh[view.key] = (wanted, found, followed_folders(view, found), view)
    return fresh


def _rematch(view: ProjectView, files: ProjectFiles) -> ProjectFiles:
    """`files` with TRAFFIC.md's rows matched again to the branches checked out now (nothing is re-read)."""
    parsed = files.traffic.traffic
    if not parsed.readable:
        return files
    root = view.project.root
    matched = traffic.for_sessions(parsed, [(s.session_id, traffic.git_branch(s.entry.cwd, root)) for s in view.live])
    return files if matched == files.traffic else replace(files, traffic=matched)


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
