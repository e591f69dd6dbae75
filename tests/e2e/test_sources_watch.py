"""`orchestray watch --json` (what the tray runs on another machine) and the tray following it: a line per change,
heartbeats while nothing changes, an end of its own when the reader goes away; on the tray's side a stalled or
garbled stream is one line in the menu, and an Orchestray over there without `watch` is read by single calls.
Real processes throughout: the watch command, its sessions, and the recorded fake of docker running it.
"""

from __future__ import annotations

import functools
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Tuple

import pytest
from fake_transport import FakeTransport
from helpers import cli_argv, cli_env
from helpers import wait_until as wait_until_value
from menu_view import MenuView

from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core.actions import register
from tray.core.registry import Registry

DEADLINE = 60.0
wait_until = functools.partial(wait_until_value, timeout=DEADLINE, interval=0.05)


def read_line(stream: IO[bytes], timeout: float = DEADLINE) -> bytes:
    """One line from a child's pipe, or fail after `timeout` (never blocks past it)."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no complete line within {timeout:.0f} s (got {line!r})"
        ready, _, _ = select.select([stream.fileno()], [], [], remaining)
        if ready:
            chunk = os.read(stream.fileno(), 1)
            if not chunk:
                return line
            line += chunk
    return line


def test_watch_prints_each_change_once_heartbeats_and_ends_when_its_reader_goes(tmp_path: Path, procs: Any) -> None:
    registry = Registry(str(tmp_path / "active"))
    os.makedirs(registry.directory, mode=0o700)
    folder = tmp_path / "api"
    folder.mkdir()
    watch = subprocess.Popen(cli_argv(["watch", "--json", "--heartbeat", "0.5"], registry.directory),
                             env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert watch.stdout is not None and watch.stderr is not None
        first = json.loads(read_line(watch.stdout))
        assert first["projects"] == [] and first["registry"] == registry.directory
        assert read_line(watch.stdout) == b'{"heartbeat": true}\n'  # nothing changed
        boss = procs.spawn()
        register(registry, "boss-1", boss.pid, str(folder))
        line = read_line(watch.stdout)
        while line == b'{"heartbeat": true}\n':
            line = read_line(watch.stdout)
        status = json.loads(line)
        assert status["projects"][0]["orchestrator"]["sessionId"] == "boss-1" and status["state"] == "ok"
        procs.kill(boss)  # a death is a change too (the watcher sees the process end)
        line = read_line(watch.stdout)
        while line == b'{"heartbeat": true}\n':
            line = read_line(watch.stdout)
        assert json.loads(line)["state"] == "stale"
        watch.stdout.close()  # the reader goes away: the next heartbeat fails and the watch ends by itself
        assert watch.wait(timeout=DEADLINE) == 0
        assert watch.stderr.read() == b""
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait(timeout=10)


def test_watch_without_json_prints_the_summary_and_refuses_a_silly_heartbeat(tmp_path: Path) -> None:
    registry = str(tmp_path / "active")
    refused = subprocess.run(cli_argv(["watch", "--json", "--heartbeat", "0"], registry), env=cli_env(),
                             capture_output=True, text=True, timeout=DEADLINE)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--heartbeat" in refused.stderr
    watch = subprocess.Popen(cli_argv(["watch"], registry), env=cli_env(), stdout=subprocess.PIPE)
    try:
        assert watch.stdout is not None
        assert b"Registry:" in read_line(watch.stdout)
    finally:
        watch.kill()
        watch.wait(timeout=10)


def _tray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, command: str,
          remote: str = "orchestray") -> Tuple[TrayController, MenuView]:
    monkeypatch.setenv(variable, command)
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({
        "sources": [{"spec": "docker:web", "command": remote}], "source_poll_interval": 1.0, "watch": False,
        "poll_interval": 0.5}))
    view = MenuView()
    controller = TrayController(Registry(str(tmp_path / "here")), view, ConfigStore(str(config)),
                                find_file=lambda root, name: None)
    return controller, view


def test_the_tray_follows_the_stream_and_a_far_death_is_said_at_once(tmp_path: Path, procs: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    far = Registry(str(tmp_path / "far"))
    api = tmp_path / "api"
    api.mkdir()
    boss, worker = procs.many(2)
    register(far, "boss-1", boss.pid, str(api))
    register(far, "work-2", worker.pid, str(api))
    fake = FakeTransport("docker", tmp_path)
    controller, view = _tray(tmp_path, monkeypatch, fake.variable, fake.command,
                             f"{sys.executable} -m tray --registry-dir {far.directory}")
    controller.start()
    try:
        wait_until(lambda: view.ever("● web: api — ok (2 sessions)"), "the far project")
        procs.kill(boss)
        wait_until(lambda: ("web: api: orchestrator died" in [n[0] for n in view.notes]), "the death notice")
        calls = fake.calls()
        assert len(calls) == 1 and calls[0][-3:] == ["watch", "--json", "--heartbeat=1"]  # one process for it all
    finally:
        controller.stop()
        controller.pollers["docker:web"].join(30)


def test_an_orchestray_without_watch_is_read_by_single_calls(tmp_path: Path, procs: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    far = Registry(str(tmp_path / "far"))
    api = tmp_path / "api"
    api.mkdir()
    register(far, "boss-1", procs.spawn().pid, str(api))
    fake = FakeTransport("docker", tmp_path)
    fake.reply(["watch"], stderr="usage: orchestray [-h] ...\norchestray: error: argument COMMAND: invalid choice: "
                                 "'watch' (choose from 'tray', 'register', ...)\n", code=2)
    controller, view = _tray(tmp_path, monkeypatch, fake.variable, fake.command,
                             f"{sys.executable} -m tray --registry-dir {far.directory}")
    controller.start()
    try:
        wait_until(lambda: view.ever("● web: api — ok (1 session)"), "the far project, by single calls")
        wait_until(lambda: len([c for c in fake.calls() if "status" in c]) >= 2, "a second poll")
        assert [c for c in fake.calls() if "watch" in c] == [fake.calls()[0]]  # tried once, then never again
        assert not any(item.text.startswith("⚠") for shown in view.shown for item in shown[3])
    finally:
        controller.stop()
        controller.pollers["docker:web"].join(30)


@pytest.mark.parametrize(("script", "line"), [
    ("echo '{\"registry\": \"/r\", \"projects\": []}'; exec sleep 600",
     "⚠ web: unreachable — no answer within 8 s"),
    ("echo 'Welcome to the container!'; exec sleep 600", "⚠ web: unusable answer: the answer is not JSON"),
    ("exec head -c 5000000 /dev/zero", "⚠ web: unusable answer: a line longer than 4 MB"),
])
def test_a_stalled_or_garbled_stream_is_one_line_and_its_process_is_ended(tmp_path: Path, script: str, line: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "docker"
    program.write_text(f"#!/bin/sh\necho $$ >> {tmp_path}/pids\n{script}\n")
    program.chmod(0o755)
    controller, view = _tray(tmp_path, monkeypatch, "ORCHESTRAY_DOCKER_COMMAND", str(program))
    controller.start()
    try:
        wait_until(lambda: view.ever(line), f"the line {line!r}")
    finally:
        controller.stop()
        controller.pollers["docker:web"].join(30)
    for pid in map(int, (tmp_path / "pids").read_text().split()):
        wait_until(functools.partial(ended, pid), f"the end of the stream's process {pid}")


def ended(pid: int) -> bool:
    """The process is gone, or a zombie (dead, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
