"""End-to-end proof that tests/support/desktop.py gives a desktop a person could use: a plain pystray icon appears in
trayer, a click opens its menu, the keyboard picks items, a notification reaches dunst, Quit ends the process.

Both menu-capable pystray backends are exercised with the mouse button that opens their menu:
``gtk`` (the one tests should force, see tests/support/desktop.py) with button 3, ``appindicator`` with button 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from desktop import colour_share
from PIL import Image

pytestmark = pytest.mark.desktop

TITLE = "harness-probe"

# A plain pystray app, no Orchestray code: if this fails, the harness (or the machine) is at fault.
PROBE = textwrap.dedent(
    """
    import json, sys
    import pystray
    from PIL import Image, ImageDraw

    title, out = sys.argv[1], sys.argv[2]
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 60, 60), fill=(30, 160, 60, 255))

    def say_hi(icon, item):
        with open(out, "a") as f:
            f.write("hi\\n")
        icon.notify("hello from the probe", title + " says hi")

    def setup(icon):
        icon.visible = True
        # pystray's gtk backend ignores the constructor title (the X window would be named after the
        # program), so set it once the icon exists; appindicator applies it either way.
        icon.title = title

    icon = pystray.Icon(title, image, None, menu=pystray.Menu(
        pystray.MenuItem("Say hi", say_hi), pystray.MenuItem("Quit", lambda icon, item: icon.stop())))
    print(json.dumps({"backend": type(icon).__module__, "has_menu": icon.HAS_MENU,
                      "has_notification": icon.HAS_NOTIFICATION}), flush=True)
    icon.run(setup)
    print("exited", flush=True)
    """
)


@pytest.mark.parametrize(("backend", "button"), [("gtk", 3), ("appindicator", 1)])
def test_plain_pystray_icon_menu_notification_and_quit(desktop, tmp_path: Path, backend: str, button: int) -> None:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    marker = tmp_path / "said-hi.txt"
    log = tmp_path / "desktop" / "probe.log"
    proc = desktop.popen(
        [sys.executable, str(script), TITLE, str(marker)], env={"PYSTRAY_BACKEND": backend}, log="probe.log"
    )

    # The icon is embedded in trayer's panel (top edge, 32 px high), not a stray toplevel window.
    win = desktop.find_window(f"^{TITLE}$")  # the first GTK start of a run can be slow on a cold machine
    icon = desktop.geometry(win)
    assert icon.y < 32 and 0 < icon.width <= 64, icon

    # A click opens a real menu, and it is drawn (not a blank rectangle).
    menu = desktop.click_popup(*icon.center, button=button)
    shot = desktop.screenshot(tmp_path / f"menu-{backend}.png")
    with Image.open(shot) as image:
        region = image.convert("L").crop((menu.x, menu.y, menu.x + menu.width, menu.y + menu.height))
        darkest, brightest = region.getextrema()
    assert menu.height >= 40 and brightest - darkest > 100, (menu, darkest, brightest)

    # First item by keyboard: its callback ran and its notification reached dunst.
    desktop.key("Down", "Return")
    desktop.wait_for(lambda: marker.exists() and marker.read_text() == "hi\n", timeout=5)
    said = desktop.wait_for(
        lambda: [n for n in desktop.notifications() if n["summary"] == f"{TITLE} says hi"], timeout=5
    )
    assert [n["body"] for n in said] == ["hello from the probe"]

    # Last item (Up wraps from the top): Quit ends the process cleanly.
    desktop.click_popup(*icon.center, button=button)
    desktop.key("Up", "Return")
    try:
        assert proc.wait(timeout=10) == 0
    except subprocess.TimeoutExpired:
        pytest.fail(f"probe still running after Quit; log:\n{log.read_text()}")
    lines = log.read_text().splitlines()
    info = json.loads(next(line for line in lines if line.startswith("{")))
    assert info == {"backend": f"pystray._{backend}", "has_menu": True, "has_notification": True}
    assert "exited" in lines


def test_plain_pystray_icon_on_the_sni_host(sni_desktop, tmp_path: Path) -> None:
    """The StatusNotifierItem desktop of tests/support/desktop.py: the item registers with the watcher, the host
    draws its icon in the bar, the menu the item exports reads back over D-Bus, button 3 opens the host's menu,
    the keyboard picks items."""
    desktop = sni_desktop
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    marker = tmp_path / "said-hi.txt"
    proc = desktop.popen([sys.executable, str(script), TITLE, str(marker)],
                         env={"PYSTRAY_BACKEND": "appindicator"}, log="probe.log")
    desktop.wait_for(lambda: desktop.sni_item(TITLE), timeout=10)
    assert [(item.label, item.selectable) for item in desktop.sni_menu(TITLE)] == [("Say hi", True), ("Quit", True)]
    bar = desktop.host_bar()
    assert (bar.y, bar.height) == (0, 32)
    icon = desktop.wait_for(lambda: desktop.icons_in_bar(bar), timeout=10)
    assert icon.x > bar.x + bar.width - 40 and icon.height <= 32, icon  # "--end": at the right end
    assert colour_share(desktop.screen_image(), icon, (30, 160, 60)) > 0.3

    desktop.click_popup(*icon.center, button=3)
    desktop.key("Down", "Return")
    desktop.wait_for(lambda: marker.exists() and marker.read_text() == "hi\n", timeout=5)
    desktop.click_popup(*icon.center, button=3)
    desktop.key("Up", "Return")
    assert proc.wait(timeout=10) == 0
    desktop.wait_for(lambda: not desktop.sni_items(), timeout=10)


def test_teardown_ends_every_process(tmp_path: Path) -> None:
    """Everything the desktop started is gone afterwards, and leaves no X socket behind."""
    from desktop import require_desktop, start_desktop
    require_desktop("trayer")  # a skip, or under ORCHESTRAY_REQUIRE_DESKTOP=1 (CI) a failure
    with start_desktop(tmp_path / "desktop") as d:
        d.popen(["sleep", "60"])
        pids = d.pids
        display = d.env["DISPLAY"]
    assert len(pids) == 5
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z", pid
    assert not Path(f"/tmp/.X11-unix/X{display.lstrip(':')}").exists()
