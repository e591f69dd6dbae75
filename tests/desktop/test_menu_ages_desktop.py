"""Ages in the menu are brought up to date as the user opens it, not by a clock ticking in the tray.

The tray's controller and view run as `orchestray tray` wires them (tests/support/menu_probe.py) on the gtk
backend in a real XEmbed host (trayer); the menu is opened with a real click, and what the popped-up GTK menu
says is read from its widgets. A session's activity started 55 s before: the menu the controller last built
said "working <1m"; once the minute has passed, the menu the user opens says "working 1m" without any change
in the registry or a timer in between.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from tray.core import activity
from tray.core.actions import register
from tray.core.registry import Registry

pytestmark = pytest.mark.desktop

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tests" / "support" / "menu_probe.py"


class Lines:
    """The probe's stdout, read on a thread, with waits that have deadlines."""

    def __init__(self, stream) -> None:
        self.lines: List[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            with self.cond:
                self.lines.append(raw.rstrip("\n"))
                self.cond.notify_all()

    def wait(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such line within {timeout} s; the probe said {self.lines[-10:]}")
                self.cond.wait(left)


def test_opening_the_menu_brings_its_ages_up_to_date(desktop, tmp_path: Path, procs) -> None:
    registry = Registry(str(tmp_path / "registry"))
    project = tmp_path / "project"
    project.mkdir()
    register(registry, "s-working", procs.spawn().pid, str(project))
    env = {"PYTHONPATH": str(REPO), "ORCHESTRAY_CONFIG_DIR": str(tmp_path / "config"),
           "ORCHESTRAY_LOG_DIR": str(tmp_path / "log"), "ORCHESTRAY_STATE_DIR": str(tmp_path / "state")}
    probe = desktop.popen([sys.executable, str(PROBE), registry.directory], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    lines = Lines(probe.stdout)
    assert lines.wait(lambda line: line.startswith("refreshes on open")) == "refreshes on open: True"
    lines.wait(lambda line: line.startswith("shown:") and "s-workin" in line)
    window = desktop.find_window("^Orchestray: 1 project", timeout=30)

    since = time.time() - 55
    activity.write_activity(registry.directory, "s-working", activity.WORKING, prompt="a prompt", now=since)
    before = lines.wait(lambda line: line.startswith("shown:") and "working" in line)
    assert "working <1m" in before
    desktop.wait_for(lambda: time.time() > since + 61, timeout=30)  # the clock alone moves the age on

    x, y = desktop.geometry(window).center
    desktop.click_popup(x, y, button=3)
    opened = lines.wait(lambda line: line.startswith("opened:"))
    desktop.close_popups()
    assert "working 1m" in opened and "working <1m" not in opened, opened
    shown_after = [line for line in lines.lines if line.startswith("shown:")]
    assert shown_after[-1].count("working 1m") == 1  # built as it opened, from what was already read
    probe.terminate()
    probe.wait(timeout=15)
