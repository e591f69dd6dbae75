"""The real tray on a real StatusNotifierItem desktop warns that the installed Claude Code hooks no longer run,
and its "Repair Claude Code hooks" item, picked in the host's menu, repairs them.

The hooks were installed by a throw-away install of Orchestray, which was then uninstalled (its package files
removed, as `pip uninstall` does without `hooks uninstall`). What is checked is what a person sees: the menu the
tray exports over D-Bus (what the host draws), the notifications in dunst, and the settings file afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import pytest
from broken_install import ThrowAwayInstall
from desktop import Desktop, MenuNode
from helpers import reap
from tray_under_test import tray_command, tray_env

from tray.app.pystray_view import ICON_NAME
from tray.hooks import settings as hs
from tray.hooks.events import HOOK_EVENTS

pytestmark = pytest.mark.desktop

POLL = 2.0
REPAIR = "Repair Claude Code hooks"


def labels(menu: List[MenuNode]) -> List[str]:
    return [item.label for item in menu]


def test_the_tray_warns_about_broken_hooks_and_repairs_them(sni_desktop: Desktop, tmp_path: Path) -> None:
    d = sni_desktop
    env = tray_env(d, tmp_path, str(tmp_path / "registry"))
    env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude")
    settings = tmp_path / "claude" / "settings.json"
    install = ThrowAwayInstall(tmp_path / "install")
    done = install.run("hooks", "install", "--settings", str(settings), "--form", "exec",
                       env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    install.uninstall_package()

    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    try:
        d.wait_for(lambda: d.sni_item(ICON_NAME), timeout=30)

        def warned() -> Optional[List[MenuNode]]:
            menu = d.sni_menu(ICON_NAME)
            return menu if REPAIR in labels(menu) else None

        menu = d.wait_for(warned, timeout=60)
        installed = [event for event in HOOK_EVENTS if event in json.loads(settings.read_text())["hooks"]]
        warning = f"⚠ {len(installed)} Claude Code hooks broken (details: Open log)"
        assert labels(menu)[:2] == [warning, REPAIR], labels(menu)
        d.wait_for(lambda: [n for n in d.notifications() if "hooks broken" in n["summary"]], timeout=30)

        icon = d.icons_in_bar(d.host_bar())
        assert icon is not None
        d.sni_pick(ICON_NAME, icon.center, [REPAIR], POLL)

        d.wait_for(lambda: REPAIR not in labels(d.sni_menu(ICON_NAME)), timeout=60)
        assert not any(label.startswith("⚠") for label in labels(d.sni_menu(ICON_NAME)))
        d.wait_for(lambda: [n for n in d.notifications() if "hooks repaired" in n["body"]], timeout=30)
        report = hs.status(str(settings), events=hs.events_for(hs.claude_code_version()))
        assert report.healthy, report.format()
        first = json.loads(settings.read_text())["hooks"]["SessionStart"][0]["hooks"][0]
        assert install.python not in json.dumps(first)  # rewritten for the tray's own interpreter

        d.sni_pick(ICON_NAME, icon.center, ["Quit"], POLL)
        assert tray.wait(timeout=30) == 0
    finally:
        reap(tray)  # still running only when the test failed before Quit
    log = (tmp_path / "log" / "orchestray.log").read_text()
    assert "Traceback" not in log
