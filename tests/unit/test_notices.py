"""One notice per episode, its texts and buttons, what the buttons do (re-checked against the registry), the
menu's clarity fixes, and desktop-notifier on its own loop thread (with a stand-in for the library)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest
from controller_world import NOW, ORCH, W_NEW, W_OLD, ButtonView, session

from tray.app import menu as m
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import actions, events
from tray.core.projects import Project, ProjectResolver, project_name
from tray.core.registry import Registry
from tray.core.snapshot import Session, snapshot_from_sessions
from tray.platform import notify, notify_buttons
from tray.platform.focus_base import FocusResult


def snap(*sessions: Session):
    return snapshot_from_sessions("/reg", list(sessions), [])


# --- one notice per episode --------------------------------------------------------------------------------


def test_a_death_is_one_notice_with_project_first_short_ids_and_the_action_in_words():
    before = snap(session(ORCH, "orchestrator"), session(W_OLD, "worker", age=900), session(W_NEW, "worker"))
    after = snap(session(ORCH, "orchestrator", alive=False), session(W_OLD, "worker", age=900),
                 session(W_NEW, "worker"))
    (notice,) = events.diff(before, after)
    assert notice.title == "alpha: orchestrator died"
    assert notice.body == "Orchestrator 7c1e2a90 stopped running. Promote worker 3e8a6c55 to take over."
    assert [(o.kind, o.label, o.target) for o in notice.offers] == [
        (events.OfferKind.PROMOTE, "Promote 3e8a6c55", W_OLD),
        (events.OfferKind.FOCUS, "Focus 3e8a6c55", W_OLD),
    ]
    assert notice.click == events.Offer(events.OfferKind.FOCUS, "Focus 3e8a6c55", W_OLD)
    assert events.diff(after, after) == []


def test_two_orchestrators_dying_at_once_are_still_one_notice():
    before = snap(session(ORCH, "orchestrator"), session(W_NEW, "orchestrator"), session(W_OLD, "worker"))
    after = snap(session(ORCH, "orchestrator", False), session(W_NEW, "orchestrator", False),
                 session(W_OLD, "worker"))
    (notice,) = events.diff(before, after)
    assert notice.kind == events.EventKind.ORCHESTRATOR_DIED
    assert notice.body.startswith("Orchestrator 7c1e2a90 and 9b4f0d11 stopped running.")


def test_one_of_two_orchestrators_dying_offers_no_promotion():
    before = snap(session(ORCH, "orchestrator"), session(W_NEW, "orchestrator"), session(W_OLD, "worker"))
    after = snap(session(ORCH, "orchestrator", False), session(W_NEW, "orchestrator"), session(W_OLD, "worker"))
    (notice,) = events.diff(before, after)
    assert notice.body == "Orchestrator 7c1e2a90 stopped running. Orchestrator 9b4f0d11 is still running."
    assert notice.offers == () and notice.click is None


def test_death_with_no_worker_says_what_to_do():
    (notice,) = events.diff(snap(session(ORCH, "orchestrator")), snap(session(ORCH, "orchestrator", False)))
    assert notice.body == ("Orchestrator 7c1e2a90 stopped running. No live worker to take over: start a new "
                           "session there.")
    assert notice.offers == ()


def test_orphaned_without_a_death_and_vacating_offer_their_buttons():
    (orphaned,) = events.diff(None, snap(session(W_OLD, "worker")))
    assert orphaned.kind == events.EventKind.PROJECT_ORPHANED
    assert orphaned.body == "Workers are running without an orchestrator. Promote worker 3e8a6c55 to take over."
    assert [o.label for o in orphaned.offers] == ["Promote 3e8a6c55", "Focus 3e8a6c55"]
    ok = snap(session(ORCH, "orchestrator"), session(W_OLD, "worker"))
    (vacating,) = events.diff(ok, snap(session(ORCH, "vacating"), session(W_OLD, "worker")))
    assert vacating.body == ("Orchestrator 7c1e2a90 wrote its handover. Read HANDOVER.md, then promote worker "
                             "3e8a6c55.")
    assert [(o.kind, o.label, o.target) for o in vacating.offers] == [
        (events.OfferKind.PROMOTE, "Promote 3e8a6c55", W_OLD),
        (events.OfferKind.OPEN_HANDOVER, "Open HANDOVER.md", "/p/alpha"),
    ]


def test_waiting_sessions_offer_focus_with_a_short_id():
    notice = events.SessionEvent(events.EventKind.SESSION_NEEDS_YOU, W_OLD, "alpha", detail="permission to use Bash")
    assert notice.body == "Session 3e8a6c55 is asking for an answer (permission to use Bash): focus it to answer."
    assert [(o.kind, o.label) for o in notice.offers] == [(events.OfferKind.FOCUS, "Focus")]
    assert notice.click is not None and notice.click.target == W_OLD


# --- menu clarity ------------------------------------------------------------------------------------------


def no_files(root: str, name: str) -> Optional[str]:
    return None


def test_the_orchestrator_line_is_live_not_greyed_and_ages_have_a_word():
    orch = session(ORCH, "orchestrator", age=1)
    (project, *_rest) = m.build_menu(snap(orch, session(W_OLD, "worker", age=300)), m.MenuSettings(), no_files,
                                     now=NOW)
    line = project.children[0]
    assert line.enabled and line.text == f"Orchestrator: 7c1e2a90 · pid {orch.entry.pid} · up <1m"
    assert [(c.text, c.action) for c in line.children] == [
        ("Focus terminal", m.Action(m.ActionKind.FOCUS, ORCH)),
        ("Open folder", m.Action(m.ActionKind.OPEN, "/p/alpha")),
    ]
    worker = next(item for item in project.children if item.text.startswith("3e8a6c55"))
    assert " · up 5m" in worker.text
    assert [c.text for c in worker.children] == ["Promote to orchestrator (demotes 7c1e2a90)", "Focus terminal",
                                                 "Open folder"]


def test_focus_says_why_where_it_cannot_work():
    settings = m.MenuSettings(focus_problem="Wayland lets no app raise another's window")
    (project, *_rest) = m.build_menu(snap(session(ORCH, "orchestrator")), settings, no_files, now=NOW)
    focus = project.children[0].children[0]
    assert focus.text == "Focus terminal: Wayland lets no app raise another's window"
    assert not focus.enabled and focus.action is None


def test_a_stale_project_counts_and_shows_its_stale_entries():
    stale = snap(session(ORCH, "orchestrator", False), session(W_OLD, "worker", False))
    (project, *_rest) = m.build_menu(stale, m.MenuSettings(), no_files, now=NOW)
    assert project.text == "○ alpha — stale (2 stale entries)"
    shown = [c.text for c in project.children if not c.separator]
    assert f"Stale orchestrator: 7c1e2a90 · pid {stale.sessions[0].entry.pid} gone" in shown
    assert f"Stale worker: 3e8a6c55 · pid {stale.sessions[1].entry.pid} gone" in shown
    mixed = snap(session(W_OLD, "worker"), session(ORCH, "orchestrator", False))
    assert m.project_label(mixed.projects[0]) == "▲ alpha — no orchestrator (1 session, 1 stale)"


@pytest.mark.parametrize("weird", ["/p/alpha/two\nlines", "/p/alpha/esc\x1b[31mred\x07", "/p/alpha/tab\there\r"])
def test_a_cwd_with_control_characters_gives_one_line_items(weird: str):
    project = Project(key=weird, root=weird, name=os.path.basename(weird))
    worker = session(W_OLD, "worker", cwd=weird, project=project)
    sub = session(W_NEW, "worker", cwd=weird + "/sub\nfolder", project=project)
    menu = m.build_menu(snap(worker, sub), m.MenuSettings(), no_files, now=NOW)

    def every(items: Tuple[m.MenuItem, ...]) -> List[m.MenuItem]:
        out: List[m.MenuItem] = []
        for item in items:
            out += [item, *every(item.children)]
        return out

    for item in every(menu):
        assert not any(ord(c) < 32 or ord(c) == 127 for c in item.text), repr(item.text)
    assert menu[0].text.startswith("▲ ") and "\n" not in menu[0].text
    assert any("sub folder" in item.text for item in every(menu))


def test_root_and_file_cwds_get_sensible_project_names(tmp_path: Path):
    resolver = ProjectResolver()
    assert resolver.resolve("/").name == "filesystem root"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    project = resolver.resolve(str(a_file))
    assert project.root == str(tmp_path) and project.name == tmp_path.name  # the folder holding it
    import ntpath

    assert project_name("C:\\", ntpath) == "drive C:"
    assert project_name("C:\\work\\shop", ntpath) == "shop"


# --- notice buttons through the controller -----------------------------------------------------------------


def _controller(tmp_path: Path, view: ButtonView, focus=None, opened=None) -> TrayController:
    files = {"HANDOVER.md": str(tmp_path / "HANDOVER.md")}
    return TrayController(
        Registry(str(tmp_path / "reg")), view, ConfigStore(str(tmp_path / "cfg")),
        find_file=lambda root, name: files.get(name) if os.path.exists(files.get(name, "")) else None,
        open_path=(opened.append if opened is not None else None),
        focus=focus, focus_problem="",
    )


def test_promote_button_promotes_and_a_stale_button_is_refused_in_a_notice(tmp_path: Path, procs):
    orch, old, new = procs.spawn(), procs.spawn(), procs.spawn()
    registry = Registry(str(tmp_path / "reg"))
    actions.register(registry, ORCH, orch.pid, str(tmp_path))
    actions.register(registry, W_OLD, old.pid, str(tmp_path))
    actions.register(registry, W_NEW, new.pid, str(tmp_path))
    view = ButtonView()
    controller = _controller(tmp_path, view)
    controller.poll_once()
    procs.kill(orch)
    controller.poll_once()
    assert [(t, [b.label for b in buttons]) for t, _b, buttons, _c in view.notes] == [
        (f"{tmp_path.name}: orchestrator died", ["Promote 3e8a6c55", "Focus 3e8a6c55"])
    ]
    view.press(0, "Promote")
    assert registry.get(W_OLD).role == "orchestrator"
    assert not os.path.exists(registry.path_for(ORCH))  # the dead orchestrator's entry went with it
    # The same button again, and then a button of an older notice whose worker died meanwhile: refused, said.
    view.press(0, "Promote")
    assert registry.get(W_OLD).role == "orchestrator" and len(view.notes) == 1  # already: nothing to say
    procs.kill(new)
    controller.perform_offer(events.Offer(events.OfferKind.PROMOTE, "Promote 9b4f0d11", W_NEW))
    title, body, _buttons, _click = view.notes[-1]
    assert title == "Orchestray: not promoted"
    assert body == f"{tmp_path.name}: session 9b4f0d11 is no longer running (pid {new.pid})"
    assert registry.get(W_OLD).role == "orchestrator"


def test_promote_button_never_demotes_an_orchestrator_that_arrived_meanwhile(tmp_path: Path, procs):
    a, b = procs.spawn(), procs.spawn()
    registry = Registry(str(tmp_path / "reg"))
    actions.register(registry, W_OLD, a.pid, str(tmp_path), role="worker")
    actions.register(registry, W_NEW, b.pid, str(tmp_path), role="worker")
    view = ButtonView()
    controller = _controller(tmp_path, view)
    controller.poll_once()
    assert view.notes[0][0] == f"{tmp_path.name}: no orchestrator"
    actions.promote(registry, W_NEW)  # someone took over from the menu meanwhile
    view.press(0, "Promote")
    assert registry.get(W_NEW).role == "orchestrator" and registry.get(W_OLD).role == "worker"
    assert view.notes[-1][:2] == ("Orchestray: not promoted",
                                  f"{tmp_path.name}: 9b4f0d11 is the orchestrator now; nothing changed")


def test_focus_and_handover_buttons(tmp_path: Path, procs):
    worker, orch = procs.spawn(), procs.spawn()
    registry = Registry(str(tmp_path / "reg"))
    actions.register(registry, ORCH, orch.pid, str(tmp_path))
    actions.register(registry, W_OLD, worker.pid, str(tmp_path))
    focused: List[int] = []
    opened: List[str] = []

    def focus(pid: int) -> FocusResult:
        focused.append(pid)
        return FocusResult(False, "no terminal window found among its parent processes (ssh, or another display?)")

    view = ButtonView()
    controller = _controller(tmp_path, view, focus=focus, opened=opened)
    controller.poll_once()
    actions.vacate(registry, ORCH)
    controller.poll_once()
    title, body, buttons, click = view.notes[-1]
    assert title == f"{tmp_path.name}: orchestrator is handing over"
    assert [b.label for b in buttons] == ["Promote 3e8a6c55", "Open HANDOVER.md"]
    view.press(-1, "Open HANDOVER.md")
    assert view.notes[-1][:2] == ("Orchestray: cannot open HANDOVER.md",
                                  f"{tmp_path.name}: there is no HANDOVER.md (any more)")
    (tmp_path / "HANDOVER.md").write_text("notes")
    view.press(-2, "Open HANDOVER.md")
    assert opened == [str(tmp_path / "HANDOVER.md")]
    assert click.label == "Focus 3e8a6c55"  # the click's words, where a server lists it (dunst's context menu)
    click()  # the body: focus the successor
    assert focused == [worker.pid]
    assert view.notes[-1][:2] == (
        "Orchestray: cannot focus",
        f"{tmp_path.name}: cannot focus 3e8a6c55: no terminal window found among its parent processes "
        "(ssh, or another display?)",
    )


# --- desktop-notifier on its own loop, with a stand-in for the library ----------------------------------


class FakeLibraryNotifier:
    """Behaves like desktop_notifier.DesktopNotifier: async send, callbacks later, failures logged not raised."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: List[dict] = []
        self.threads: List[str] = []

    async def send(self, **kwargs: Any) -> str:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            import logging

            logging.getLogger("desktop_notifier.backends.base").warning("Notification failed",
                                                                        exc_info=OSError("no bus"))
            return "id"
        self.sent.append(kwargs)
        kwargs["on_dispatched"]()
        return "id"


