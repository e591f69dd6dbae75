"""An SSH source through a real sshd on 127.0.0.1 (tests/support/sshd.py): the tray's controller, as the tray runs
it, reads a second Orchestray world over a real ssh connection, notices deaths there, promotes there, says when
the host is unreachable and recovers when it is back. What is asserted is what the user sees: menu lines,
notices, and the remote registry's own files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import psutil
import pytest
from menu_view import MenuView
from sshd import SshServer, require_sshd, start_sshd, wait_for

from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.actions import register
from tray.core.registry import Registry

pytestmark = pytest.mark.sshd


class Setup:
    """This machine's registry with one project (`mine`); on devbox, `api` with orchestrator boss-1 and worker
    work-2 (real processes: the "remote" host is this machine, so their PIDs are alive there)."""

    def __init__(self, tmp_path: Path, procs: Any, server: SshServer, monkeypatch: pytest.MonkeyPatch,
                 interval: Optional[float] = None) -> None:
        self.server, self.procs = server, procs
        monkeypatch.setenv("ORCHESTRAY_SSH_COMMAND", server.ssh_command)
        self.local = Registry(str(tmp_path / "here" / "active"))
        self.far = Registry(str(server.remote.registry))
        self.mine, self.api = tmp_path / "here" / "mine", tmp_path / "far" / "api"
        for folder in (self.mine, self.api):
            folder.mkdir(parents=True)
        register(self.local, "mine-1", procs.spawn().pid, str(self.mine))
        self.boss, self.worker = procs.many(2)
        register(self.far, "boss-1", self.boss.pid, str(self.api))
        register(self.far, "work-2", self.worker.pid, str(self.api))
        config = tmp_path / "cfg"
        config.mkdir()
        settings: dict = {"sources": [{"spec": "ssh:devbox"}], "watch": False, "poll_interval": 0.5}
        if interval is not None:
            settings["source_poll_interval"] = interval
        (config / "config.json").write_text(json.dumps(settings))
        self.view = MenuView()
        self.controller = TrayController(self.local, self.view, ConfigStore(str(config)),
                                         find_file=lambda root, name: None)
        self.poller = self.controller.pollers["ssh:devbox"]

    def poll(self) -> None:
        self.poller.poll_now()
        self.controller.poll_once()

    def far_role(self, session_id: str) -> Optional[str]:
        path = Path(self.far.directory) / f"{session_id}.json"
        return json.loads(path.read_text())["role"] if path.exists() else None


@pytest.fixture
def setup(tmp_path: Path, procs: Any, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return Setup(tmp_path, procs, sshd_server, monkeypatch)


def test_the_hosts_projects_show_under_its_name_and_a_death_there_is_a_notice_naming_it(setup: Setup) -> None:
    setup.poll()
    top = setup.view.top()
    assert "● devbox: api — ok (2 sessions)" in top and any(t.startswith("● mine — ok") for t in top), (
        top, setup.server.log_text())
    setup.procs.kill(setup.boss)
    setup.poll()
    deaths = [note for note in setup.view.notes if note[0] == "devbox: api: orchestrator died"]
    assert len(deaths) == 1 and "Promote worker work-2" in deaths[0][1]
    assert "▲ devbox: api — no orchestrator (1 session, 1 stale)" in setup.view.top()


def test_promote_from_the_menu_changes_the_remote_registry(setup: Setup) -> None:
    setup.poll()
    promote = setup.view.item("work-2").children[0]
    assert promote.text == "Promote to orchestrator (demotes boss-1)"
    setup.controller.perform(promote.action)
    assert (setup.far_role("work-2"), setup.far_role("boss-1")) == ("orchestrator", "worker")
    assert setup.view.item("Orchestrator: work-2")  # shown at once: the action polls the host again


def test_a_host_that_goes_away_is_one_line_local_sessions_keep_updating_and_it_recovers(setup: Setup) -> None:
    setup.poll()
    setup.server.kill_all()
    setup.poll()
    top = setup.view.top()
    assert "⚠ devbox: unreachable — Connection refused" in top and not any("devbox: api" in t for t in top)
    register(setup.local, "mine-2", setup.procs.spawn().pid, str(setup.mine))
    setup.poll()
    assert any(t.startswith("● mine — ok (2 sessions)") for t in setup.view.top())
    setup.server.start()
    setup.poll()
    top = setup.view.top()
    assert "● devbox: api — ok (2 sessions)" in top and not any(t.startswith("⚠") for t in top)


def test_orchestray_missing_on_the_host_is_said_in_one_line(tmp_path: Path, procs: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    require_sshd()
    with start_sshd(tmp_path / "bare", orchestray_installed=False) as server:
        setup = Setup(tmp_path, procs, server, monkeypatch)
        setup.poll()
        assert "⚠ devbox: Orchestray is not installed on devbox" in setup.view.top()


def test_the_running_tray_notices_within_a_poll_and_a_hung_host_delays_nothing(
        tmp_path: Path, procs: Any, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The controller's own threads: the host killed, frozen (connects, never answers) and back."""
    setup = Setup(tmp_path, procs, sshd_server, monkeypatch, interval=1.0)
    view = setup.view
    setup.controller.start()
    try:
        wait_for(lambda: "● devbox: api — ok (2 sessions)" in view.top(), "the host's projects")
        assert len(remote_watches()) == 1  # followed through one long-lived `orchestray watch --json` there
        sshd_server.kill_all()
        wait_for(lambda: "⚠ devbox: unreachable — Connection refused" in view.top(), "the host unreachable")
        sshd_server.start()
        sshd_server.freeze()  # connects, never answers: ssh waits for its ConnectTimeout
        register(setup.local, "mine-2", procs.spawn().pid, str(setup.mine))
        wait_for(lambda: any(t.startswith("● mine — ok (2 sessions)") for t in view.top()), "the local change")
        sshd_server.thaw()
        wait_for(lambda: "● devbox: api — ok (2 sessions)" in view.top(), "the host back")
        procs.kill(setup.boss)
        wait_for(lambda: any(n[0] == "devbox: api: orchestrator died" for n in view.notes), "the death notice")
    finally:
        setup.controller.stop()
        setup.poller.join(30)
    # The tray is gone: its ssh was killed, and the watch over there ends by itself at its next heartbeat.
    wait_for(lambda: not remote_watches(), "the end of the remote watch")


def remote_watches() -> List[psutil.Process]:
    """`orchestray watch` processes running now (over there: under an sshd)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if "watch" in cmdline and "--json" in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            try:
                if any(parent.name() == "sshd" for parent in process.parents()):
                    found.append(process)
            except psutil.Error:
                pass  # it ended meanwhile
    return found
