"""Which pystray backend the tray loads (tray.platform.tray_backend, tray.app.main.import_pystray).

The decision is checked with literal environments; the D-Bus question is asked of a real private session bus
(dbus-daemon) with and without a real StatusNotifierWatcher. The whole desktop (an SNI host drawing the icon,
trayer with no Gdk-CRITICAL) is in tests/test_tray_sni.py and tests/test_tray_desktop.py.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from tray.platform import tray_backend as tb

try:
    from desktop import require_tools
except ImportError:
    from tests.desktop import require_tools


def never_asked(address: str) -> Tuple[tb.Host, str]:
    raise AssertionError(f"the bus must not be asked here ({address})")


def answers(host: tb.Host, detail: str = "") -> tb.Probe:
    asked: List[str] = []

    def probe(address: str) -> Tuple[tb.Host, str]:
        asked.append(address)
        return host, detail

    probe.asked = asked  # type: ignore[attr-defined]
    return probe


BUS = "unix:path=/run/user/1000/bus"


def test_an_sni_watcher_with_a_host_gets_appindicator() -> None:
    probe = answers(tb.Host.SNI)
    choice = tb.choose({"DBUS_SESSION_BUS_ADDRESS": BUS, "DISPLAY": ":0"}, "linux", probe)
    assert (choice.backend, choice.user_set) == ("appindicator", False)
    assert "StatusNotifierWatcher with a registered host" in choice.reason
    assert probe.asked == [BUS]  # type: ignore[attr-defined]
    assert choice.candidates() == ["appindicator", "gtk", "xorg"]


@pytest.mark.parametrize(("host", "words"), [
    (tb.Host.NO_WATCHER, "no StatusNotifierWatcher"),
    (tb.Host.NO_HOST, "no host registered"),
    (tb.Host.UNKNOWN, "could not be asked (Could not connect)"),
])
def test_no_usable_sni_host_gets_the_xembed_icon(host: tb.Host, words: str) -> None:
    choice = tb.choose({"DBUS_SESSION_BUS_ADDRESS": BUS}, "linux", answers(host, "Could not connect"
                                                                           if host is tb.Host.UNKNOWN else ""))
    assert choice.backend == "gtk" and words in choice.reason, choice
    assert choice.candidates() == ["gtk", "appindicator", "xorg"]


@pytest.mark.parametrize("address", ["", "  ", "autolaunch:", "autolaunch:scope=x"])
def test_no_session_bus_address_never_connects(address: str) -> None:
    """An unset address would make GLib autolaunch a bus with dbus-launch: the bus is not even asked."""
    env = {"DISPLAY": ":0"}
    if address:
        env["DBUS_SESSION_BUS_ADDRESS"] = address
    choice = tb.choose(env, "linux", never_asked)
    assert choice.backend == "gtk" and "DBUS_SESSION_BUS_ADDRESS is not set" in choice.reason


def test_the_users_pystray_backend_wins_and_is_the_only_candidate() -> None:
    choice = tb.choose({"PYSTRAY_BACKEND": "xorg", "DBUS_SESSION_BUS_ADDRESS": BUS}, "linux", never_asked)
    assert (choice.backend, choice.user_set, choice.candidates()) == ("xorg", True, ["xorg"])
    assert "PYSTRAY_BACKEND" in choice.reason


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_keep_pystrays_own_backend(platform: str) -> None:
    choice = tb.choose({"DBUS_SESSION_BUS_ADDRESS": BUS}, platform, never_asked)
    assert choice.backend is None and choice.candidates() == [] and platform in choice.reason


def test_freebsd_desktops_are_asked_like_linux() -> None:
    assert tb.choose({"DBUS_SESSION_BUS_ADDRESS": BUS}, "freebsd14", answers(tb.Host.SNI)).backend == "appindicator"


# ---------------------------------------------------------------------------------------------------------
# The question, asked of a real session bus
# ---------------------------------------------------------------------------------------------------------


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