def test_desktop_notifier_runs_on_its_own_thread_and_buttons_run_off_it(tmp_path: Path):
    library = FakeLibraryNotifier()
    notifier = notify_buttons.DesktopNotifierNotifier(factory=lambda: library)
    pressed = threading.Event()
    where: List[str] = []

    def run() -> None:
        where.append(threading.current_thread().name)
        pressed.set()

    try:
        assert notifier.notify("alpha: orchestrator died\n", "body", buttons=[notify.Button("Promote 3e8a6c55", run)],
                               on_click=run) is True
        assert library.threads == ["orchestray-notify"]
        (sent,) = library.sent
        assert sent["title"] == "alpha: orchestrator died" and [b.title for b in sent["buttons"]] == [
            "Promote 3e8a6c55"]
        sent["buttons"][0].on_pressed()  # what the library does when the user presses the button
        assert pressed.wait(5) and where == ["orchestray-notice-action"]
    finally:
        notifier.close()
    assert not any(t.name == "orchestray-notify" for t in threading.enumerate())


def test_the_click_on_the_body_is_labelled_in_the_notify_call_or_not_offered():
    """desktop-notifier sends the "default" action (the click on the body) with an empty label; the D-Bus Notify
    call goes out with the click's own words instead, or without a "default" action when a click does nothing.
    The other pairs stay as they are."""
    sent = ["default", "", "4f1c-id", "Promote 3e8a6c55"]
    assert notify_buttons.with_click_label(sent, "Focus 3e8a6c55") == [
        "default", "Focus 3e8a6c55", "4f1c-id", "Promote 3e8a6c55"]
    assert notify_buttons.with_click_label(sent, None) == ["4f1c-id", "Promote 3e8a6c55"]
    assert notify_buttons.with_click_label(["default", ""], None) == []
    assert notify_buttons.with_click_label(["4f1c-id", "Promote 3e8a6c55"], "Show") == ["4f1c-id", "Promote 3e8a6c55"]


