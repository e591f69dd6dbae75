"""The tray with other sources, through recorded fakes of `wsl.exe` and `docker` (they cannot run on Linux CI).

The fake records the argv the tray ran and, unless told to replay a recorded failure, runs the remote command
on this machine with no shell, as both programs do over there: the "distribution" is a second registry with
real processes, read by the real `orchestray status --json`. The controller is driven as the tray drives it;
what is asserted is what the user would see: the menu's lines, the notices, and the far registry's files.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import pytest
from fake_transport import FakeTransport
from menu_view import MenuView, flatten

from tray.app import menu as m
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.actions import register
from tray.core.registry import Registry


class World:
    """This machine's registry (one project, `mine`), a far registry (`api`: orchestrator boss-1, worker work-2),
    the fake transport, and a controller whose config names the far side as a source."""

    def __init__(self, tmp_path: Path, procs: Any, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.procs = procs
        self.local = Registry(str(tmp_path / "here" / "active"))
        self.far = Registry(str(tmp_path / "far" / "active"))
        self.mine = tmp_path / "here" / "mine"
        self.api = tmp_path / "far" / "api"
        for folder in (self.mine, self.api):
            folder.mkdir(parents=True)
        self.me = procs.spawn()
        register(self.local, "mine-1", self.me.pid, str(self.mine))
        self.boss, self.worker = procs.many(2)
        register(self.far, "boss-1", self.boss.pid, str(self.api))
        register(self.far, "work-2", self.worker.pid, str(self.api))
        self.fake = FakeTransport(kind, tmp_path)
        monkeypatch.setenv(self.fake.variable, self.fake.command)
        self.spec = f"{kind}:Ubuntu" if kind == "wsl" else f"{kind}:web"
        self.name = self.spec.split(":")[1]
        config = tmp_path / "cfg"
        config.mkdir()
        (config / "config.json").write_text(json.dumps({"sources": [
            {"spec": self.spec, "command": f"{sys.executable} -m tray --registry-dir {self.far.directory}"}]}))
        self.view = MenuView()
        self.opened: List[str] = []
        self.controller = TrayController(self.local, self.view, ConfigStore(str(config)),
                                         find_file=lambda root, name: None, open_path=self.opened.append)
        self.poller = self.controller.pollers[self.spec]

    def poll(self) -> List[Any]:
        """One poll of the source (as its thread does), then the tray's own poll."""
        self.poller.poll_now()
        return self.controller.poll_once()

    def far_role(self, session_id: str) -> Optional[str]:
        path = Path(self.far.directory) / f"{session_id}.json"
        return json.loads(path.read_text())["role"] if path.exists() else None


@pytest.fixture(params=["wsl", "docker"])
def world(request: pytest.FixtureRequest, tmp_path: Path, procs: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, procs, request.param, monkeypatch)


def test_the_far_projects_show_under_the_source_name_beside_the_local_ones(world: World) -> None:
    world.controller.poll_once()  # before the source answered: the local project, and the source "connecting"
    assert world.view.top()[0].startswith("● mine — ok") and f"{world.name}: connecting…" in world.view.top()
    world.poll()
    top = world.view.top()
    assert f"● {world.name}: api — ok (2 sessions)" in top and any(t.startswith("● mine — ok") for t in top)
    assert not any(t.startswith(f"{world.name}:") and "connecting" in t for t in top)
    assert world.view.item("Orchestrator: boss-1").children[0].action == m.Action(
        m.ActionKind.VACATE, "boss-1", source=world.spec)
    promote = world.view.item("work-2").children[0]
    assert promote.text == "Promote to orchestrator (demotes boss-1)"
    assert "Focus terminal" not in [i.text for i in flatten(world.view.item(f"● {world.name}: api").children)]


def test_a_far_orchestrator_death_is_a_notice_naming_the_source_and_its_promote_button_works(world: World) -> None:
    world.poll()
    world.procs.kill(world.boss)
    world.poll()
    deaths = [note for note in world.view.notes if "orchestrator died" in note[0]]
    assert deaths and deaths[0][0] == f"{world.name}: api: orchestrator died"
    assert "Promote worker work-2" in deaths[0][1]
    assert [button.label for button in deaths[0][2]] == ["Promote work-2"]  # its terminal is not here to focus
    promote = deaths[0][2][0]
    promote.run()
    assert world.far_role("work-2") == "orchestrator"
    assert any(call[-2:] == ["promote", "work-2"] for call in world.fake.calls())  # never forced from a notice
    assert f"● {world.name}: api — ok (1 session)" in world.view.top()  # the dead one removed


def test_promote_vacate_and_clean_from_the_menu_change_the_far_registry(world: World) -> None:
    world.poll()
    world.controller.perform(world.view.item("work-2").children[0].action)  # promote, demoting boss-1
    assert (world.far_role("work-2"), world.far_role("boss-1")) == ("orchestrator", "worker")
    world.controller.perform(world.view.item("Orchestrator: work-2").children[0].action)  # hand over
    assert world.far_role("work-2") == "vacating"
    assert f"◐ {world.name}: api — handing over (2 sessions)" in world.view.top()
    world.procs.kill(world.boss)
    world.poll()
    clean = world.view.item("Clean up 1 stale entry there")
    assert world.view.item("Clean up stale entries").enabled is False  # this machine has nothing stale
    world.controller.perform(clean.action)
    assert world.far_role("boss-1") is None and world.far_role("work-2") == "vacating"
    words = [call[call.index("--registry-dir") + 2:] for call in world.fake.calls()]
    assert ["promote", "work-2", "--force"] in words and ["vacate", "--session-id=work-2"] in words
    assert ["clean"] in words


