"""The pystray view's platform rules, reached on Linux through fake native boundaries.

macOS (issue 17 items 2 and 3): pystray 0.19.5's real `_darwin.py` runs on a fake AppKit that fails on any call
off the main thread (tests/support/fake_appkit.py). A control test shows the fake catches what pystray does on
its own (`icon.visible = True` in `setup`); the view's tests show nothing reaches AppKit off the main thread and
every image handed to the status item is already a template image.

Windows (items 7 and 8): pystray 0.19.5's real `_win32.py` runs on a fake `ctypes.windll`
(tests/support/fake_win32.py): a left click (WM_LBUTTONUP, as Windows sends it) must pop up the menu
(TrackPopupMenuEx) and the item picked there must run; the tooltip must reach Shell_NotifyIconW within
`WCHAR[128]` counted in UTF-16 units, where pystray alone, given an emoji folder name, fails as Windows would.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

import pytest
from fake_appkit import OffMainThread, load_darwin_backend, run_on_main
from fake_win32 import load_win32_backend

from tray.app import pystray_view
from tray.app.menu import Action, MenuItem
from tray.app.pystray_view import PystrayView

MENU = (
    MenuItem("● proj — ok (1 session)", children=(MenuItem("Open folder", Action("open", "/tmp")),)),
    MenuItem(separator=True),
    MenuItem("Notifications", Action("toggle-notifications"), checked=True),
    MenuItem("Quit", Action("quit")),
)


# --- macOS: the main thread and the template image -----------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_the_fake_appkit_catches_pystrays_own_setup_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: pystray's plain darwin Icon, shown from `setup` as pystray's docs say, touches AppKit off the
    main thread. The fake must see that, or the tests below prove nothing."""
    backend = load_darwin_backend(monkeypatch)
    icon = backend.pystray.Icon("plain", icon=pystray_view.render_icon("ok", 0, 64), title="plain")
    raised: List[BaseException] = []

    def setup(icon: Any) -> None:
        try:
            icon.visible = True
        except OffMainThread as error:
            raised.append(error)
        finally:
            from PyObjCTools import AppHelper  # the fake's

            AppHelper.callAfter(icon.stop)

    run_on_main(backend, icon, setup)
    assert raised, "pystray's own setup thread reached AppKit and the fake did not notice"
    assert {c.method for c in backend.boundary.violations} & {"setImage_", "setToolTip_", "setHidden_", "thickness"}


def test_view_touches_appkit_only_on_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = load_darwin_backend(monkeypatch)
    performed: List[Action] = []
    view = PystrayView(backend.pystray, performed.append, platform="darwin")
    worker_done = threading.Event()
    worker_errors: List[BaseException] = []

    def worker() -> None:  # the controller's poll thread
        try:
            assert wait_until(lambda: backend.button.state.get("Hidden") is False), "the icon was never shown"
            view.show("orphaned", 1, "Orchestray: 1 project, no orchestrator", MENU)
            view.show("ok", 2, "Orchestray: all ok", MENU)
            view.icon.title = "set directly from a worker"  # pystray's own setter, forwarded by the subclass
            view.show("conflict", 0, "Orchestray: 2+ orchestrators", MENU)
        except BaseException as error:  # noqa: BLE001 - reported below
            worker_errors.append(error)
        finally:
            worker_done.set()
            view.stop()

    view.run(on_ready=lambda: threading.Thread(target=worker, name="orchestray-poll").start())

    assert worker_done.is_set() and not worker_errors
    assert backend.boundary.violations == []
    button = backend.button
    assert button.state["Hidden"] is False  # shown
    assert button.state["ToolTip"] == "Orchestray: 2+ orchestrators"  # the last update won: order was kept
    menus = [c for c in backend.boundary.calls if c.method == "setMenu_"]
    assert menus and menus[-1].args[0] is not None
    titles = [c.args[0] for c in backend.boundary.calls if c.method == "initWithTitle_action_keyEquivalent_"]
    assert "Quit" in titles and "Open folder" in titles


