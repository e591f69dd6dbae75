"""The tray warns about Claude Code hooks that no longer run, and its "Repair Claude Code hooks" item repairs them.

Real parts: a real settings.json written by a throw-away install's own `hooks install`, that install then
uninstalled (its package files removed); the tray controller with the check and the repair it uses in the real
tray (`tray.app.main`), which run every installed hook as Claude Code would. The view records what the tray
would show and notify.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
from broken_install import ThrowAwayInstall

from tray.app import main as tray_main
from tray.app import menu as menu_model
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.registry import Registry
from tray.hooks import settings as hs
from tray.hooks.events import HOOK_EVENTS

pytestmark = pytest.mark.skipif(os.name != "posix", reason="runs hooks through /bin/sh as Claude Code on POSIX")


class RecordingView:
    def __init__(self) -> None:
        self.menus: List[Tuple[menu_model.MenuItem, ...]] = []
        self.notices: List[Tuple[str, str]] = []

    def show(self, state: str, count: int, title: str, menu: Tuple[menu_model.MenuItem, ...]) -> None:
        self.menus.append(menu)

    def notify(self, title: str, body: str) -> bool:
        self.notices.append((title, body))
        return True

    def stop(self) -> None:
        pass

    def texts(self) -> List[str]:
        return [item.text for item in self.menus[-1]]


def test_the_tray_warns_about_broken_hooks_and_repairs_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    claude = tmp_path / "claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    settings = claude / "settings.json"
    install = ThrowAwayInstall(tmp_path / "install")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = install.run("hooks", "install", "--form", "exec", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(settings.read_text())["hooks"]["Stop"][0]["hooks"][0]["command"] == install.python

    view = RecordingView()
    controller = TrayController(Registry(str(tmp_path / "registry")), view=view,
                                config_store=ConfigStore(str(tmp_path / "config")),
                                hooks_check=tray_main._hook_problems, hooks_repair=tray_main._repair_hooks)
    assert controller.check_hooks(force=True) == ()  # a working install: no warning
    assert not any("Repair" in text for text in view.texts())

    install.uninstall_package()  # `pip uninstall` without `hooks uninstall`
    problems = controller.check_hooks(force=True)
    installed = [event for event in HOOK_EVENTS if event in json.loads(settings.read_text())["hooks"]]
    assert len(problems) == len(installed) >= 5
    texts = view.texts()
    assert texts[0] == f"⚠ {len(installed)} Claude Code hooks broken (details: Open log)"
    repair = next(item for item in view.menus[-1] if item.text == "Repair Claude Code hooks")
    assert repair.action == menu_model.Action(menu_model.ActionKind.REPAIR_HOOKS) and repair.enabled
    assert view.notices[-1][0] == "Orchestray: Claude Code hooks broken"
    notices = len(view.notices)
    controller.check_hooks(force=True)
    assert len(view.notices) == notices  # said once, not at every check

    controller.perform(repair.action)
    assert view.notices[-1] == ("Orchestray", "Claude Code hooks repaired")
    assert not any("Repair" in text or text.startswith("⚠") for text in view.texts())
    report = hs.status(str(settings), events=hs.events_for(hs.claude_code_version()))
    assert report.healthy and all(h.command and sys.executable in h.command for h in report.hooks)
    assert json.loads(settings.read_text())["hooks"]["Stop"][0]["hooks"][0]["command"] != install.python


def test_no_hooks_installed_is_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    assert tray_main._hook_problems() == []
    (tmp_path / "claude").mkdir()
    (tmp_path / "claude" / "settings.json").write_text('{"model": "opus"}')
    assert tray_main._hook_problems() == []


def test_an_unreadable_settings_file_is_one_warning_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    (tmp_path / "claude").mkdir()
    (tmp_path / "claude" / "settings.json").write_text("{not json")
    (line,) = tray_main._hook_problems()
    assert "not valid JSON at line 1" in line
