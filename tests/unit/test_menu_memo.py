"""The project submenus of the last menu, reused when nothing they are built from changed (`menu.ProjectMenus`):
a change in one project builds that project's items again and no other, and the menu is always the one a full
build gives (the same items, compared as data, at every step)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Dict, Optional, Tuple

from tray.app import menu as m
from tray.core.activity import Activity
from tray.core.entry import new_entry
from tray.core.projects import Project
from tray.core.snapshot import Session, Snapshot, snapshot_from_sessions

NOW = 1_800_000_000.0


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def session(sid: str, role: str, project: Project, pid: int, activity: Optional[Activity] = None) -> Session:
    return Session(new_entry(sid, pid, project.root, role, started_at=_iso(NOW - 90)), True, project, activity)


def snap(*sessions: Session) -> Snapshot:
    return snapshot_from_sessions("/reg", list(sessions), [])


def children(menu: Tuple[m.MenuItem, ...], name: str) -> Tuple[m.MenuItem, ...]:
    return next(item.children for item in menu if f" {name} — " in item.text)


def test_only_the_project_that_changed_is_built_again_and_the_menu_is_what_a_full_build_gives(
        tmp_path: Path) -> None:
    alpha = Project(key=str(tmp_path / "alpha"), root=str(tmp_path / "alpha"), name="alpha")
    beta = Project(key=str(tmp_path / "beta"), root=str(tmp_path / "beta"), name="beta")
    for project in (alpha, beta):
        Path(project.root).mkdir()
    present: Dict[Tuple[str, str], str] = {}

    def find(root: str, name: str) -> Optional[str]:
        return present.get((root, name))

    memo = m.ProjectMenus()
    settings = m.MenuSettings()
    base = [session("a-orch", "orchestrator", alpha, 4001), session("b-orch", "orchestrator", beta, 4002)]

    def build(sessions: list, now: float = NOW, with_settings: m.MenuSettings = settings) -> Tuple[m.MenuItem, ...]:
        shown = m.build_menu(snap(*sessions), with_settings, find, now=now, memo=memo)
        assert shown == m.build_menu(snap(*sessions), with_settings, find, now=now)  # never another menu
        return shown

    first = build(base)
    again = build(base)
    assert children(again, "alpha") is children(first, "alpha")  # nothing changed: not built again
    assert children(again, "beta") is children(first, "beta")

    # A worker joins beta: beta is built again and shows it; alpha is left as it was.
    joined = build(base + [session("b-work", "worker", beta, 4003)])
    assert children(joined, "alpha") is children(first, "alpha")
    assert children(joined, "beta") is not children(first, "beta")
    assert any("b-work" in item.text for item in children(joined, "beta"))

    # The worker starts working: its activity is part of the view, so beta changes again.
    working = build(base + [session("b-work", "worker", beta, 4003, Activity("working", NOW - 5))])
    assert any("working" in item.text for item in children(working, "beta"))
    assert children(working, "alpha") is children(first, "alpha")

    # HANDOVER.md appears in alpha (nothing in the view says so; the file check does).
    present[(alpha.root, m.HANDOVER)] = str(Path(alpha.root, m.HANDOVER))
    created = build(base)
    assert "Open HANDOVER.md" in [item.text for item in children(created, "alpha")]
    # alpha's folder goes away: its "Open folder" is greyed out at once.
    del present[(alpha.root, m.HANDOVER)]
    build(base)
    Path(alpha.root).rmdir()
    gone = build(base)
    assert [item.enabled for item in children(gone, "alpha") if item.text == "Open folder"] == [False]

    # The clock moved (ages) or a setting changed: every project is built again.
    later = build(base, now=NOW + 600)
    assert children(later, "beta") is not children(gone, "beta")
    assert any("up 11m" in item.text for item in children(later, "beta"))
    unfocusable = m.MenuSettings(focus_problem="no window manager")
    changed = build(base, now=NOW + 600, with_settings=unfocusable)
    assert children(changed, "beta") is not children(later, "beta")

    # A project that left the menu is forgotten: the memo holds the last menu's projects only.
    build([base[0]], now=NOW + 600, with_settings=unfocusable)
    assert set(memo._last) == {alpha.key}
