"""Sources changed while the tray runs: `orchestray sources add/remove` (and a hand edit of config.json) reach
the running tray without a restart. Real parts: the controller with its real change watcher, the real CLI in a
process, a real sshd on 127.0.0.1 serving a second Orchestray world (tests/support/sshd.py), and the real
`orchestray watch --json` processes over there, found by their parent sshd.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, List, Set

import psutil
import pytest
from helpers import run_cli
from menu_view import MenuView
from sshd import SshServer, wait_for

from tray.app import controller as controller_module
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.app.menu import Action, ActionKind
from tray.core.actions import register
from tray.core.registry import Registry

DEVBOX_API = "● devbox: api — ok (1 session)"


def remote_watches(server: SshServer) -> Set[int]:
    """PIDs of the `orchestray watch --json` processes running now under this sshd (not another test's)."""
    found = set()
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if "watch" not in cmdline or "--json" not in cmdline or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if any(parent.pid == server.pid for parent in process.parents()):
                found.add(process.pid)
        except psutil.Error:
            pass  # it ended meanwhile
    return found


def write_config(folder: Path, settings: Any) -> None:
    """As an editor or another tool that writes atomically does: a temporary file renamed over config.json."""
    temporary = folder / "config.json.tmp"
    temporary.write_text(settings if isinstance(settings, str) else json.dumps(settings))
    os.replace(temporary, folder / "config.json")


def sources_cli(config: Path, *args: str) -> List[str]:
    done = run_cli(["sources", *args], env={"ORCHESTRAY_CONFIG_DIR": str(config)})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_source_added_while_the_tray_runs_shows_and_one_removed_goes_with_its_watch_over_there(
        tmp_path: Path, procs: Any, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Only an event can make the tray read config.json again within this test: no safety-net rescan.
    monkeypatch.setattr(controller_module, "SAFETY_NET_SECONDS", 3600.0)
    monkeypatch.setattr(controller_module, "QUIET_SAFETY_NET_SECONDS", 3600.0)
    monkeypatch.setenv("ORCHESTRAY_SSH_COMMAND", sshd_server.ssh_command)
    local, far = Registry(str(tmp_path / "here" / "active")), Registry(str(sshd_server.remote.registry))
    mine, api = tmp_path / "here" / "mine", tmp_path / "far" / "api"
    for folder in (mine, api):
        folder.mkdir(parents=True)
    register(local, "mine-1", procs.spawn().pid, str(mine))
    register(far, "boss-1", procs.spawn().pid, str(api))
    config = tmp_path / "cfg"
    config.mkdir()
    write_config(config, {"source_poll_interval": 1.0})
    view = MenuView()
    controller = TrayController(local, view, ConfigStore(str(config)), find_file=lambda root, name: None)
    controller.start()
    caplog.set_level(logging.INFO, logger="orchestray")
    try:
        wait_for(lambda: any(line.startswith("● mine — ok") for line in view.top()), "this machine's project")
        assert controller.watching and not remote_watches(sshd_server)

        said = sources_cli(config, "add", "ssh:devbox")
        assert said[-1] == "a running tray starts following it by itself: no restart needed"
        wait_for(lambda: DEVBOX_API in view.top(), "the added host's project in the menu")
        watches = remote_watches(sshd_server)
        assert len(watches) == 1, view.top()
        poller = controller.pollers["ssh:devbox"]

        # Another setting changed by hand: applied; the source keeps its connection (same poller, same watch).
        write_config(config, {**json.loads((config / "config.json").read_text()), "notifications": False})
        wait_for(lambda: view.item("Notifications").checked is False, "notifications off in the menu")
        assert controller.pollers["ssh:devbox"] is poller and remote_watches(sshd_server) == watches

        # A broken file while running: one log line, the settings in use stay, the file is left as it is.
        write_config(config, "{ half written")
        wait_for(lambda: any("keeping the settings in use" in r.getMessage() for r in caplog.records),
                 "the one line about the broken file")
        assert DEVBOX_API in view.top() and view.item("Notifications").checked is False
        assert (config / "config.json").read_text() == "{ half written"
        assert sorted(p.name for p in config.iterdir()) == ["config.json"]
        assert sum("keeping the settings in use" in r.getMessage() for r in caplog.records) == 1
        write_config(config, {"sources": [{"spec": "ssh:devbox"}], "source_poll_interval": 1.0,
                              "notifications": False})

        said = sources_cli(config, "remove", "ssh:devbox")
        assert said == ["removed ssh:devbox", "a running tray stops following it by itself: no restart needed"]
        wait_for(lambda: not any("devbox" in line for line in view.top()), "the removed host gone from the menu")
        assert "ssh:devbox" not in controller.pollers
        assert any(line.startswith("● mine — ok") for line in view.top())
        # Its ssh is ended at once; the watch over there ends by itself at its next heartbeat.
        wait_for(lambda: not remote_watches(sshd_server), "the end of the removed host's watch")
    finally:
        controller.stop()
        for poller in list(controller.pollers.values()):
            poller.join(30)


def test_a_menu_toggle_after_sources_add_keeps_the_added_source(tmp_path: Path) -> None:
    """The tray saves what its menu changes; it must not save its older idea of config.json over the CLI's."""
    config = tmp_path / "cfg"
    config.mkdir()
    write_config(config, {"notify_per_minute": 4})
    view = MenuView()
    controller = TrayController(Registry(str(tmp_path / "active")), view, ConfigStore(str(config)),
                                find_file=lambda root, name: None)
    sources_cli(config, "add", "ssh:devbox")
    controller.perform(Action(ActionKind.TOGGLE_NOTIFICATIONS))
    stored = json.loads((config / "config.json").read_text())
    assert stored["sources"] == [{"spec": "ssh:devbox"}] and stored["notifications"] is False
    assert stored["notify_per_minute"] == 4 and list(controller.pollers) == ["ssh:devbox"]
    assert view.item("Notifications").checked is False