def test_every_status_item_image_is_a_template_when_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = load_darwin_backend(monkeypatch)
    view = PystrayView(backend.pystray, lambda _a: None, platform="darwin")

    def on_ready() -> None:
        def worker() -> None:
            for state in ("ok", "orphaned", "vacating", "conflict"):
                view.show(state, 0, f"Orchestray: {state}", MENU)
            view.stop()

        threading.Thread(target=worker).start()

    view.run(on_ready)
    calls = backend.boundary.calls
    set_images = [i for i, c in enumerate(calls) if c.method == "setImage_"]
    assert len(set_images) >= 5  # the first image, then one per state
    for index in set_images:
        image = calls[index].args[0]
        marked = [i for i, c in enumerate(calls[:index]) if c.obj is image and c.method == "setTemplate_"]
        assert marked and calls[marked[-1]].args == (True,), "an image reached the button before it was a template"
        sized = [c.args for c in calls[:index] if c.obj is image and c.method == "setSize_"]
        assert sized == [((22.0, 22.0),)]  # points, from the 64 px render: sharp on Retina
    assert backend.button.image().isTemplate()
    assert backend.boundary.violations == []


def test_view_stop_from_another_thread_ends_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal handler or the Quit action may stop the tray from any thread."""
    backend = load_darwin_backend(monkeypatch)
    view = PystrayView(backend.pystray, lambda _a: None, platform="darwin")
    view.run(on_ready=lambda: threading.Thread(target=view.icon.stop).start())  # pystray's stop, not ours
    assert backend.app.stopped.is_set()
    assert backend.boundary.violations == []


# --- Windows: the left click and the tooltip -----------------------------------------------------------


class RecordingIcon:
    """Stands in for pystray's win32 Icon where the view reaches it: `_on_notify(wparam, lparam)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.menu = kwargs.get("menu")
        self.notified: List[tuple] = []
        self.title = kwargs.get("title")

    def _on_notify(self, wparam: int, lparam: int) -> None:
        self.notified.append((wparam, lparam))