def test_a_menu_server_names_a_button_that_does_what_the_click_does_once():
    """dunst and mako list a notice's actions, the click among them, in one menu: a "Focus 3e8a6c55" button
    beside a click with the same words would be listed twice, so there the button is left out (the click does
    the same). Servers that draw buttons (GNOME, KDE) keep it: they never show the click's words."""
    sent = ["default", "", "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"]
    assert notify_buttons.with_click_label(sent, "Focus 3e8a6c55", menu_server=True) == [
        "default", "Focus 3e8a6c55", "b-1", "Promote 3e8a6c55"]
    assert notify_buttons.with_click_label(sent, "Focus 3e8a6c55") == [
        "default", "Focus 3e8a6c55", "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"]
    # No click offered: nothing stands in for the button, so it stays.
    assert notify_buttons.with_click_label(sent, None, menu_server=True) == [
        "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"]
    assert notify_buttons.with_click_label(sent[2:], "Focus 3e8a6c55", menu_server=True) == sent[2:]


@pytest.mark.parametrize("server, listed", [
    ("dunst", ["default", "Focus 3e8a6c55", "b-1", "Promote 3e8a6c55"]),
    ("gnome-shell", ["default", "Focus 3e8a6c55", "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"]),
    (None, ["default", "Focus 3e8a6c55", "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"]),  # cannot ask
])
def test_label_the_click_asks_the_server_its_name_once(server, listed):
    """The wrapped D-Bus proxy (what desktop-notifier's backend makes) asks GetServerInformation when it is made,
    and its Notify calls carry the click's words, the duplicate button dropped only on a menu server."""
    import asyncio

    calls: List[List[str]] = []
    asked: List[str] = []

    class Interface:
        async def call_notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
            calls.append(list(actions))
            return 7

        async def call_get_server_information(self):
            asked.append("info")
            if server is None:
                raise RuntimeError("org.freedesktop.DBus.Error.UnknownMethod")
            return [server, "vendor", "1.0", "1.2"]

    class Backend:
        interface = None

        async def _init_dbus(self):
            self.interface = Interface()
            return self.interface

    class Library:
        _backend = Backend()

    library = Library()
    assert notify_buttons.label_the_click(library) is True

    async def run() -> None:
        interface = await library._backend._init_dbus()
        notify_buttons._click_label.set("Focus 3e8a6c55")
        await interface.call_notify("Orchestray", 0, "", "s", "b",
                                    ["default", "", "b-1", "Promote 3e8a6c55", "b-2", "Focus 3e8a6c55"], {}, -1)

    asyncio.run(run())
    assert calls == [listed] and asked == ["info"]


