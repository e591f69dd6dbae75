"""Which pystray backend the tray loads (tray.platform.tray_backend): the decision, from literal environments
and answers of the session bus.

The question asked of a real session bus is in tests/e2e/test_tray_backend_bus.py; the whole desktop (an SNI
host drawing the icon, trayer with no Gdk-CRITICAL) in tests/desktop/test_tray_sni.py and test_tray_desktop.py.
"""

from __future__ import annotations

from typing import List, Tuple

import pytest

from tray.platform import tray_backend as tb


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
