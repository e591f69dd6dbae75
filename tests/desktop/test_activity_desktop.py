"""Session activity on a real desktop (issue #7): Xvfb + a StatusNotifierItem host + dunst, Orchestray's real tray
process, and two fake Claude Codes (tests/support/fake_claude.py) running the hooks that `orchestray hooks install`
wrote.

One session asks for a permission: dunst receives "a session needs you" at once, and once. The other finishes
its answer: after the configured delay (`waiting_notify_after`, 2 s here) dunst receives one "waiting for
you". The menu the tray exports over D-Bus shows both states, and the icon's title counts them. The menu is
opened with a real click on the host's bar and walked with the keyboard; a screenshot is kept.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from desktop import Desktop, menu_keys
from hook_sandbox import Sandbox, assert_silent, git, role_context
from tray_under_test import tray_command, tray_env

from tray.app.pystray_view import ICON_NAME

pytestmark = pytest.mark.desktop

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "tests" / "artifacts" / "tray-activity.png"
DELAY = 2  # seconds: `waiting_notify_after` in the tray's config.json
PERMISSION = "Claude needs your permission to use Bash"
#: The tray's poll interval. A poll that changes a label (an age ticks every second) exports a new menu and the
#: host rebuilds an open one, so clicks are timed right after an update (Desktop.sni_menu_between_updates).
POLL = 2.0


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


def test_tray_notifies_needs_you_and_waiting_once_and_counts_them(sni_desktop: Desktop, tmp_path: Path,
                                                                    box: Sandbox) -> None:
    desktop = sni_desktop
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
    tray = desktop.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    desktop.wait_for(lambda: title(desktop).startswith("Orchestray: 1 project"), timeout=20)
    # Working sessions: nothing to say, however long one watches (counted once the history holds still).
    assert desktop.settled(lambda: desktop.notifications(), quiet=1.5 * POLL) == []

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

    # 3. Counted only once the history has held still through several polls: nothing said twice.
    said = desktop.settled(lambda: [n["summary"] for n in desktop.notifications()], quiet=1.5 * POLL)
    assert said == ["webshop: a session needs you", "webshop: a session is waiting for you"]

    # 4. The icon counts both: its title, as the tray exports it to the StatusNotifierItem host.
    def counted() -> str:
        now = title(desktop)
        return now if "2 waiting for you" in now else ""

    name = desktop.wait_for(counted, timeout=10)
    assert name.startswith("Orchestray: 1 project(s), 2 live session(s), 2 waiting for you"), name

    # 5. The menu the tray exports: the session lines say who needs you and who waits.
    menu = desktop.sni_menu(ICON_NAME)
    (project,) = [item for item in menu if item.children]
    assert "webshop" in project.label and "ok" in project.label and "2 sessions" in project.label, project
    labels = [item.label for item in project.children]
    assert any("sess-one" in t and "needs you" in t for t in labels), labels
    assert any("sess-two" in t and "waiting" in t for t in labels), labels
    # As a person sees it: button 3 on the icon in the host's bar, into the project's submenu by keyboard.
    icon = desktop.icons_in_bar(desktop.host_bar())
    assert icon is not None
    keys = menu_keys(desktop.sni_menu_between_updates(ICON_NAME, POLL), ["webshop"])[:-1]
    desktop.click_popup(*icon.center, button=3)
    desktop.key(*keys, "Right")
    desktop.capture_open_menu(SCREENSHOT)

    # 6. Quit from the menu (Up wraps to the last item); nothing went wrong anywhere.
    desktop.sni_menu_between_updates(ICON_NAME, POLL)
    desktop.click_popup(*icon.center, button=3)
    desktop.key("Up", "Return")
    try:
        assert tray.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not quit from its menu")
    log = (tmp_path / "tray" / "log" / "orchestray.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert box.log_text() == ""  # the hooks logged no error


def title(desktop: Desktop) -> str:
    """The title the tray's StatusNotifierItem exports (pystray's appindicator backend sets it to the tooltip)."""
    name, path = desktop.sni_item(ICON_NAME)
    return str(desktop.dbus_property(name, path, "org.kde.StatusNotifierItem", "Title"))