def test_a_failing_desktop_notifier_falls_back_to_the_rest_of_the_chain(caplog):
    broken = notify_buttons.DesktopNotifierNotifier(factory=lambda: FakeLibraryNotifier(fail=True))

    class Plain:
        name = "plain"
        got: List[Tuple[str, str]] = []

        def notify(self, title: str, body: str) -> bool:
            self.got.append((title, body))
            return True

    plain = Plain()
    chain = notify.ChainNotifier([broken, plain])
    try:
        assert chain.notify("t", "b", buttons=[notify.Button("Focus", lambda: None)]) is True
    finally:
        chain.close()
    assert plain.got == [("t", "b")] and chain.working == "plain"
    assert "desktop-notifier failed: Notification failed: OSError: no bus" in caplog.text


def test_a_dummy_backend_is_not_a_notifier():
    class DummyNotificationCenter:
        pass

    class Library:
        _backend = DummyNotificationCenter()

    notifier = notify_buttons.DesktopNotifierNotifier(factory=Library)
    assert notifier.notify("t", "b") is False and "no native backend" in notifier.last_error


def test_windows_app_user_model_id_is_set_through_shell32():
    calls: List[str] = []

    class Shell32:
        def SetCurrentProcessExplicitAppUserModelID(self, app_id: str) -> int:  # noqa: N802 - the Win32 name
            calls.append(app_id)
            return 0

    assert notify_buttons.set_app_user_model_id(Shell32(), platform="win32") is True
    assert calls == ["Orchestray"]
    assert notify_buttons.set_app_user_model_id(Shell32(), platform="linux") is False and calls == ["Orchestray"]


