"""Ages in the menu are brought up to date as the user opens it, not by a clock ticking in the tray.

The tray's controller and view run as `orchestray tray` wires them (tests/support/menu_probe.py) on the gtk
backend in a real XEmbed host (trayer); the menu is opened with a real click, and what the popped-up GTK menu
says is read from its widgets. A session's activity started 55 s before ("working <1m" then); once the minute
has passed, the menu the user opens says "working 1m" without any change in the registry or a timer in between.

On this backend the menu exists only while it is open: the tray built none before the click, and the one the
click builds is the only one, built from what the tray had read.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from probe_lines import start_menu_probe

from tray.core import activity
from tray.core.actions import register
from tray.core.registry import Registry

pytestmark = pytest.mark.desktop


def test_opening_the_menu_brings_its_ages_up_to_date(desktop, tmp_path: Path, procs) -> None:
    registry = Registry(str(tmp_path / "registry"))
    project = tmp_path / "project"
    project.mkdir()
    register(registry, "s-working", procs.spawn().pid, str(project))
    probe, lines = start_menu_probe(desktop, registry.directory, tmp_path)
    assert lines.wait(lambda line: line.startswith("refreshes on open")) == "refreshes on open: True"
    lines.wait(lambda line: line.startswith("looked:") and "s-working" in line)
    window = desktop.find_window("^Orchestray: 1 project", timeout=30)

    since = time.time() - 55
    activity.write_activity(registry.directory, "s-working", activity.WORKING, prompt="a prompt", now=since)
    lines.wait(lambda line: line.startswith("looked:") and "s-working=working" in line)
    desktop.wait_for(lambda: time.time() > since + 61, timeout=30)  # the clock alone moves the age on

    x, y = desktop.geometry(window).center
    assert not [line for line in lines.lines if line.startswith("shown:")]  # no menu built before the click
    desktop.click_popup(x, y, button=3)
    opened = lines.wait(lambda line: line.startswith("opened:"))
    desktop.close_popups()
    assert "working 1m" in opened and "working <1m" not in opened, opened
    shown_after = [line for line in lines.lines if line.startswith("shown:")]
    assert len(shown_after) == 1 and shown_after[0].count("working 1m") == 1  # built as it opened
    probe.terminate()
    probe.wait(timeout=15)
