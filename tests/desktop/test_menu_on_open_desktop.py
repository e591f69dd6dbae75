"""On the gtk backend the tray's menu exists only while it is open (tray/app/gtk_menu.py), on a real desktop.

The tray's controller and view run as `orchestray tray` wires them (tests/support/menu_probe.py) in a real XEmbed
host (trayer), opened with real clicks and driven with real keys. What the user must see: a session registered
while the menu is closed is in the menu the next click opens; an item picked deep in a menu built that way does
what it says (a worker promoted in the registry). What the tray must not do: build a menu while it is closed, or
keep one after it closed (the native menu and a submenu are finalized as GObjects, the pystray menu is freed, the
view keeps no items and the controller no submenus).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from probe_lines import start_menu_probe

from tray.core.actions import register
from tray.core.registry import Registry

pytestmark = pytest.mark.desktop
ALL_GONE = "dropped: handle=False native=False submenu=False pystray=False items=0 kept=0 open=False"


def test_a_menu_built_as_it_opens_shows_what_came_while_closed_and_is_let_go_after(desktop, tmp_path: Path,
                                                                                 procs) -> None:
    registry = Registry(str(tmp_path / "registry"))
    project = tmp_path / "project"
    project.mkdir()
    register(registry, "s-first", procs.spawn().pid, str(project))
    probe, lines = start_menu_probe(desktop, registry.directory, tmp_path)
    assert lines.wait(lambda line: line.startswith("builds on open")) == "builds on open: True"
    lines.wait(lambda line: line.startswith("looked:") and "s-first" in line)
    window = desktop.find_window("^Orchestray: 1 project", timeout=30)
    x, y = desktop.geometry(window).center

    # First opening: built as it opens, let go once it closed.
    mark = lines.mark()
    desktop.click_popup(x, y, button=3)
    opened = lines.wait(lambda line: line.startswith("opened:"), start=mark)
    assert "s-first" in opened
    desktop.close_popups()
    assert lines.wait(lambda line: line.startswith("dropped:"), start=mark) == ALL_GONE

    # A session registers while the menu is closed: the tooltip follows, no menu is built.
    mark = lines.mark()
    register(registry, "s-second", procs.spawn().pid, str(project))
    lines.wait(lambda line: line.startswith("looked:") and "s-second" in line)
    lines.wait(lambda line: line.startswith("state:") and "2 live session" in line)
    desktop.wait_for(lambda: desktop.window_name(window).startswith("Orchestray: 1 project(s), 2 live"), timeout=30)
    assert not lines.since(mark, "shown:"), lines.since(mark, "shown:")

    # The next opening shows it; promote it from its own submenu with the keyboard, as a person would.
    mark = lines.mark()
    desktop.click_popup(x, y, button=3)
    opened = lines.wait(lambda line: line.startswith("opened:"), start=mark)
    assert "s-second" in opened and "Promote to orchestrator (demotes s-first)" in opened, opened
    # Down: the project; Right: its submenu, on the orchestrator's line; Down: the worker (the "Workers (1):"
    # line is greyed out and skipped); Right: the worker's submenu, on "Promote to orchestrator"; Return.
    desktop.key("Down", "Right", "Down", "Right", "Return")
    dropped = lines.wait(lambda line: line.startswith("dropped:"), start=mark)
    assert dropped == ALL_GONE
    # One menu built for this opening; the look that followed the promotion (the menu already closing) built none.
    assert len(lines.since(mark, "shown:")) == 1, lines.since(mark, "shown:")
    roles = {path.stem: json.loads(path.read_text())["role"] for path in Path(registry.directory).glob("*.json")}
    assert roles == {"s-second": "orchestrator", "s-first": "worker"}, roles
    assert probe.poll() is None  # the tray is still running
    probe.terminate()
    probe.wait(timeout=15)