def test_the_tray_chain_puts_desktop_notifier_first():
    assert [n.name for n in notify_buttons.tray_chain("darwin")] == ["desktop-notifier", "osascript"]
    assert [n.name for n in notify_buttons.tray_chain("win32")] == ["desktop-notifier", "plyer"]
    assert [n.name for n in notify.build_chain("darwin")] == ["osascript"]  # one-shot callers: no buttons


def test_a_library_that_cannot_start_leaves_no_thread_behind():
    def broken() -> Any:
        raise ImportError("No module named 'dbus_fast'")

    notifier = notify_buttons.DesktopNotifierNotifier(factory=broken)
    assert notifier.notify("t", "b") is False
    assert notifier.last_error == "ImportError: No module named 'dbus_fast'"
    assert not any(t.name == "orchestray-notify" for t in threading.enumerate())
    assert notifier.notify("t", "b") is False  # decided once: not retried on every notice


def test_a_hanging_send_is_given_up_after_the_timeout_and_the_chain_goes_on():
    import asyncio

    class Hanging:
        async def send(self, **kwargs: Any) -> str:
            await asyncio.sleep(30)
            return "never"

    class Plain:
        name = "plain"

        def notify(self, title: str, body: str) -> bool:
            return True

    chain = notify.ChainNotifier([notify_buttons.DesktopNotifierNotifier(factory=Hanging, timeout=0.3), Plain()])
    try:
        assert chain.notify("t", "b") is True and chain.working == "plain"
        assert chain.chain[0].last_error == "no answer within 0.3 s"
    finally:
        chain.close()


