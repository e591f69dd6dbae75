"""Pure tests: snapshot -> menu model, snapshot -> events, and the controller's reactions."""

from __future__ import annotations

import os
import re
from typing import List, Optional, Tuple

from controller_world import RecordingView

from tray.app import menu as m
from tray.app.config import ConfigStore
from tray.app.controller import RateLimiter, TrayController
from tray.core import events
from tray.core.entry import new_entry
from tray.core.projects import Project
from tray.core.registry import Registry
from tray.core.snapshot import Session, Snapshot, snapshot_from_sessions

NOW = 1_800_000_000.0
PROJECT = Project(key="/p/alpha", root="/p/alpha", name="alpha")
OTHER = Project(key="/p/beta", root="/p/beta", name="beta")


def session(sid: str, role: str, alive: bool = True, age: float = 60, project: Project = PROJECT,
            cwd: Optional[str] = None) -> Session:
    entry = new_entry(sid, 1000 + sum(map(ord, sid)) * 7 + len(sid), cwd or project.root, role,
                      started_at=_iso(NOW - age))
    return Session(entry, alive, project)


def _iso(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def snap(*sessions: Session) -> Snapshot:
    return snapshot_from_sessions("/reg", list(sessions), [])


def no_files(root: str, name: str) -> Optional[str]:
    return None


def texts(items: Tuple[m.MenuItem, ...]) -> List[str]:
    return [item.text for item in items if not item.separator]


def flatten(items: Tuple[m.MenuItem, ...]) -> List[m.MenuItem]:
    out: List[m.MenuItem] = []
    for item in items:
        out.append(item)
        out.extend(flatten(item.children))
    return out


# --- states and the menu ---------------------------------------------------------------------------------


STATE_CASES = {
    "ok": (("o", "orchestrator", True), ("w", "worker", True)),
    "orphaned": (("o", "orchestrator", False), ("w", "worker", True)),
    "vacating": (("o", "vacating", True), ("w", "worker", True)),
    "conflict": (("o", "orchestrator", True), ("p", "orchestrator", True)),
    "stale": (("o", "orchestrator", False), ("w", "worker", False)),
}


def test_each_state_has_its_own_label_in_the_menu():
    """The project line tells the five states apart by its mark (first character) and by its words, without
    depending on the session count; a state shown with another state's label or mark fails here."""
    lines = {}
    for state, sessions in STATE_CASES.items():
        snapshot = snap(*(session(sid, role, alive) for sid, role, alive in sessions))
        assert snapshot.projects[0].state == state and snapshot.state == state
        text = m.build_menu(snapshot, m.MenuSettings(), no_files, now=NOW)[0].text
        assert "alpha" in text, text
        mark, words = text.split("alpha", 1)
        lines[state] = (mark.strip(), words.split("(")[0].strip(" —-:"))
    marks = [mark for mark, _ in lines.values()]
    words = [label for _, label in lines.values()]
    assert all(marks) and len(set(marks)) == len(STATE_CASES), lines
    assert all(words) and len(set(words)) == len(STATE_CASES), lines


def test_empty_registry_menu_says_so_and_keeps_the_fixed_items():
    menu = m.build_menu(snap(), m.MenuSettings(notifications=False, autostart=True), no_files, now=NOW)
    assert texts(menu) == [
        "No Claude Code sessions registered",
        "Clean up stale entries",
        "Refresh now",
        "Notifications",
        "Start at login",
        "Open log",
        "Quit",
    ]
    by_text = {item.text: item for item in menu}
    assert by_text["Clean up stale entries"].enabled is False
    assert by_text["Notifications"].checked is False
    assert by_text["Start at login"].checked is True


def test_worker_lines_show_pid_age_folder_and_the_suggested_successor():
    older = session("w-old", "worker", age=7200, cwd="/p/alpha/.worktrees/feature-x")
    younger = session("w-new", "worker", age=30)
    dead = session("o-dead", "orchestrator", alive=False, age=9000)
    menu = m.build_menu(snap(older, younger, dead), m.MenuSettings(), no_files, now=NOW)
    project = menu[0]
    labels = texts(project.children)
    assert "No live orchestrator" in labels
    worker_lines = [item for item in project.children if item.children]
    assert [item.text.split(" · ")[0] for item in worker_lines] == ["w-old", "w-new"]
    assert worker_lines[0].text == f"w-old · pid {older.entry.pid} · up 2h · feature-x  ★ suggested"
    assert "★" not in worker_lines[1].text
    promote = worker_lines[0].children[0]
    assert promote.text == "Promote to orchestrator"
    assert promote.action == m.Action(m.ActionKind.PROMOTE, "w-old", force=False)
    assert any(t.startswith("Stale orchestrator: o-dead") for t in labels)
    clean = next(item for item in menu if item.action == m.Action(m.ActionKind.CLEAN))
    assert clean.text == "Clean up 1 stale entry" and clean.enabled


def test_promote_under_a_live_orchestrator_says_it_demotes_and_forces():
    menu = m.build_menu(snap(session("boss", "orchestrator"), session("w1", "worker")), m.MenuSettings(),
                        no_files, now=NOW)
    promote = next(i for i in flatten(menu) if i.action and i.action.kind == m.ActionKind.PROMOTE)
    assert promote.text == "Promote to orchestrator (demotes boss)"
    assert promote.action.force is True
    assert "★" not in "".join(texts(menu[0].children))  # nothing to suggest while an orchestrator lives


def test_open_items_are_greyed_out_unless_the_file_exists(tmp_path):
    root = tmp_path / "alpha"
    root.mkdir()
    (root / "HANDOVER.md").write_text("# Handover\n")
    project = Project(key=str(root), root=str(root), name="alpha")
    snapshot = snap(session("o", "orchestrator", project=project))

    def find(project_root: str, name: str) -> Optional[str]:
        path = os.path.join(project_root, name)
        return path if os.path.isfile(path) else None

    items = {i.text: i for i in m.build_menu(snapshot, m.MenuSettings(), find, now=NOW)[0].children}
    assert items["Open HANDOVER.md"].enabled and items["Open HANDOVER.md"].action.argument == str(root / "HANDOVER.md")
    assert not items["Open TRAFFIC.md"].enabled and items["Open TRAFFIC.md"].action is None
    assert items["Open folder"].action == m.Action(m.ActionKind.OPEN, str(root))


def test_menu_is_equal_for_equal_snapshots_and_differs_when_state_changes():
    a = m.build_menu(snap(session("o", "orchestrator")), m.MenuSettings(), no_files, now=NOW)
    b = m.build_menu(snap(session("o", "orchestrator")), m.MenuSettings(), no_files, now=NOW + 5)
    c = m.build_menu(snap(session("o", "orchestrator", alive=False)), m.MenuSettings(), no_files, now=NOW)
    assert a == b
    assert a != c


def test_tooltip_is_capped_for_windows():
    many = [session(f"w{i}", "worker", project=Project(f"/p/{i}" * 10, f"/p/{i}", "project-" + "x" * 30))
            for i in range(20)]
    text = m.tooltip(snap(*many))
    assert len(text) <= 127 and text.startswith("Orchestray: 20 project(s), 20 live session(s)")


# --- events ----------------------------------------------------------------------------------------------


def kinds(found: List[events.Event]) -> List[Tuple[str, str]]:
    return [(e.kind, e.project_name) for e in found]


def test_orchestrator_death_is_one_notice_that_names_the_successor():
    before = snap(session("o", "orchestrator"), session("w1", "worker", age=500), session("w2", "worker"))
    after = snap(session("o", "orchestrator", alive=False), session("w1", "worker", age=500),
                 session("w2", "worker"))
    found = events.diff(before, after)
    assert kinds(found) == [(events.EventKind.ORCHESTRATOR_DIED, "alpha")]  # not also "no orchestrator"
    assert found[0].suggested == "w1"
    assert found[0].body == "Orchestrator o stopped running. Promote worker w1 to take over."
    assert events.diff(after, after) == []  # said once per episode


def test_new_episode_after_recovery_is_said_again():
    orphaned = snap(session("w1", "worker"))
    healed = snap(session("w1", "orchestrator"))
    assert kinds(events.diff(None, orphaned)) == [(events.EventKind.PROJECT_ORPHANED, "alpha")]
    assert events.diff(orphaned, healed) == []
    assert kinds(events.diff(healed, orphaned)) == [(events.EventKind.PROJECT_ORPHANED, "alpha")]


def test_vacating_and_conflict_events():
    ok = snap(session("o", "orchestrator"), session("w", "worker"))
    vacating = snap(session("o", "vacating"), session("w", "worker"))
    conflict = snap(session("o", "orchestrator"), session("w", "orchestrator"))
    assert kinds(events.diff(ok, vacating)) == [(events.EventKind.PROJECT_VACATING, "alpha")]
    assert events.diff(ok, vacating)[0].suggested == "w"
    found = events.diff(ok, conflict)
    assert kinds(found) == [(events.EventKind.PROJECT_CONFLICT, "alpha")]
    assert "o and w" in found[0].body


def test_clean_deregistration_is_not_a_death_and_other_projects_are_independent():
    before = snap(session("o", "orchestrator"), session("b", "orchestrator", project=OTHER))
    after = snap(session("b", "orchestrator", project=OTHER))
    assert events.diff(before, after) == []


# --- controller ------------------------------------------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_waits_a_minute():
    clock = [0.0]
    limiter = RateLimiter(3, clock=lambda: clock[0])
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    clock[0] = 61
    assert limiter.allow()


def test_a_burst_of_events_gives_six_notifications_and_one_summary(tmp_path, procs):
    """Ten orchestrators die at once: ten events (one per death; the orphaned project it leaves is part of it).
    The user gets six notifications (the default limit of six a minute), then, once the minute is over, one
    summary of the other four; and nothing more while nothing new happens."""
    from tray.core.actions import register

    registry = Registry(str(tmp_path / "reg"))
    bosses = []
    for index in range(10):
        folder = tmp_path / f"project-{index}"
        folder.mkdir()
        boss, worker = procs.many(2)
        assert register(registry, f"boss-{index}", boss.pid, str(folder)).entry.role == "orchestrator"
        assert register(registry, f"w-{index}", worker.pid, str(folder)).entry.role == "worker"
        bosses.append(boss)
    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=no_files)
    clock = [5000.0]
    controller.limiter.clock = lambda: clock[0]  # the minute passes without waiting for it
    assert controller.poll_once() == [] and view.notes == []
    for boss in bosses:
        procs.kill(boss)

    found = controller.poll_once()
    assert len(found) == 10
    assert view.notes == [(event.title, event.body) for event in found[:6]]

    for seconds in (1, 30, 59):  # within the minute: held back, however often the tray polls
        clock[0] = 5000.0 + seconds
        assert controller.poll_once() == []
        assert len(view.notes) == 6
    clock[0] = 5061.0
    assert controller.poll_once() == []
    assert len(view.notes) == 7
    title, body = view.notes[6]
    assert re.search(r"\b4\b", title + " " + body), view.notes[6]  # the four that were not said
    for seconds in (62, 200):
        clock[0] = 5000.0 + seconds
        controller.poll_once()
    assert len(view.notes) == 7  # the summary is said once


