"""Which pystray backend the tray loads (tray.platform.tray_backend): the decision, from literal environments
and answers of the session bus.

The question asked of a real session bus is in tests/e2e/test_tray_backend_bus.py; the whole desktop (an SNI
host drawing the icon, trayer with no Gdk-CRITICAL) in tests/desktop/test_tray_sni.py and test_tray_desktop.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from tray.platform import tray_backend as tb

REPO = Path(__file__).resolve().parents[2]


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
# Loading the chosen backend (tray.app.main.import_pystray), against a stand-in pystray in a fresh interpreter
# ---------------------------------------------------------------------------------------------------------

#: A stand-in for pystray at its import boundary: it loads the backend named in PYSTRAY_BACKEND, and the
#: appindicator one fails the way a missing AyatanaAppIndicator3 typelib makes the real one fail (ValueError).
FAKE_PYSTRAY = '''
import os
BACKEND = os.environ.get("PYSTRAY_BACKEND", "")
if BACKEND == "appindicator":
    raise ValueError("Namespace AyatanaAppIndicator3 not available")
class Icon:
    backend = BACKEND
'''

LOADER = '''
import json, os, sys
sys.path.insert(0, sys.argv[1])
from tray.platform import tray_backend
tray_backend.choose = lambda: tray_backend.Choice(sys.argv[2], "test choice", user_set=sys.argv[3] == "user")
from tray.app import main
from tray.core.log import TRAY, setup_logging
setup_logging(role=TRAY)
try:
    loaded = main.import_pystray().Icon.backend
except RuntimeError as error:
    loaded = f"RuntimeError: {error}"
print(json.dumps({"loaded": loaded, "env": os.environ.get("PYSTRAY_BACKEND")}))
'''


def load(tmp_path: Path, chosen: str, who: str, env_backend: Optional[str] = None) -> Tuple[dict, str]:
    fake = tmp_path / "fake"
    (fake / "pystray").mkdir(parents=True, exist_ok=True)
    (fake / "pystray" / "__init__.py").write_text(FAKE_PYSTRAY)
    env = {key: value for key, value in os.environ.items() if key != "PYSTRAY_BACKEND"}
    env.update(PYTHONPATH=str(REPO), ORCHESTRAY_LOG_DIR=str(tmp_path / "log"))
    if env_backend is not None:
        env["PYSTRAY_BACKEND"] = env_backend
    done = subprocess.run([sys.executable, "-c", LOADER, str(fake), chosen, who], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "log" / "orchestray.log"
    return json.loads(done.stdout), log.read_text() if log.exists() else ""


def test_a_chosen_backend_that_does_not_load_falls_back_and_the_environment_is_restored(tmp_path: Path) -> None:
    result, log = load(tmp_path, "appindicator", "auto")
    assert result == {"loaded": "gtk", "env": None}
    assert "tray backend gtk: appindicator did not load (appindicator: ValueError: Namespace" in log


def test_the_chosen_backend_is_loaded_and_logged_with_its_reason(tmp_path: Path) -> None:
    result, log = load(tmp_path, "gtk", "auto")
    assert result == {"loaded": "gtk", "env": None}
    assert "tray backend gtk: test choice" in log


def test_a_users_backend_that_does_not_load_is_not_replaced(tmp_path: Path) -> None:
    result, _log = load(tmp_path, "appindicator", "user", env_backend="appindicator")
    assert result["loaded"].startswith("RuntimeError: cannot load the tray library pystray: appindicator: ValueError")
    assert result["env"] == "appindicator"  # the user's own setting stays as it was
