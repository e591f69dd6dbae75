"""An event newer than the user's Claude Code is never installed: such a Claude Code skips the whole settings.json.

Observed with the real clients from the npm registry: 2.1.77 shows "Settings Error ... Files with errors are
skipped entirely" at every start for a settings.json with a `StopFailure` hook (2.0.0: "Found 1 invalid settings
file", and no hook runs at all); 2.1.78 is the first that knows `StopFailure`. The command line asks the installed
`claude --version` (here a stand-in `claude` on PATH that only answers that) and installs what it knows; with no
`claude` to ask it installs every event (current versions know them all).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from helpers import run_cli

from tray.hooks.events import HOOK_EVENTS, SINCE, events_for


def test_events_for_a_version() -> None:
    every = list(HOOK_EVENTS)
    older = [event for event in every if event != "StopFailure"]
    assert SINCE == {"StopFailure": (2, 1, 78)}
    assert events_for(None) == every  # unknown (no `claude` to ask): current versions know every event
    assert events_for((2, 0, 0)) == older
    assert events_for((2, 1, 77)) == older
    assert events_for((2, 1, 78)) == every
    assert events_for((3, 0, 0)) == every


def fake_claude(folder: Path, version: Optional[str]) -> Dict[str, str]:
    """PATH with a `claude` that answers `--version` (or none at all when `version` is None)."""
    folder.mkdir()
    if version is not None:
        program = folder / "claude"
        program.write_text(f"#!/bin/sh\necho '{version} (Claude Code)'\n")
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{folder}{os.pathsep}/usr/bin:/bin", "HOME": str(folder)}


def installed_events(settings: Path) -> Any:
    return sorted(json.loads(settings.read_text(encoding="utf-8"))["hooks"])


@pytest.mark.skipif(os.name != "posix", reason="a shell-script stand-in for `claude --version`")
@pytest.mark.parametrize("version, has_stop_failure", [("2.1.77", False), ("2.1.78", True), ("2.1.332", True),
                                                       (None, True)])
def test_hooks_install_writes_only_what_the_installed_claude_knows(
    tmp_path: Path, version: Optional[str], has_stop_failure: bool
) -> None:
    env = fake_claude(tmp_path / "bin", version)
    settings = tmp_path / "settings.json"
    done = run_cli(["hooks", "install", "--settings", settings], env=env)
    assert done.returncode == 0, done.stderr
    expected = sorted(HOOK_EVENTS) if has_stop_failure else sorted(e for e in HOOK_EVENTS if e != "StopFailure")
    assert installed_events(settings) == expected
    status = run_cli(["hooks", "status", "--settings", settings], env=env)
    assert status.returncode == 0, status.stderr
    assert "not installed" not in status.stdout  # what this Claude Code cannot have is not missing

    if not has_stop_failure:  # the user upgrades Claude Code: status says what is missing, install adds it
        upgraded = fake_claude(tmp_path / "bin-new", "2.1.332")
        status = run_cli(["hooks", "status", "--settings", settings], env=upgraded)
        assert "StopFailure" in status.stdout and "not installed" in status.stdout
        assert run_cli(["hooks", "install", "--settings", settings], env=upgraded).returncode == 0
        assert installed_events(settings) == sorted(HOOK_EVENTS)
