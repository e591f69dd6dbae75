"""An SSH source on a real desktop: the real tray process on a StatusNotifierItem host (Xvfb, a real SNI watcher and
host, dunst on a private D-Bus), reaching a real sshd on 127.0.0.1 (tests/support/sshd.py) whose sessions see a
second Orchestray world. What is checked is what the user sees: the menu the tray exports over D-Bus (the data
the host draws), the notices dunst received, the remote registry's files after a pick in the host's menu.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import List, Optional

import pytest
from desktop import Desktop, MenuNode
from sshd import SshServer
from tray_under_test import POLL, cli, make_repo, project, tray_command, tray_env

from tray.app.pystray_view import ICON_NAME
from tray.core.actions import register
from tray.core.registry import Registry

pytestmark = [pytest.mark.desktop, pytest.mark.sshd]


def test_a_remote_host_in_the_tray_notice_promote_unreachable_and_back(
        sni_desktop: Desktop, sshd_server: SshServer, tmp_path: Path, procs) -> None:
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"sources": [{"spec": "ssh:devbox"}],
                                                    "source_poll_interval": 1.0}))
    env = {**tray_env(d, tmp_path, registry_dir, config), **sshd_server.env()}
    here = make_repo(tmp_path / "here-proj")
    mine = procs.spawn()
    assert cli(env, "register", "--session-id", "h-orch", "--pid", str(mine.pid), "--cwd", str(here)).returncode == 0
    far = Registry(str(sshd_server.remote.registry))
    api = tmp_path / "far" / "api"
    api.mkdir(parents=True)
    boss, worker = procs.many(2)
    register(far, "boss-1", boss.pid, str(api))
    register(far, "work-2", worker.pid, str(api))

    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    d.wait_for(lambda: d.sni_item(ICON_NAME), timeout=20)

    # 1. The host's project is listed under its name, beside this machine's.
    def listed() -> Optional[List[MenuNode]]:
        menu = d.sni_menu(ICON_NAME)
        return menu if project(menu, "devbox: api") and project(menu, "here-proj") else None

    menu = d.wait_for(listed, timeout=30)
    node = project(menu, "devbox: api")
    assert node is not None and "ok (2 sessions)" in node.label, node.label
    labels = " | ".join(child.label for child in node.children)
    assert "boss-1" in labels and "work-2" in labels, labels

    # 2. The process behind the remote orchestrator dies: dunst gets a notice naming host and project.
    procs.kill(boss)

    def died() -> list:
        return [n for n in d.notifications() if n["summary"] == "devbox: api: orchestrator died"]

    notice = d.wait_for(died, timeout=30)
    assert "boss-1" in notice[0]["body"] and "work-2" in notice[0]["body"]

    # 3. "Promote" picked in the host's menu changes the remote registry file.
    icon = d.icons_in_bar(d.host_bar())
    assert icon is not None
    d.wait_for(lambda: (n := project(d.sni_menu(ICON_NAME), "devbox: api")) is not None
               and "no orchestrator" in n.label, timeout=30)
    d.sni_pick(ICON_NAME, icon.center, ["devbox: api", "work-2", "Promote"], POLL)
    far_file = Path(far.directory) / "work-2.json"
    d.wait_for(lambda: json.loads(far_file.read_text())["role"] == "orchestrator", timeout=30)

    # 4. The host goes away (listener and every connection): one line in the menu, within a poll; this
    #    machine's sessions keep updating meanwhile.
    sshd_server.kill_all()
    d.wait_for(lambda: any(i.label == "⚠ devbox: unreachable — Connection refused" for i in d.sni_menu(ICON_NAME)),
               timeout=30)
    other = procs.spawn()
    assert cli(env, "register", "--session-id", "h-work", "--pid", str(other.pid), "--cwd", str(here)).returncode == 0
    d.wait_for(lambda: (n := project(d.sni_menu(ICON_NAME), "here-proj")) is not None and "2 sessions" in n.label,
               timeout=30)
    assert project(d.sni_menu(ICON_NAME), "devbox: api") is None

    # 5. It comes back: the project is listed again, the warning is gone.
    sshd_server.start()

    def back() -> Optional[List[MenuNode]]:
        menu = d.sni_menu(ICON_NAME)
        node = project(menu, "devbox: api")
        return menu if node is not None and "ok" in node.label and not any("⚠" in i.label for i in menu) else None

    d.wait_for(back, timeout=90)  # the source backs off while it fails: up to a few intervals
    d.sni_pick(ICON_NAME, icon.center, ["Quit"], POLL)
    try:
        assert tray.wait(timeout=30) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not quit")
    assert len(died()) == 1, died()
    log = (tmp_path / "log" / "orchestray.log").read_text()
    output = (tmp_path / "desktop" / "tray.log").read_text()
    assert "Traceback" not in log + output
    assert "source ssh:devbox: unreachable — Connection refused" in log