def test_the_limit_comes_from_config_and_the_rest_is_summed_up(tmp_path, procs):
    """The limit comes from config.json (`notify_per_minute`); what is over it is summed up, not dropped."""
    from tray.core.actions import register

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"notify_per_minute": 2}')
    registry = Registry(str(tmp_path / "reg"))
    bosses = []
    for index in range(6):  # 6 deaths = 6 events (one each), limit 2: 2 said, 4 summed up
        folder = tmp_path / f"project-{index}"
        folder.mkdir()
        boss, worker = procs.many(2)
        register(registry, f"boss-{index}", boss.pid, str(folder))
        register(registry, f"w-{index}", worker.pid, str(folder))
        bosses.append(boss)
    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=no_files)
    clock = [0.0]
    controller.limiter.clock = lambda: clock[0]
    controller.poll_once()
    for boss in bosses:
        procs.kill(boss)
    assert len(controller.poll_once()) == 6
    assert len(view.notes) == 2
    clock[0] = 60.0
    controller.poll_once()
    assert len(view.notes) == 3 and re.search(r"\b4\b", " ".join(view.notes[2]))


def test_controller_updates_view_only_on_change_and_saves_the_toggle(tmp_path, sleeper):
    registry = Registry(str(tmp_path / "reg"))
    from tray.core.actions import register

    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=no_files)
    controller.poll_once()
    controller.poll_once()
    assert len(view.shown) == 1 and view.shown[0][0] == "none"
    register(registry, "s1", sleeper.pid, str(tmp_path))
    controller.poll_once()
    assert len(view.shown) == 2 and view.shown[1][0] == "ok"
    controller.perform(m.Action(m.ActionKind.TOGGLE_NOTIFICATIONS))
    assert ConfigStore(str(tmp_path / "cfg")).load().notifications is False
    notifications = next(i for i in view.shown[-1][3] if i.text == "Notifications")
    assert notifications.checked is False


def test_two_entries_of_one_process_are_not_a_conflict():
    """Mid-`/clear`: the new session id of the same process is written before the old one is removed."""
    old = session("old-id", "orchestrator")
    new = Session(old.entry.replace(session_id="new-id"), True, PROJECT)
    snapshot = snap(old, new, session("w", "worker"))
    assert snapshot.projects[0].state == "ok"
    assert events.diff(snap(old, session("w", "worker")), snapshot) == []
