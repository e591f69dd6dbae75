"""The controller's side of a menu built only while it is open (the gtk backend, tray/app/gtk_menu.py): while it
is closed a change shows the icon, badge and tooltip and builds no menu model; the opening builds it with the ages
of now and every change keeps it current while it is open; the closing lets the model go. Real registry, real
processes; the view records what it is shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List

import pytest
from controller_world import RecordingView

from tray.app import menu as menu_model
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.actions import register
from tray.core.registry import Registry


def texts(items: Any) -> str:
    return " | ".join(f"{item.text} [{texts(item.children)}]" if item.children else item.text for item in items)


@pytest.fixture
def world(tmp_path: Path, procs, monkeypatch: pytest.MonkeyPatch) -> Any:
    registry = Registry(str(tmp_path / "reg"))
    (tmp_path / "p").mkdir()
    register(registry, "boss", procs.spawn().pid, str(tmp_path / "p"))
    view = RecordingView()
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), find_file=lambda r, n: None)
    controller.menu_on_open = controller.ages_on_open = True
    builds: List[int] = []
    build = menu_model.build_menu

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return build(*args, **kwargs)

    monkeypatch.setattr(menu_model, "build_menu", counted)
    clock = [time.time()]
    monkeypatch.setattr("tray.app.controller.time.time", lambda: clock[0])

    class World:
        pass

    w = World()
    w.registry, w.view, w.controller, w.builds, w.clock, w.procs, w.root = (
        registry, view, controller, builds, clock, procs, str(tmp_path / "p"))
    return w


def test_a_change_while_the_menu_is_closed_builds_no_menu(world: Any) -> None:
    world.controller.poll_once()
    assert world.view.shown == [("ok", 0, "Orchestray: 1 project(s), 1 live session(s); all ok", None)]
    register(world.registry, "second", world.procs.spawn().pid, world.root)
    world.controller.poll_once()
    assert world.view.shown[-1] == ("ok", 0, "Orchestray: 1 project(s), 2 live session(s); all ok", None)
    world.controller.poll_once()  # nothing new: nothing shown again
    assert len(world.view.shown) == 2 and world.builds == []


def test_the_opening_builds_the_menu_with_the_ages_of_now_and_changes_keep_it_current(world: Any) -> None:
    world.controller.poll_once()
    world.clock[0] += 5 * 60 + 1
    world.controller.refresh_ages()  # the user opens the menu
    assert world.builds == [1]
    menu = world.view.shown[-1][3]
    assert menu is not None and "boss · pid" in texts(menu) and "up 5m" in texts(menu)
    register(world.registry, "second", world.procs.spawn().pid, world.root)
    world.controller.poll_once()  # a change while it is open: the open menu follows it, as before
    assert "second · pid" in texts(world.view.shown[-1][3]) and len(world.builds) == 2


def test_the_closing_lets_the_menu_go_and_the_next_opening_builds_it_again(world: Any) -> None:
    world.controller.poll_once()
    world.controller.refresh_ages()
    first = world.view.shown[-1][3]
    assert first is not None and world.controller.project_menus._last
    world.controller.menu_closed()
    assert world.controller.project_menus._last == {} and world.controller.shown[3] is None
    register(world.registry, "second", world.procs.spawn().pid, world.root)
    world.controller.poll_once()
    assert world.view.shown[-1][3] is None and len(world.builds) == 1  # closed again: no menu for the change
    world.controller.refresh_ages()
    assert "second · pid" in texts(world.view.shown[-1][3]) and len(world.builds) == 2
    world.controller.menu_closed()
    world.controller.refresh_ages()  # opened again with nothing changed: the view holds none, so it is shown
    assert world.view.shown[-1][3] == world.view.shown[-2][3] and len(world.builds) == 3


def test_without_a_menu_built_on_open_every_change_builds_it_as_before(world: Any) -> None:
    world.controller.menu_on_open = False
    world.controller.poll_once()
    assert world.view.shown[-1][3] is not None and world.builds == [1]
    world.controller.menu_closed()  # such a view never says so; if it did, nothing is let go
    assert world.controller.project_menus._last


def test_handing_a_closed_menus_memory_back_collects_but_freezes_nothing() -> None:
    """`memory.hand_back` runs at every closing: a cycle left by the menu is collected, and nothing alive then is
    moved out of the collector's reach for good (as `gc.freeze` would)."""
    import gc
    import weakref

    from tray.platform import memory

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle, as a widget's record and its holder can make
    gone = weakref.ref(a)
    del a, b
    frozen = gc.get_freeze_count()
    assert isinstance(memory.hand_back(), bool)
    assert gone() is None and gc.get_freeze_count() == frozen
    assert memory.hand_back(platform="darwin") is False and memory.hand_back(platform="win32") is False
