"""The tray on a StatusNotifierItem desktop, as KDE, GNOME (with the AppIndicator extension) and Ubuntu host
tray icons: Xvfb + a real SNI watcher and host from Debian (status-notifier-watcher, gtk-sni-tray-standalone)
+ dunst on a private D-Bus bus, Orchestray's real tray process, real sleeping processes as sessions.

What is checked is what the running tray shows, never a menu the test builds: the labels come from the menu
the tray exports over D-Bus (com.canonical.dbusmenu ``GetLayout``, the very data the host draws the menu
from), the key presses that pick an item are counted on that exported menu, the icon's colour is read from a
screenshot of the host's bar, and effects are checked in the registry files and in dunst.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import List, Optional

import pytest
from desktop import Desktop, Geometry, MenuNode, colour_share, menu_keys
from tray_under_test import POLL, cli, make_repo, project, tray_command, tray_env

from tray.app.icon import STATE_COLORS
from tray.app.pystray_view import ICON_NAME

pytestmark = pytest.mark.desktop

def icon_colour(desktop: Desktop, state: str) -> float:
    """The share of the drawn icon's pixels in ``state``'s colour, read from a screenshot of the host's bar."""
    image = desktop.screen_image()
    box = desktop.icons_in_bar(desktop.host_bar(), image)
    return colour_share(image, box, STATE_COLORS[state]) if box else 0.0


def test_sni_desktop_menu_as_exported_promote_and_quit(sni_desktop: Desktop, tmp_path: Path, procs) -> None:
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    alpha = make_repo(tmp_path / "alpha-service")
    beta = make_repo(tmp_path / "beta-web")
    sessions = {name: procs.spawn() for name in ("a-orch", "a-work", "b-orch", "b-work")}
    for name, cwd in (("a-orch", alpha), ("a-work", alpha), ("b-orch", beta), ("b-work", beta)):
        done = cli(env, "register", "--session-id", name, "--pid", str(sessions[name].pid), "--cwd", str(cwd))
        assert done.returncode == 0, done.stderr

    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")

    # The tray found the SNI host by itself (no PYSTRAY_BACKEND) and registered its item with the watcher.
    d.wait_for(lambda: d.sni_item(ICON_NAME), timeout=20)
    log_file = tmp_path / "log" / "orchestray.log"
    chosen = [line for line in log_file.read_text().splitlines() if "tray backend" in line]
    assert chosen and "appindicator" in chosen[0] and "StatusNotifierWatcher" in chosen[0], chosen

    # 1. Both projects are listed, healthy, with their sessions: read from the menu the tray exports.
    def both_listed() -> Optional[List[MenuNode]]:
        menu = d.sni_menu(ICON_NAME)
        found = [project(menu, "alpha-service"), project(menu, "beta-web")]
        return menu if all(found) else None

    menu = d.wait_for(both_listed, timeout=20)
    for name, members in (("alpha-service", ("a-orch", "a-work")), ("beta-web", ("b-orch", "b-work"))):
        node = project(menu, name)
        assert node is not None and "ok" in node.label and "2 sessions" in node.label, node
        labels = " | ".join(child.label for child in node.children)
        assert all(member in labels for member in members), labels
    assert [item.label for item in menu if item.selectable][-1] == "Quit"
    # ... and the host draws the icon in the "ok" colour.
    d.wait_for(lambda: icon_colour(d, "ok") > 0.2, timeout=10)

    # 2. beta-web's orchestrator dies: the exported menu says so and suggests the surviving worker.
    sessions["b-orch"].kill()
    sessions["b-orch"].wait(timeout=10)

    def orphaned() -> Optional[List[MenuNode]]:
        menu = d.sni_menu(ICON_NAME)
        node = project(menu, "beta-web")
        return menu if node is not None and "no orchestrator" in node.label else None

    menu = d.wait_for(orphaned, timeout=15)
    beta_node = project(menu, "beta-web")
    assert beta_node is not None
    worker = beta_node.find("b-work")
    assert "★" in worker.label and "suggested" in worker.label, worker.label
    assert any("Promote" in child.label for child in worker.children if child.selectable), worker.children
    d.wait_for(lambda: icon_colour(d, "orphaned") > 0.1, timeout=10)

    # 3. Promote b-work as a person would: button 3 on the icon in the host's bar opens the host's menu,
    #    the keys are counted on the exported menu. The registry file changes.
    before = Path(registry_dir, "b-work.json").read_text()
    icon = d.icons_in_bar(d.host_bar())
    assert icon is not None
    d.sni_pick(ICON_NAME, icon.center, ["beta-web", "b-work", "Promote"], POLL)
    d.wait_for(lambda: '"role": "orchestrator"' in Path(registry_dir, "b-work.json").read_text(), timeout=10)
    assert Path(registry_dir, "b-work.json").read_text() != before
    assert not Path(registry_dir, "b-orch.json").exists()  # the dead orchestrator's entry went with it

    def healed() -> Optional[MenuNode]:
        node = project(d.sni_menu(ICON_NAME), "beta-web")
        return node if node is not None and "ok" in node.label else None

    healed_node = d.wait_for(healed, timeout=15)
    assert any("Orchestrator" in child.label and "b-work" in child.label for child in healed_node.children)
    d.wait_for(lambda: icon_colour(d, "ok") > 0.2, timeout=10)

    # 4. The orchestrator-died notice reached dunst exactly once (counted after the tray has exited below).
    # 5. Quit from the host's menu (Up wraps to the last item): the process exits, the item is unregistered.
    d.sni_pick(ICON_NAME, icon.center, ["Quit"], POLL)
    try:
        assert tray.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the tray did not quit from the SNI host's menu")
    d.wait_for(lambda: not d.sni_items(), timeout=10)
    died = [n for n in d.notifications() if "beta-web" in n["summary"] and "died" in n["summary"]]
    assert len(died) == 1, died
    output = (tmp_path / "desktop" / "tray.log").read_text()
    log = log_file.read_text()
    assert "Traceback" not in output + log and "CRITICAL" not in output, output
    assert "tray stopped" in log


