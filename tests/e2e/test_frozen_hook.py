"""The frozen hook program `orchestray-hook` (issue 13): every hook event, run as Claude Code runs hooks.

The program is built by `packaging/build-linux.sh` beside the frozen `orchestray` (`$ORCHESTRAY_FROZEN`, which CI
sets: a missing build then fails; else `dist/orchestray/orchestray` if built; else these tests skip). A fake Claude
Code (tests/fake_claude.py, a process named `claude`) runs the hooks of a settings.json through `/bin/sh -c`, with
real payloads, for a whole session: start, prompt, stop, notification, end. Its start-up cost against a minimal
PyInstaller program is measured by `bench/frozen_hook.py`, not here.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from hook_sandbox import start_fake_claude

from tray.core.log import HOOK_LOG_NAME

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FROZEN_ENV = "ORCHESTRAY_FROZEN"
HOOK_NAME = "orchestray-hook"
EVENTS = ("session-start", "prompt", "stop", "notification", "session-end")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux build")]


@pytest.fixture(scope="module")
def hook_program() -> Path:
    configured = os.environ.get(FROZEN_ENV, "").strip()
    main = Path(configured) if configured else REPO / "dist" / "orchestray" / "orchestray"
    if not main.is_file():
        if configured:
            pytest.fail(f"{FROZEN_ENV}={configured} but there is no build there: run bash packaging/build-linux.sh")
        pytest.skip(f"no frozen build: run bash packaging/build-linux.sh (or set {FROZEN_ENV})")
    program = main.resolve().parent / HOOK_NAME
    assert program.is_file() and os.access(program, os.X_OK), f"{program} missing beside {main}"
    return program


def sandbox(tmp_path: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "PYTHON"))}
    env.update(ORCHESTRAY_REGISTRY_DIR=str(tmp_path / "registry"), ORCHESTRAY_LOG_DIR=str(tmp_path / "log"),
               ORCHESTRAY_CONFIG_DIR=str(tmp_path / "config"), ORCHESTRAY_STATE_DIR=str(tmp_path / "state"),
               CLAUDE_CONFIG_DIR=str(tmp_path / "claude"))
    return env


@pytest.mark.parametrize("event", EVENTS)
def test_garbage_is_silent_for_every_event(hook_program: Path, tmp_path: Path, event: str) -> None:
    for garbage in (b"not json {{{", b"", b"\x00\xff" * 100, b'{"session_id": "../../etc/passwd"}'):
        done = subprocess.run([str(hook_program), "hook", event], input=garbage, env=sandbox(tmp_path),
                              capture_output=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), (event, garbage)


def test_a_whole_session_through_the_hook_program(hook_program: Path, tmp_path: Path) -> None:
    env = sandbox(tmp_path)
    settings = tmp_path / "claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    command = {name: [{"hooks": [{"type": "command", "command": f"{shlex.quote(str(hook_program))} hook {event}"}]}]
               for name, event in (("SessionStart", "session-start"), ("UserPromptSubmit", "prompt"),
                                   ("Stop", "stop"), ("Notification", "notification"), ("SessionEnd", "session-end"))}
    settings.write_text(json.dumps({"hooks": command}))
    project = tmp_path / "project"
    project.mkdir()
    claude = start_fake_claude(tmp_path, settings, env, project)

    def quiet(reply: Dict[str, Any]) -> str:
        """The one hook's output; it must have exited 0."""
        assert [h["exit_code"] for h in reply["hooks"]] == [0], reply
        return reply["hooks"][0]["stdout"]

    try:
        started = claude.start("hooked-1", project)
        quiet(started)
        assert "ORCHESTRATOR" in started["context"][0]
        entry = json.loads((tmp_path / "registry" / "hooked-1.json").read_text())
        assert entry["pid"] == claude.pid and entry["role"] == "orchestrator"
        assert quiet(claude.prompt("hooked-1", "hello")) == ""
        assert quiet(claude.stop("hooked-1")) == ""
        assert quiet(claude.notify("hooked-1", "Claude needs your permission")) == ""
        quiet(claude.end("hooked-1"))
        assert not (tmp_path / "registry" / "hooked-1.json").exists()
    finally:
        claude.kill()
    log = tmp_path / "log" / HOOK_LOG_NAME
    failures = [line for line in (log.read_text().splitlines() if log.exists() else []) if " ERROR " in line]
    assert failures == []  # e.g. a module the hook program was built without
