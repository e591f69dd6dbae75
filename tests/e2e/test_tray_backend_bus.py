"""The tray's desktop question (is a StatusNotifierWatcher with a host on the session bus?) asked of a real
private session bus (dbus-daemon), with and without a real StatusNotifierWatcher from Debian.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from desktop import require_tools

from tray.platform import tray_backend as tb


@pytest.fixture
def bus() -> Iterator[str]:
    """A private dbus-daemon (ended by PID); yields its address."""
    require_tools(["dbus-daemon"], "dbus")
    with tempfile.TemporaryDirectory(prefix="ody-bus-") as folder:
        daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
             f"--address=unix:path={folder}/bus"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert daemon.stdout is not None
            yield daemon.stdout.readline().strip()
        finally:
            daemon.kill()
            daemon.wait(timeout=10)


def test_a_bus_without_a_watcher_says_so(bus: str) -> None:
    assert tb.probe_session_bus(bus) == (tb.Host.NO_WATCHER, "")


def test_a_watcher_without_a_host_says_so_and_the_question_starts_nothing(bus: str, tmp_path: Path) -> None:
    require_tools(["status-notifier-watcher"], "haskell-status-notifier-item-utils")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus)
    watcher = subprocess.Popen(["status-notifier-watcher"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        assert wait_for_answer(bus, tb.Host.NO_HOST) == (tb.Host.NO_HOST, "")
    finally:
        watcher.kill()
        watcher.wait(timeout=10)
    # The watcher is gone: the answer follows, and asking did not start a new one (NO_AUTO_START).
    assert wait_for_answer(bus, tb.Host.NO_WATCHER) == (tb.Host.NO_WATCHER, "")


def wait_for_answer(bus: str, expected: tb.Host, timeout: float = 10.0) -> Tuple[tb.Host, str]:
    """Ask until the bus gives ``expected`` (a service takes a moment to claim or lose its name)."""
    deadline = time.monotonic() + timeout
    result = tb.probe_session_bus(bus)
    while result[0] is not expected and time.monotonic() < deadline:
        time.sleep(0.05)
        result = tb.probe_session_bus(bus)
    return result


def test_a_dead_bus_address_is_a_logged_detail_not_an_error(tmp_path: Path) -> None:
    host, detail = tb.probe_session_bus(f"unix:path={tmp_path}/no-bus-here")
    assert host is tb.Host.UNKNOWN and detail
    choice = tb.choose({"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus-here"}, "linux")
    assert choice.backend == "gtk" and "could not be asked" in choice.reason
