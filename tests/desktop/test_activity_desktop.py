"""Session activity on a real desktop (issue #7): Xvfb + trayer + dunst, Orchestray's real tray process, and two
fake Claude Codes (tests/support/fake_claude.py) running the hooks that `orchestray hooks install` wrote.

One session asks for a permission: dunst receives "a session needs you" at once, and once. The other finishes
its answer: after the configured delay (`waiting_notify_after`, 2 s here) dunst receives one "waiting for
you". The menu shows both states, and the icon's tooltip (the name of its X window with the gtk backend) counts
them. The menu is opened with a real click and walked with the keyboard; a screenshot is kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from test_hooks_e2e import Sandbox, assert_silent, git, role_context
from test_tray_desktop import current_menu, keys_for, tray_env

from tray.app import menu as m
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot

pytestmark = pytest.mark.desktop

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "tests" / "artifacts" / "tray-activity.png"
DELAY = 2  # seconds: `waiting_notify_after` in the tray's config.json
PERMISSION = "Claude needs your permission to use Bash"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path / "claude-home")
    try:
        done = sandbox.cli("hooks", "install", "--settings", str(sandbox.settings))
        assert done.returncode == 0, done.stderr
        yield sandbox
    finally:
        sandbox.close()  # SIGKILL and reap every fake Claude Code


def send_payload(claude: Any, event: str, session: str, cwd: Path, **fields: Any) -> Dict[str, Any]:
    data = {"session_id": session, "transcript_path": f"/nowhere/{session}.jsonl", "cwd": str(cwd),
            "hook_event_name": event, **fields}
    return claude.send("payload", event, session, text=json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def summaries(desktop: Any, words: str) -> List[Dict[str, Any]]:
    return [n for n in desktop.notifications() if words in n["summary"]]


def test_tray_notifies_needs_you_and_waiting_once_and_counts_them(desktop, tmp_path: Path, box: Sandbox) -> None:
    repo = tmp_path / "webshop"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    registry = str(box.registry)

    # Two Claude Codes in one project, both busy with a prompt before the tray starts.
    one, two = box.claude(cwd=repo), box.claude(cwd=repo)
    assert "ORCHESTRATOR" in role_context(one.start("sess-one", repo))
    assert "WORKER" in role_context(two.start("sess-two", repo))
    assert_silent(one.prompt("sess-one", "Deploy the shop to staging"))
    assert_silent(two.prompt("sess-two", "Write the release notes"))

    config = tmp_path / "tray-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"waiting_notify_after": DELAY}), encoding="utf-8")
    env = tray_env(desktop, tmp_path / "tray", registry, config_dir=config)
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    tray = desktop.popen([sys.executable, "-m", "tray", "tray", "--poll-interval", "0.5"], env=env,
                         log="tray.log")
    window = desktop.find_window("^Orchestray: 1 project", timeout=20)
    x, y = desktop.geometry(window).center
    time.sleep(1.0)  # two polls of working sessions: nothing to say
    assert desktop.notifications() == []

    # 1. A permission prompt: "needs you" at once.
    assert_silent(send_payload(one, "Notification", "sess-one", repo, message=PERMISSION,
                               notification_type="permission_prompt"))
    (asked,) = desktop.wait_for(lambda: summaries(desktop, "a session needs you"), timeout=10, interval=0.2)
    assert asked["summary"] == "webshop: a session needs you"
    assert "sess-one" in asked["body"] and PERMISSION in asked["body"] and "Deploy the shop" in asked["body"]

    # 2. The other answers (Stop): quiet for the delay, then "waiting for you".
    assert_silent(two.stop("sess-two"))
    stopped = time.monotonic()
    (waiting,) = desktop.wait_for(lambda: summaries(desktop, "waiting for you"), timeout=DELAY + 10, interval=0.2)
    assert time.monotonic() - stopped >= DELAY - 0.5, "said before the configured delay"
    assert waiting["summary"] == "webshop: a session is waiting for you"
    assert "sess-two" in waiting["body"] and "Write the release notes" in waiting["body"]

    # 3. Several more polls: nothing said twice.
    time.sleep(2.0)
    assert [n["summary"] for n in desktop.notifications()] == [
        "webshop: a session needs you",
        "webshop: a session is waiting for you",
    ]

    # 4. The icon counts both: the gtk backend names the icon's X window after the tooltip.
    counted = desktop.find_window("2 waiting for you", timeout=10)
    assert counted == window
    name = desktop.run(["xdotool", "getwindowname", window]).stdout.strip()
    assert name.startswith("Orchestray: 1 project(s), 2 live session(s), 2 waiting for you"), name
    assert m.tooltip(build_snapshot(Registry(registry))) == name

    # 5. The menu, from the same registry: the session lines say who needs you and who waits.
    menu = current_menu(registry)
    (project,) = [item for item in menu if item.children]
    assert project.text == "● webshop — ok (2 sessions)"
    labels = [item.text for item in project.children]
    assert any(t.startswith("Orchestrator: sess-one") and " · needs you " in t for t in labels), labels
    assert any(t.startswith("sess-two") and " · waiting " in t for t in labels), labels
    # As a person sees it: open the menu with a click, go into the project's submenu with the keyboard.
    desktop.click_popup(x, y, button=3)
    desktop.key(*keys_for(menu, [project.text])[:-1], "Right")
    desktop.capture_open_menu(SCREENSHOT)

    # 6. Quit from the menu; nothing went wrong anywhere.
    desktop.click_popup(x, y, button=3)
    desktop.key(*keys_for(current_menu(registry), ["Quit"]))
    try:
        assert tray.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not quit from its menu")
    log = (tmp_path / "tray" / "log" / "orchestray.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert box.log_text() == ""  # the hooks logged no error
