"""`orchestray self-test` on a real private desktop (Xvfb, D-Bus, dunst, trayer): the tray backend must import
and have a menu, and ``--notify`` must reach the notification daemon.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import REPO, headless_env, orchestray

LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not LINUX, reason="the real desktop is Xvfb + trayer + dunst")
def test_self_test_on_a_real_desktop_imports_the_backend_and_notifies(desktop, tmp_path: Path) -> None:
    env = headless_env(tmp_path)
    env.update(desktop.env)
    env["PYTHONPATH"] = REPO
    done = orchestray(env, "self-test", "--notify")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    backend = report["checks"]["tray_backend"]
    assert backend["ok"] and backend["required"] and "skipped" not in backend
    # trayer is an XEmbed host with no StatusNotifierWatcher: gtk, chosen as the tray chooses, with the reason.
    assert backend["detail"]["backend"] == "gtk" and backend["detail"]["has_menu"] is True
    assert "no StatusNotifierWatcher" in backend["detail"]["choice"]
    notifications = report["checks"]["notifications"]["detail"]
    assert notifications["chain"][0] == "pystray"  # the icon's own D-Bus notify comes first on GTK
    assert notifications["sent"]["delivered"] is True
    received = desktop.wait_for(
        lambda: [n for n in desktop.notifications() if n["summary"] == "Orchestray self-test"], timeout=10
    )
    assert len(received) == 1 and "notifications work" in received[0]["body"]


@pytest.mark.skipif(not LINUX, reason="the real desktop is Xvfb + trayer + dunst")
def test_self_test_fails_when_the_backend_has_no_menu(desktop, tmp_path: Path) -> None:
    env = headless_env(tmp_path, PYSTRAY_BACKEND="xorg")
    env.update(desktop.env)
    env.update(PYTHONPATH=REPO, PYSTRAY_BACKEND="xorg")
    done = orchestray(env, "self-test")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["failed"] == ["tray_backend"]
    assert report["checks"]["tray_backend"]["error"] == "the tray backend 'xorg' cannot show menus"
