"""A new user starts the tray (or another machine's `orchestray watch --json` starts) before any Claude Code session
ever ran: the registry folder, even `~/.claude`, does not exist yet. The first session must show as fast as any
other change, not at the next safety-net rescan or poll. Real parts: the tray's controller with its real change
watcher, a real session process registered through the real `orchestray register` command.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable, List

import pytest
from helpers import run_cli, wait_until
from menu_view import MenuView

from tray import watchcmd
from tray.app import controller as controller_module
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.registry import Registry

DEADLINE = 30.0


def register_first_session(registry: Registry, pid: int, project: Path) -> None:
    """What Claude Code's SessionStart hook does for the user's very first session: it creates the folders."""
    done = run_cli(["register", "--pid", pid, "--cwd", project, "--session-id", "first-5e55"],
                   registry_dir=registry.directory)
    assert done.returncode == 0 and done.stdout.strip() == "orchestrator", done.stderr


@pytest.fixture
def new_user(tmp_path: Path) -> Registry:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "shop").mkdir()
    return Registry(str(home / ".claude" / "active"))  # neither .claude nor active exists


def test_the_first_session_shows_at_once_though_the_registry_did_not_exist_when_the_tray_started(
        tmp_path: Path, new_user: Registry, procs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only an event can make the tray look again within this test: no poll, no safety-net rescan.
    monkeypatch.setattr(controller_module, "SAFETY_NET_SECONDS", 3600.0)
    monkeypatch.setattr(controller_module, "QUIET_SAFETY_NET_SECONDS", 3600.0)
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"poll_interval": 3600.0}))
    view = MenuView()
    controller = TrayController(new_user, view, ConfigStore(str(config)), find_file=lambda root, name: None)
    controller.start()
    try:
        wait_until(lambda: bool(view.shown), "the first menu")
        assert controller.watching and not Path(new_user.directory).exists()
        assert not any(line.startswith("● shop") for line in view.top())
        register_first_session(new_user, procs.spawn().pid, tmp_path / "shop")
        wait_until(lambda: any(line.startswith("● shop — ok (1 session)") for line in view.top()),
                   "the first session in the menu")
    finally:
        controller.stop()


class Lines:
    """The output `orchestray watch --json` writes (its reader's side), one JSON object per line."""

    def __init__(self) -> None:
        self.lines: List[bytes] = []
        self.cond = threading.Condition()

    def write(self, data: bytes) -> int:
        with self.cond:
            self.lines.append(data)
            self.cond.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    def wait_for(self, condition: Callable[[Any], bool], what: str) -> Any:
        with self.cond:
            for index in range(10**6):
                while len(self.lines) <= index:
                    assert self.cond.wait(DEADLINE), f"no line within {DEADLINE:.0f} s: waiting for {what}"
                said = json.loads(self.lines[index])
                if condition(said):
                    return said
        raise AssertionError(what)


def test_watch_json_says_the_first_session_without_waiting_for_a_poll(
        tmp_path: Path, new_user: Registry, procs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchcmd, "POLL_SECONDS", 3600.0)  # only an event can make it look again
    out, stop = Lines(), threading.Event()
    thread = threading.Thread(target=watchcmd.run, args=(new_user, out), daemon=True,
                              kwargs={"heartbeat": 3600.0, "stop": stop})
    thread.start()
    session = procs.spawn()
    try:
        first = out.wait_for(lambda said: True, "the first status")
        assert first["projects"] == [] and not Path(new_user.directory).exists()
        register_first_session(new_user, session.pid, tmp_path / "shop")
        status = out.wait_for(lambda said: bool(said.get("projects")), "a line with the first session")
        assert status["projects"][0]["orchestrator"]["sessionId"] == "first-5e55"
    finally:
        stop.set()
        procs.kill(session)  # its end wakes the watch, which then sees `stop`
        thread.join(DEADLINE)
    assert not thread.is_alive()