def test_a_refusal_over_there_is_one_notice_naming_the_source(world: World) -> None:
    world.poll()
    action = world.view.item("work-2").children[0].action
    world.procs.kill(world.worker)
    world.controller.perform(action)
    assert world.far_role("work-2") == "worker"
    title, body, _ = world.view.notes[-1]
    assert title == "Orchestray: not promoted" and body.startswith(f"{world.name}: ") and "\n" not in body


def test_an_unreachable_source_is_one_line_while_local_sessions_keep_updating_and_it_recovers(world: World) -> None:
    world.poll()
    recorded = "wsl-no-distro" if world.fake.kind == "wsl" else "docker-stopped"
    world.fake.reply([], recorded)
    world.poll()
    top = world.view.top()
    line = [t for t in top if t.startswith(f"⚠ {world.name}: unreachable — ")]
    assert len(line) == 1 and not any(t.startswith(f"● {world.name}: api") for t in top)
    other = world.procs.spawn()
    register(world.local, "mine-2", other.pid, str(world.mine))
    world.poll()
    assert any(t.startswith("● mine — ok (2 sessions)") for t in world.view.top())
    world.fake.clear()
    world.poll()
    top = world.view.top()
    assert f"● {world.name}: api — ok (2 sessions)" in top and not any(t.startswith("⚠") for t in top)


def test_orchestray_missing_over_there_says_so(world: World) -> None:
    world.fake.reply([], f"{world.fake.kind}-not-installed")
    world.poll()
    assert f"⚠ {world.name}: Orchestray is not installed on {world.name}" in world.view.top()


def test_handover_opens_through_wsl_paths_or_as_a_read_only_copy(world: World) -> None:
    (world.api / "HANDOVER.md").write_text("# Handover\nNext: ship it\n")
    world.poll()
    world.controller.perform(world.view.item("Open HANDOVER.md").action)
    assert len(world.opened) == 1
    if world.fake.kind == "wsl":
        assert world.opened[0] == "\\\\wsl$\\Ubuntu" + str(world.api / "HANDOVER.md").replace("/", "\\")
    else:
        copy = Path(world.opened[0])
        assert copy.read_text().endswith("# Handover\nNext: ship it\n") and "read-only copy" in copy.read_text()
        assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        (world.api / "HANDOVER.md").write_text("# Handover\nNewer\n")
        world.controller.perform(world.view.item("Open HANDOVER.md").action)
        assert Path(world.opened[1]).read_text().endswith("Newer\n")
    (world.api / "HANDOVER.md").unlink()
    world.controller.perform(world.view.item("Open HANDOVER.md").action)
    assert world.view.notes[-1][0] == "Orchestray: cannot open HANDOVER.md"
    assert world.view.notes[-1][1] == f"{world.name}: no HANDOVER.md in {world.api}"


def test_a_hung_source_never_delays_the_local_poll_and_quitting_ends_its_run(tmp_path: Path, procs: Any,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    hung = tmp_path / "hung-docker"
    hung.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 600\n")
    hung.chmod(0o755)
    monkeypatch.setenv("ORCHESTRAY_DOCKER_COMMAND", str(hung))
    local = Registry(str(tmp_path / "active"))
    folder = tmp_path / "mine"
    folder.mkdir()
    me = procs.spawn()
    register(local, "mine-1", me.pid, str(folder))
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"sources": ["docker:web"], "poll_interval": 0.5,
                                                    "watch": False}))
    view = MenuView()
    controller = TrayController(local, view, ConfigStore(str(config)), find_file=lambda root, name: None)
    controller.start()
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pid").exists() or not view.shown:
            assert time.monotonic() < deadline, "neither the source's run nor the local menu started"
            time.sleep(0.05)
        other = procs.spawn()
        register(local, "mine-2", other.pid, str(folder))
        while not any(t.startswith("● mine — ok (2 sessions)") for t in view.top()):
            assert time.monotonic() < deadline, f"the local change never showed: {view.top()}"
            time.sleep(0.05)
        assert "web: connecting…" in view.top()
    finally:
        controller.stop()
    controller.pollers["docker:web"].join(30)
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid):
        assert time.monotonic() < deadline, "the hung run outlived the tray"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def test_a_death_during_an_outage_is_told_as_a_death_when_the_source_is_back_and_flapping_repeats_nothing(
        world: World) -> None:
    world.poll()
    recorded = "wsl-no-distro" if world.fake.kind == "wsl" else "docker-stopped"
    world.fake.reply([], recorded)
    world.poll()
    world.procs.kill(world.boss)  # while nobody can see it
    world.poll()
    assert world.view.notes == []
    world.fake.clear()
    world.poll()
    assert [note[0] for note in world.view.notes] == [f"{world.name}: api: orchestrator died"]
    for _ in range(2):  # the connection flaps: the project goes and comes back, nothing new happened there
        world.fake.reply([], recorded)
        world.poll()
        world.fake.clear()
        world.poll()
    assert len(world.view.notes) == 1 and f"▲ {world.name}: api — no orchestrator (1 session, 1 stale)" in (
        world.view.top())


def test_wsl_opens_only_a_handover_path_the_other_side_names_plainly(tmp_path: Path, procs: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(tmp_path, procs, "wsl", monkeypatch)
    world.poll()
    for answer in ("/mnt/c/Windows/System32/calc.exe\n", "/home/me/../../mnt/c/x/HANDOVER.md\n", "HANDOVER.md\n"):
        world.fake.reply(["handover"], stdout=answer)
        world.controller.perform(world.view.item("Open HANDOVER.md").action)
        assert world.opened == []
        assert world.view.notes[-1][1].startswith("Ubuntu: unusable answer for HANDOVER.md")
