"""The real tray follows the turns of the real Claude Code client, also the changes that fire no hook (issue 10).

A real StatusNotifierItem desktop (Xvfb, the SNI host, dunst), Orchestray's real tray process, and the real
`claude` on a pseudo-terminal against the stand-in API, with Orchestray's hooks installed. What is checked is what
a person sees: the icon's title (the tooltip, which carries the badge's count: sessions waiting for their user,
"needs you" included) and the session's line in the menu the tray exports.

* A permission prompt: "needs you", counted. Approving it fires no hook; the tray shows the session working
  again, no longer counted, while the turn goes on; the turn's end (Stop) counts it as waiting.
* Esc in the middle of an answer fires no hook either; the tray shows the session waiting again.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from claude_api import BashToolUse, Slow
from desktop import Desktop, MenuNode
from helpers import reap
from real_claude import ClaudeWorld, wait_until
from tray_under_test import tray_command, tray_env

from tray.app.pystray_view import ICON_NAME

pytestmark = pytest.mark.desktop

POLL = 2.0
TIMEOUT = 60.0


def title(desktop: Desktop) -> str:
    """The title the tray's StatusNotifierItem exports (its tooltip)."""
    name, path = desktop.sni_item(ICON_NAME)
    return str(desktop.dbus_property(name, path, "org.kde.StatusNotifierItem", "Title"))


def session_line(desktop: Desktop, session_id: str) -> str:
    """The session's line in the project's submenu, as the host shows it."""
    lines: List[str] = []

    def walk(items: List[MenuNode]) -> None:
        for item in items:
            lines.append(item.label)
            walk(item.children)

    walk(desktop.sni_menu(ICON_NAME))
    return next((line for line in lines if f"{session_id[:8]} · pid " in line), "")


def test_the_tray_follows_an_approved_permission_and_esc(sni_desktop: Desktop, claude_world: ClaudeWorld,
                                                         tmp_path: Path) -> None:
    desktop, world = sni_desktop, claude_world
    project = tmp_path / "shop"
    project.mkdir()
    client = world.start(project)
    session = str(world.wait_entry(client, "registered")["sessionId"])

    env = tray_env(desktop, tmp_path / "tray", str(world.registry))
    tray = desktop.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    try:
        desktop.wait_for(lambda: desktop.sni_item(ICON_NAME), timeout=30)

        def shows(count_words: str, line_words: str) -> bool:
            now = title(desktop)
            counted = ("1 waiting for you" in now) if count_words == "counted" else ("waiting for you" not in now)
            return now.startswith("Orchestray: 1 project(s), 1 live session(s)") and counted and (
                line_words in session_line(desktop, session))

        def wait_shows(count_words: str, line_words: str, what: str) -> None:
            try:
                wait_until(lambda: shows(count_words, line_words), TIMEOUT, what)
            except AssertionError as error:
                raise AssertionError(f"{error}; title {title(desktop)!r}, line "
                                     f"{session_line(desktop, session)!r}") from None

        wait_shows("counted", "waiting", "the new session waiting for its first prompt")

        # 1. A permission prompt: needs you. Approved: working again (no hook fired), not counted.
        world.api.when("make the file", BashToolUse("touch approved.txt"))
        after = Slow("All done.")
        world.api.after_tool = after  # the turn goes on after the tool ran, until released
        client.prompt("please make the file")
        client.wait_for("Do you want to proceed?")
        wait_shows("counted", "needs you", "the permission prompt: needs you")
        client.approve_permission()
        wait_until(lambda: (project / "approved.txt").exists(), TIMEOUT, "the approved command to run")
        wait_shows("not counted", "working", "the approved permission: working again")
        after.release()
        client.wait_for("All done.")
        wait_shows("counted", "waiting", "the turn's end: waiting")

        # 2. Esc in the middle of an answer: waiting again, no hook fired.
        talking = world.api.when("think aloud", Slow("never shown", preamble="Let me think"))
        mark = client.prompt("please think aloud")
        client.wait_for(talking.preamble, since=mark)
        wait_shows("not counted", "working", "the prompt: working")
        client.escape()
        wait_shows("counted", "waiting", "Esc: waiting")
        assert not talking.released.is_set()  # no answer ended the turn

        # Quit from the menu; nothing went wrong in the tray.
        icon = desktop.icons_in_bar(desktop.host_bar())
        assert icon is not None
        desktop.sni_pick(ICON_NAME, icon.center, ["Quit"], POLL)
        assert tray.wait(timeout=30) == 0
    finally:
        reap(tray)  # still running only when the test failed before Quit
    log = (tmp_path / "tray" / "log" / "orchestray.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