def test_an_open_submenu_stays_open_while_only_time_passes(sni_desktop: Desktop, tmp_path: Path, procs) -> None:
    """Ages in labels tick, but the menu is re-exported for them at most once a minute: a pystray menu change
    makes the SNI host rebuild the open menu, and the submenu a person is in would close under them."""
    d = sni_desktop
    registry_dir = str(tmp_path / "registry")
    env = tray_env(d, tmp_path, registry_dir)
    repo = make_repo(tmp_path / "gamma")
    session = procs.spawn()
    done = cli(env, "register", "--session-id", "g-orch", "--pid", str(session.pid), "--cwd", str(repo))
    assert done.returncode == 0, done.stderr
    tray = d.popen([*tray_command(), "tray", "--poll-interval", str(POLL)], env=env, log="tray.log")
    d.wait_for(lambda: project(d.sni_menu(ICON_NAME), "gamma"), timeout=20)
    icon = d.wait_for(lambda: d.icons_in_bar(d.host_bar()), timeout=10)

    # Open the menu and the project's submenu, which the host draws to the left of the menu.
    keys = menu_keys(d.sni_menu_between_updates(ICON_NAME, POLL), ["gamma"])[:-1]
    menu_box = d.click_popup(*icon.center, button=3)
    submenu_strip = Geometry(menu_box.x - 150, menu_box.y + 2, 140, 24)
    assert not d.drawn(submenu_strip)
    d.key(*keys, "Right")
    d.wait_for(lambda: d.drawn(submenu_strip), timeout=5)

    # Nothing happens but the clock, for two polls: the person's submenu must stay where it is.
    watch_until = time.monotonic() + 2 * POLL + 0.5
    while time.monotonic() < watch_until:
        assert d.drawn(submenu_strip), "the open submenu closed by itself"
    d.close_popups(2)
    tray.terminate()
    assert tray.wait(timeout=15) == 0