def _pystray_base(monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib
    import sys
    import types

    if "pystray" not in sys.modules:
        monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    importlib.import_module("pystray")
    base = importlib.import_module("pystray._base")
    return types.SimpleNamespace(Icon=RecordingIcon, Menu=base.Menu, MenuItem=base.MenuItem)


def test_windows_left_click_pops_up_the_menu_and_the_pick_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = load_win32_backend(monkeypatch)
    performed: List[Action] = []
    view = PystrayView(backend.pystray, performed.append, platform="win32")
    view._reveal()
    view.show("ok", 0, "Orchestray: all ok", MENU)
    hmenu, _callbacks = view.icon._menu_handle
    items = backend.win32.menus[hmenu]
    assert [i["text"] for i in items if i["text"]] == ["● proj — ok (1 session)", "Notifications", "Quit"]
    assert not [i for i in items if i["state"] & backend.constants.MFS_DEFAULT]  # nothing shown in bold
    backend.win32.choose = next(i["id"] for i in items if i["text"] == "Quit")  # the user picks Quit
    view.icon._on_notify(0, backend.constants.WM_LBUTTONUP)  # a left click on the icon
    assert len(backend.win32.named("TrackPopupMenuEx")) == 1
    assert performed == [Action("quit")]


def test_without_a_default_item_a_left_click_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: pystray's own win32 icon with our menu but no default item (the bug of issue 17 item 7)."""
    backend = load_win32_backend(monkeypatch)
    p = backend.pystray
    icon = p.Icon("plain", icon=pystray_view.render_icon("ok", 0, 64), title="plain",
                  menu=p.Menu(p.MenuItem("Quit", lambda: None)))
    icon._update_menu()
    icon._on_notify(0, backend.constants.WM_LBUTTONUP)
    assert backend.win32.named("TrackPopupMenuEx") == []


def test_no_default_item_on_other_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _pystray_base(monkeypatch)
    view = PystrayView(fake, lambda _a: None, platform="linux")
    view.show("ok", 0, "Orchestray: all ok", MENU)
    assert not [item for item in view.icon.menu.items if item.default]


EMOJI_FOLDER = "🚀📁" * 40 + " orchestrator"  # 80 astral characters: 160 UTF-16 units


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_emoji_tooltip_reaches_shell_notifyicon(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = load_win32_backend(monkeypatch)
    view = PystrayView(backend.pystray, lambda _a: None, platform="win32")
    view._reveal()
    title = f"Orchestray: {EMOJI_FOLDER} needs you"
    view.show("conflict", 0, title, MENU)
    assert backend.win32.tips[-1] == view.icon.title and utf16_units(backend.win32.tips[-1]) <= 127
    with pytest.raises(ValueError, match="string too long"):  # pystray alone, given the same title, fails
        view.icon.title = title


def test_short_tooltips_are_untouched_and_control_characters_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = load_win32_backend(monkeypatch)
    view = PystrayView(backend.pystray, lambda _a: None, platform="win32")
    view.show("ok", 0, "Orchestray: all ok", MENU)
    assert view.icon.title == "Orchestray: all ok"
    exact = "😀" * 63 + "a"  # 127 units: fits exactly
    view.show("ok", 0, exact, MENU)
    assert view.icon.title == exact
    view.show("ok", 0, "Orchestray: evil\u202e\x07name", MENU)
    assert view.icon.title == "Orchestray: evilname"


class SetterIcon(RecordingIcon):
    """Counts what the view sets on the icon: each set is a redraw for the GUI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "sets", [])
        super().__init__(*args, **kwargs)
        self.sets.clear()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("icon", "title", "menu"):
            self.sets.append(name)
        object.__setattr__(self, name, value)


def test_only_what_changed_is_set_on_the_icon(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _pystray_base(monkeypatch)
    fake.Icon = SetterIcon
    view = PystrayView(fake, lambda action: None, platform="linux")
    view.show("ok", 0, "Orchestray: all ok", MENU)
    assert sorted(view.icon.sets) == ["icon", "menu", "title"]
    view.icon.sets.clear()
    view.show("ok", 0, "Orchestray: all ok", MENU)  # nothing new: no redraw at all
    assert view.icon.sets == []
    view.show("ok", 0, "Orchestray: 1 project", MENU)  # only the tooltip
    assert view.icon.sets == ["title"]
    view.icon.sets.clear()
    view.show("orphaned", 1, "Orchestray: 1 project", MENU)  # only the icon
    assert view.icon.sets == ["icon"]


def _project(name: str, *rows: str) -> MenuItem:
    return MenuItem(f"● {name} — ok", children=tuple(MenuItem(row, Action("focus", row)) for row in rows))


def test_a_new_menu_reuses_the_pystray_items_of_unchanged_projects_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change in one project copies that project's items; the others keep their pystray objects (which the GTK
    view then skips). What the user sees and picks is always the newest menu's."""
    fake = _pystray_base(monkeypatch)
    performed: List[Action] = []
    view = PystrayView(fake, performed.append, platform="linux")
    view.show("ok", 0, "t", (_project("alpha", "a1", "a2"), _project("beta", "b1"), *MENU[1:]))
    alpha, beta = view.icon.menu.items[:2]
    view.show("ok", 0, "t", (_project("alpha", "a1", "a2"), _project("beta", "b1", "b2"), *MENU[1:]))
    alpha2, beta2 = view.icon.menu.items[:2]
    assert alpha2 is alpha  # equal data: the very same pystray item (and submenu)
    assert beta2 is not beta  # a worker joined beta: made again, with the new rows
    assert [item.text for item in beta2.submenu.items] == ["b1", "b2"]
    assert beta2.submenu.items[0] is beta.submenu.items[0]  # its unchanged row too is reused
    beta2.submenu.items[1](view.icon)  # the user picks the new row
    alpha2.submenu.items[1](view.icon)  # and a row of the reused project
    assert performed == [Action("focus", "b2"), Action("focus", "a2")]
    # A label that changed in a project: a new item for it; the project that did not change is kept.
    view.show("ok", 0, "t", (_project("alpha", "a1", "a2 · waiting"), _project("beta", "b1", "b2"), *MENU[1:]))
    alpha3, beta3 = view.icon.menu.items[:2]
    assert alpha3 is not alpha and beta3 is beta2
    assert [item.text for item in alpha3.submenu.items] == ["a1", "a2 · waiting"]
    # Nothing but items of the menu shown last is remembered: a tray running for days does not pile them up.
    last = set(view._shown_menu) | {child for item in view._shown_menu for child in item.children}
    assert set(view._converted) <= last and view._converted[view._shown_menu[0]] is alpha3


class OnOpenIcon(SetterIcon):
    """An icon class that, as the gtk backend's (tray/app/gtk_menu.py), builds its menu as it opens."""

    builds_menu_on_open = True


def test_a_menu_built_on_open_is_taken_only_while_open_and_let_go_on_close(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _pystray_base(monkeypatch)
    fake.Icon = OnOpenIcon
    opened: List[str] = []
    view = PystrayView(fake, lambda action: None, platform="linux", before_open=lambda: opened.append("open"),
                       after_close=lambda: opened.append("close"))
    assert view.builds_menu_on_open and view.icon.menu is None  # no "Starting…" menu built ahead
    view.show("ok", 0, "Orchestray: all ok", None)  # closed: the icon and the tooltip only
    assert sorted(view.icon.sets) == ["icon", "title"] and view.icon.menu is None
    view.icon.sets.clear()
    view.show("ok", 0, "Orchestray: all ok", MENU)  # a menu that raced the closing: not built
    assert view.icon.sets == [] and view._converted == {}
    view._opening()  # the GTK class, as the user opens the menu
    assert opened == ["open"]
    view.show("ok", 0, "Orchestray: all ok", MENU)
    assert view.icon.sets == ["menu"] and [item.text for item in view.icon.menu.items][-1] == "Quit"
    view.show("ok", 0, "Orchestray: 2 projects", None)  # no menu given: the one shown stays
    assert view.icon.sets == ["menu", "title"] and view.icon.menu is not None
    view._closed()
    assert opened == ["open", "close"] and view._converted == {} and view._shown_menu is None
    view._opening()
    view.icon.sets.clear()
    view.show("ok", 0, "Orchestray: 2 projects", MENU)  # the same menu as before the closing: built again
    assert view.icon.sets == ["menu"]


def test_a_loop_that_fails_to_start_lets_the_process_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """pystray starts a setup thread (not a daemon) that waits for its loop to be ready. A loop that fails
    before that (pystray's GTK backends raise when they cannot reach a session bus) must not leave it waiting:
    the interpreter would wait for it at exit, and the tray would neither run nor end. The error still reaches
    the caller, and the tray's start-up (`on_ready`) never runs."""
    import importlib

    _pystray_base(monkeypatch)
    base = importlib.import_module("pystray._base")

    class FailsToStart(base.Icon):  # type: ignore[misc, name-defined]
        def _update_menu(self) -> None:
            pass

        def _run(self) -> None:
            raise RuntimeError("no session bus")

    fake = _pystray_base(monkeypatch)
    fake.Icon = FailsToStart
    view = PystrayView(fake, lambda _a: None, platform="linux")
    started: List[bool] = []
    with pytest.raises(RuntimeError, match="no session bus"):
        view.run(on_ready=lambda: started.append(True))
    view.icon._setup_thread.join(timeout=10)
    assert not view.icon._setup_thread.is_alive()
    assert started == []
