"""A tray at rest loads nothing it does not use (issue 13's memory diet): the modules of the other sources, of the
actions, of the notifiers, of focusing a terminal, of the login item, of installing hooks and of the hook handlers
load on first use. Each check runs the real pieces in a fresh interpreter (this one has everything loaded) and
asks its `sys.modules`; the same run then uses each piece and sees it load and work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Loaded on first use only (tray/app/controller.py, tray/app/main.py, tray/cli.py, tray/platform/autostart.py).
ON_FIRST_USE = (
    "tray.app.sources", "tray.core.sources", "tray.core.remote", "tray.platform.transport",  # another source
    "tray.core.actions",  # a menu action or a notice's button
    "tray.platform.notify", "tray.platform.notify_buttons",  # the first notice
    "tray.platform.focus", "tray.platform.opener",  # the first menu
    "tray.platform.autostart", "configparser",  # the first menu; configparser only with a login item to read
    "tray.hooks.settings", "tray.hooks.backup", "tray.hooks.shim",  # "Repair hooks"
    "tray.hooks.handlers",  # `orchestray hook ...` only
)

CHILD = r"""
import json, os, signal, subprocess, sys, time
from datetime import datetime, timezone

import psutil

registry_dir, config_dir, project, lazy = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
loaded = lambda: sorted(name for name in lazy if sys.modules.get(name) is not None)


def write_entry(session_id, pid, role):
    started = datetime.fromtimestamp(psutil.Process(pid).create_time(), timezone.utc)
    entry = {"pid": pid, "startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "sessionId": session_id,
             "cwd": project, "role": role}
    with open(os.path.join(registry_dir, session_id + ".json"), "w", encoding="utf-8") as handle:
        json.dump(entry, handle)


os.makedirs(registry_dir)
boss = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
write_entry("boss-0001", boss.pid, "orchestrator")
write_entry("worker-0002", os.getpid(), "worker")

from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.app.main import AutostartOnFirstUse, _hook_problems
from tray.cli import main
from tray.core.registry import Registry

steps = {}
steps["cli"] = (main(["tray"]), loaded())  # no DISPLAY here: it says so and exits, as far as a tray gets without one


class View:
    def __init__(self):
        self.shown, self.notices = [], []

    def show(self, state, count, title, menu):
        self.shown.append((title, menu is not None))

    def notify(self, title, body, buttons=(), on_click=None):
        self.notices.append((title, len(buttons)))
        return True

    def stop(self):
        pass


view = View()
controller = TrayController(Registry(registry_dir), view, ConfigStore(config_dir), autostart=AutostartOnFirstUse(),
                            hooks_check=_hook_problems)
controller.menu_on_open = controller.ages_on_open = True  # the gtk backend
controller.poll_once()
controller.check_hooks()
steps["rest"] = (view.shown[-1], loaded())
controller.refresh_ages()  # the user opens the menu
controller.menu_closed()
steps["menu"] = (view.shown[-1], loaded())
boss.kill()
boss.wait(10)
for _ in range(100):
    controller.poll_once()
    if view.notices:
        break
    time.sleep(0.05)
steps["notice"] = (view.notices, loaded())
print(json.dumps(steps))
"""


def test_a_tray_at_rest_loads_what_it_uses_and_the_rest_on_first_use(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               CLAUDE_CONFIG_DIR=str(tmp_path / "claude"), ORCHESTRAY_LOG_DIR=str(tmp_path / "log"),
               ORCHESTRAY_STATE_DIR=str(tmp_path / "state"), ORCHESTRAY_CONFIG_DIR=str(tmp_path / "cfg"))
    project = tmp_path / "shop"
    project.mkdir()
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "reg"), str(tmp_path / "cfg"), str(project),
                          json.dumps(ON_FIRST_USE)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    steps = json.loads(out.stdout.strip().splitlines()[-1])

    code, loaded = steps["cli"]
    assert code == 2 and loaded == []
    (title, with_menu), loaded = steps["rest"]
    assert "2 live session(s)" in title and not with_menu  # the snapshot, icon and tooltip; no menu while closed
    assert loaded == []
    (title, with_menu), loaded = steps["menu"]
    assert with_menu  # the opening built the menu: focus (can it work here?) and opener (HANDOVER.md?) came
    assert loaded == ["tray.platform.autostart", "tray.platform.focus", "tray.platform.opener"]  # no .desktop file
    notices, loaded = steps["notice"]
    assert [title for title, _buttons in notices] == ["shop: orchestrator died"] and notices[0][1] >= 1
    assert "tray.platform.notify" in loaded and "tray.app.sources" not in loaded and "tray.hooks.handlers" not in loaded


def test_a_configured_source_loads_the_sources_modules(tmp_path: Path) -> None:
    """The other side of the laziness: a source in config.json gets its poller (and the modules) at start."""
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"sources": [{"spec": "ssh:devbox"}]}), encoding="utf-8")
    code = ("import sys\nfrom tray.app.config import ConfigStore\nfrom tray.app.controller import TrayController\n"
            "from tray.core.registry import Registry\n"
            f"c = TrayController(Registry({str(tmp_path / 'reg')!r}), None, ConfigStore({str(config)!r}))\n"
            "print(sorted(c.pollers), 'tray.app.sources' in sys.modules, c.source_runner.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['ssh:devbox']", "True", "default_runner"]


def test_the_login_item_loads_on_first_use_and_writes_this_trays_command(tmp_path: Path) -> None:
    code = ("import sys\nfrom tray.app.main import AutostartOnFirstUse\na = AutostartOnFirstUse()\n"
            "print('tray.platform.autostart' in sys.modules)\nprint(a.is_enabled())\n"
            "print('configparser' in sys.modules)\na.enable([])\nprint(a.is_enabled())\na.disable()\n"
            "print(a.is_enabled())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False", "True", "False"]
    written = [path for path in tmp_path.rglob("*.desktop")]
    assert written == []  # disabled again: our file is gone


def test_the_login_item_enabled_holds_the_command_that_starts_this_tray(tmp_path: Path) -> None:
    code = ("from tray.app.main import AutostartOnFirstUse\nAutostartOnFirstUse().enable([])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "autostart" / "orchestray.desktop").read_text(encoding="utf-8")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert "tray" in exec_line and sys.executable.split(os.sep)[-1] in exec_line


def test_the_notifiers_are_built_at_the_first_notice_only(tmp_path: Path) -> None:
    code = ("import logging, sys\nfrom tray.app.main import NotifierOnFirstUse\n"
            "log = logging.getLogger('t')\nn = NotifierOnFirstUse(None, log)\nn.close()\n"
            "print('tray.platform.notify_buttons' in sys.modules)\n"
            "n._get()\nprint('tray.platform.notify_buttons' in sys.modules, n._chain.names[0])\nn.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "desktop-notifier"]
