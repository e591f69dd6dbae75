"""The tray on a real desktop (Xvfb, trayer, dunst on a private D-Bus) while hostile files sit in its registry:
FIFOs (an entry, a project's `.git`), an entry with a 5,000-digit number, a 255-byte file name, a link to
/etc/passwd, a folder named like an entry, and links planted at `.activity` and `.quarantine`.

The tray keeps polling and notifying: a real orchestrator process dies, and dunst receives "orchestrator died";
more hostile files arrive while it runs, a second orchestrator dies, and dunst receives that too. Then hostile
activity files (a FIFO, a 5,000-digit number, a 2 MB file, a link) sit beside a real one whose session asks for a
permission: dunst receives "a session needs you" with the prompt, and no log holds the prompt. Nothing in the
registry or outside it is changed, and the tray's log has no traceback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from helpers import fingerprints, read_bytes
from tray_under_test import cli, make_repo, tray_command, tray_env

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(300)]

HUGE = "9" * 5000


def plant_hostile_files(registry: Path, outside: Path, tag: str) -> None:
    os.mkfifo(registry / f"fifo-{tag}.json")
    (registry / f"huge-{tag}.json").write_text(
        '{"pid": ' + HUGE + ', "startedAt": "2026-01-01T00:00:00Z", "sessionId": "huge-' + tag + '", '
        '"cwd": "/x", "role": "orchestrator"}'
    )
    long_name = f"long-{tag}-" + "L" * (255 - len(f"long-{tag}-.json")) + ".json"
    (registry / long_name).write_text("{broken")
    (registry / f"passwd-{tag}.json").symlink_to("/etc/passwd")
    (registry / f"dir-{tag}.json").mkdir()


def died(desktop: Any, project: str) -> List[Dict[str, Any]]:
    return [n for n in desktop.notifications() if n["summary"] == f"{project}: orchestrator died"]


def test_tray_keeps_polling_and_notifying_with_hostile_files_in_the_registry(desktop, tmp_path: Path, procs) -> None:
    registry = tmp_path / "registry"
    registry.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("not Orchestray's")
    env = tray_env(desktop, tmp_path, str(registry))
    alpha = make_repo(tmp_path / "alpha")
    beta = tmp_path / "beta"
    beta.mkdir()
    os.mkfifo(beta / ".git")  # a reader that opened this would wait forever

    sessions = {name: procs.spawn() for name in ("a-orch", "a-work", "b-orch", "b-work")}
    for name, cwd in (("a-orch", alpha), ("a-work", alpha), ("b-orch", beta), ("b-work", beta)):
        done = cli(env, "register", "--session-id", name, "--pid", str(sessions[name].pid), "--cwd", str(cwd))
        assert done.returncode == 0, done.stderr
    plant_hostile_files(registry, outside, "one")
    (registry / ".activity").symlink_to(outside)
    (registry / ".quarantine").symlink_to(outside)
    outside_before = fingerprints(outside)

    tray = desktop.popen([*tray_command(), "tray", "--poll-interval", "0.5"], env=env, log="tray.log")
    desktop.find_window("^Orchestray: 2 project", timeout=30)

    # 1. An orchestrator dies: dunst is told, once.
    procs.kill(sessions["a-orch"])
    (notice,) = desktop.wait_for(lambda: died(desktop, "alpha"), timeout=20, interval=0.2)
    assert "a-orch" in notice["body"] and "a-work" in notice["body"]

    # 2. More hostile files arrive while the tray runs; then the other project's orchestrator dies.
    plant_hostile_files(registry, outside, "two")
    before = {name: read_bytes(str(registry / f"{name}.json")) for name in ("a-work", "b-orch", "b-work")}
    procs.kill(sessions["b-orch"])
    (notice,) = desktop.wait_for(lambda: died(desktop, "beta"), timeout=20, interval=0.2)
    assert "b-orch" in notice["body"] and "b-work" in notice["body"]
    assert tray.poll() is None, "the tray stopped"

    # Nothing was changed by the tray: hostile files are still what they were, nothing outside was touched.
    assert stat.S_ISFIFO(os.lstat(registry / "fifo-one.json").st_mode)
    assert stat.S_ISFIFO(os.lstat(beta / ".git").st_mode)
    assert fingerprints(outside) == outside_before
    for name, data in before.items():
        assert read_bytes(str(registry / f"{name}.json")) == data

    # 3. The planted .activity link gives way to our own folder, where hostile activity files sit beside real
    #    ones: a live worker's hooks record a prompt, then a permission question. dunst is told, the prompt
    #    quoted for the user; no log gets the prompt.
    (registry / ".activity").unlink()
    folder = registry / ".activity"
    folder.mkdir(mode=0o700)
    os.mkfifo(folder / "fifo-session")
    (folder / "huge-session").write_text("orchestray-activity 1\nattention\n" + HUGE + "\n\nhuge\n")
    (folder / "big-session").write_bytes(b"x" * (2 * 1024 * 1024))
    (folder / "passwd-session").symlink_to("/etc/passwd")
    secret = "rotate the key hunter2 today"
    hook_env = dict(env, CLAUDE_CODE_SESSION_ID="a-work")
    for event, payload in (("prompt", {"prompt": secret}),
                           ("notification", {"notification_type": "permission_prompt", "message": "permission?"})):
        done = subprocess.run([*tray_command(), "hook", event], input=json.dumps(dict(payload, session_id="a-work")),
                              env=hook_env, capture_output=True, text=True, timeout=30)
        assert (done.returncode, done.stdout) == (0, ""), done.stderr
    (asked,) = desktop.wait_for(
        lambda: [n for n in desktop.notifications() if n["summary"] == "alpha: a session needs you"],
        timeout=20, interval=0.2)
    assert secret in asked["body"]
    assert tray.poll() is None, "the tray stopped"
    assert stat.S_ISFIFO(os.lstat(folder / "fifo-session").st_mode)

    tray.terminate()
    try:
        assert tray.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not stop on SIGTERM")
    # The tray has exited, so every notice it sent is in: one per death, a late duplicate fails here.
    assert (len(died(desktop, "alpha")), len(died(desktop, "beta"))) == (1, 1), desktop.notifications()
    log = (tmp_path / "log" / "orchestray.log").read_text(encoding="utf-8")
    assert "Traceback" not in log and "poll failed" not in log
    assert log.count(".activity is a symbolic link") == 1  # said once, not at every poll
    assert "needs-you" in log and "a-work" in log  # the event is logged, without its body
    logs = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "log").iterdir())
    assert "hunter2" not in logs
