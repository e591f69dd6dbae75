"""Real notifications delivered to dunst on a private desktop, through each backend of the chain.

Each delivery runs in a fresh interpreter (``deliver``, tests/support/notify_delivery.py): plyer (dbus-python)
caches its session-bus connection per process, so it must never connect from the pytest process itself.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest
from desktop import require_desktop, start_desktop
from dunst_menu import ContextMenu
from helpers import REPO
from notify_delivery import HOSTILE_BODY, HOSTILE_TITLE, deliver

from tray.platform.notify import BODY_LIMIT, TITLE_LIMIT, Button, safe_text
from tray.platform.notify_buttons import DesktopNotifierNotifier

#: After the expected notifications arrived, the count must stay the same this long before it is believed: a
#: late duplicate (a retry, a second backend of the chain also delivering) has that long to show up.
SETTLE_SECONDS = 1.5


def settled_notifications(desktop: Any, at_least: int, timeout: float = 20.0) -> List[dict]:
    """Every notification dunst got, counted only once things settled.

    Waits for ``at_least`` notifications; then sends a marker of its own through ``notify-send`` (a barrier:
    dunst handles what reached it first before it) and waits until the marker has arrived and the count then
    stayed the same for ``SETTLE_SECONDS``. The marker is left out of the answer.
    """
    deadline = time.monotonic() + timeout
    desktop.wait_for(lambda: len(desktop.notifications()) >= at_least, timeout=timeout)
    marker = f"settle-marker-{time.monotonic_ns()}"
    desktop.run(["notify-send", "--app-name=test-settle", marker, "barrier"])
    seen = desktop.wait_for(lambda: [n for n in desktop.notifications() if n["summary"] == marker] and
                            desktop.notifications(), timeout=max(1.0, deadline - time.monotonic()))
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < SETTLE_SECONDS:
        assert time.monotonic() < deadline, f"notifications never settled: {seen}"
        time.sleep(0.2)
        now = desktop.notifications()
        if now != seen:
            seen, quiet_since = now, time.monotonic()
    return [n for n in seen if n["summary"] != marker]


@pytest.mark.desktop
@pytest.mark.parametrize("notifier", ["notify-send", "plyer"])
def test_real_delivery_reaches_dunst(desktop, notifier: str) -> None:
    title = f"{notifier}: alpha orchestrator died"
    body = "Session s-1 in C:\\work\\101 stopped running. Suggested successor: w1."
    result, log = deliver(desktop.env, notifier, title, body)
    assert result["delivered"] is True, log
    got = settled_notifications(desktop, at_least=1)
    assert [(n["summary"], n["body"], n["appname"]) for n in got] == [(title, body, "Orchestray")]


@pytest.mark.desktop
def test_hostile_title_arrives_capped_and_intact(desktop) -> None:
    result, log = deliver(desktop.env, "chain", HOSTILE_TITLE, HOSTILE_BODY)
    assert result == {"delivered": True, "names": ["notify-send", "plyer"]}, log
    assert "notifications are delivered by notify-send" in log
    (got,) = settled_notifications(desktop, at_least=1)  # one backend delivered; the next one did not also
    assert got["summary"] == safe_text(HOSTILE_TITLE, TITLE_LIMIT)
    assert got["summary"] == "-u \"hi\" \\ 'q' $(id) `id`; <b>&amp;</b> next[31mé🙂" + "x" * 12 + "…"
    assert len(got["summary"].encode("utf-16-le")) // 2 == TITLE_LIMIT  # the emoji counts twice on Windows
    assert got["body"] == safe_text(HOSTILE_BODY, BODY_LIMIT) and len(got["body"]) == BODY_LIMIT
    assert got["body"].startswith('line one line two C:\\101\\n\\ ab"c\\ ab"c\\ ')


@pytest.mark.desktop
def test_pystray_notifier_on_a_real_gtk_icon(desktop, tmp_path: Path) -> None:
    """On pystray's gtk backend two notifications in a row both arrive, named Orchestray.

    (pystray's own ``icon.notify`` would replace the first with the second, and name no app.)
    """
    script = tmp_path / "icon.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            import pystray
            from PIL import Image
            from tray.platform.notify import PystrayNotifier

            def setup(icon):
                icon.visible = True
                notifier = PystrayNotifier(icon)
                results = [notifier.notify("orchestrator died", "first"), notifier.notify("no orchestrator", "second")]
                print(json.dumps({"delivered": results, "error": notifier.last_error}), flush=True)
                icon.stop()

            pystray.Icon("notify-probe", Image.new("RGBA", (32, 32), (200, 0, 0, 255)), "notify-probe").run(setup)
            """
        )
    )
    done = desktop.run(
        [sys.executable, str(script)], env={"PYSTRAY_BACKEND": "gtk", "PYTHONPATH": REPO}, timeout=20
    )
    assert json.loads(done.stdout.splitlines()[0]) == {"delivered": [True, True], "error": ""}, done.stderr
    got = settled_notifications(desktop, at_least=2)
    assert [(n["summary"], n["body"], n["appname"]) for n in got] == [
        ("orchestrator died", "first", "Orchestray"),
        ("no orchestrator", "second", "Orchestray"),
    ]


@pytest.mark.desktop
def test_a_click_on_the_body_is_named_in_dunst_and_still_runs(tmp_path: Path, monkeypatch) -> None:
    """The click on a notice's body (the "default" action) is listed in dunst's context menu under the click's
    own words, and dunst's "do the default action" runs it; a notice whose body does nothing lists no click.

    desktop-notifier would send the click with an empty label: dunst listed ``# (summary) [id,default]``."""
    require_desktop()
    menu = ContextMenu(tmp_path)
    with start_desktop(tmp_path / "desktop", dunst_settings={"dmenu": str(menu.script)}) as desktop:
        for var in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):  # desktop-notifier connects from this process
            monkeypatch.setenv(var, desktop.env[var])
        notifier = DesktopNotifierNotifier()
        clicked, promoted = threading.Event(), threading.Event()
        try:
            assert notifier.notify("shop: orchestrator died", "Orchestrator 7c1e2a90 stopped running.",
                                   buttons=[Button("Promote 3e8a6c55", promoted.set)],
                                   on_click=Button("Focus 3e8a6c55", clicked.set)), notifier.last_error
            desktop.wait_for(lambda: desktop.run(["dunstctl", "count", "displayed"]).stdout.strip() == "1")
            menu.open(desktop)
            got = sorted((e.label, e.summary, "default" if e.action == "default" else "button")
                         for e in menu.offered(desktop))
            assert got == [("Focus 3e8a6c55", "shop: orchestrator died", "default"),
                           ("Promote 3e8a6c55", "shop: orchestrator died", "button")]
            desktop.run(["dunstctl", "action", "0"], timeout=20)  # dunst: do the default action of the notice shown
            assert clicked.wait(10) and not promoted.is_set()

            desktop.notifications()  # close what is shown: the next menu lists the next notice only
            assert notifier.notify("Orchestray: not promoted", "shop: session 9b4f0d11 is no longer running",
                                   buttons=[Button("Open HANDOVER.md", lambda: None)]), notifier.last_error
            desktop.wait_for(lambda: desktop.run(["dunstctl", "count", "displayed"]).stdout.strip() == "1")
            menu.open(desktop)
            assert [(e.label, e.action == "default") for e in menu.offered(desktop)] == [("Open HANDOVER.md", False)]
        finally:
            notifier.close()