def test_self_test_reports_a_missing_desktop_notifier_backend(monkeypatch):
    """A frozen build that lacks desktop-notifier's backend fails its self-test (instead of quietly losing the
    buttons on the user's desktop)."""
    import sys as _sys

    from tray import selftest

    monkeypatch.setitem(_sys.modules, "desktop_notifier.backends.winrt", None)  # import fails, as if not bundled
    check = selftest._run(selftest.Check("notification_buttons"),
                          lambda c: selftest.check_desktop_notifier(c, "win32"))
    assert not check.ok and check.error.startswith(
        "desktop-notifier cannot load desktop_notifier.backends.winrt: ")
    assert check.detail["modules"] == ["desktop_notifier", "desktop_notifier.resources"]


def test_warm_up_connects_before_the_first_notice_and_a_notice_waits_for_it():
    import asyncio

    order: List[str] = []
    gate = threading.Event()

    class Slow(FakeLibraryNotifier):
        async def get_capabilities(self) -> frozenset:
            await asyncio.get_running_loop().run_in_executor(None, gate.wait, 5)
            order.append("connected")
            return frozenset()

        async def send(self, **kwargs: Any) -> str:
            order.append("sent")
            return await super().send(**kwargs)

    notifier = notify_buttons.DesktopNotifierNotifier(factory=Slow)
    chain = notify.ChainNotifier([notifier])
    try:
        chain.warm_up()  # returns at once
        sender = threading.Thread(target=chain.notify, args=("t", "b"))
        sender.start()
        sender.join(1.0)  # a bounded look for something that must not happen: a send before the connection
        assert sender.is_alive() and order == []
        gate.set()
        sender.join(10)
        assert order == ["connected", "sent"] and chain.working == "desktop-notifier"
    finally:
        chain.close()
