"""pystray's GTK menus changed in place (tray/app/gtk_menu.py), on a real display with real GTK widgets.

A child process builds the tray's GTK icon class over pystray's real `gtk` backend, shows one menu, then lays
others over it, and reports what the native widgets are: which widget objects survived, their labels and
sensitivity, and what activating an item ran. The test asserts what a user would get: the labels of the newest
menu, the newest action behind each item (never the one of the menu it replaced), no action run by a redraw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.desktop

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, sys
os.environ["PYSTRAY_BACKEND"] = "gtk"
os.environ["GDK_GL"] = "disable"
import pystray
from PIL import Image
from tray.app.gtk_menu import gtk_icon_class

ran = []
def act(name):
    return lambda icon, item: ran.append(name)

def menu(projects, notifications=True):
    items = [pystray.MenuItem(title, pystray.Menu(*[pystray.MenuItem(t, act(a), enabled=e) for t, a, e in rows]))
             for title, rows in projects]
    items += [pystray.Menu.SEPARATOR,
              pystray.MenuItem("Notifications", act("toggle"), checked=lambda item: notifications),
              pystray.MenuItem("Quit", act("quit"))]
    return pystray.Menu(*items)

Icon = gtk_icon_class(pystray.Icon)
icon = Icon("probe", Image.new("RGBA", (16, 16)), "probe")
report = {}

serial = [0]

def tag(widget):
    # A name kept in the GTK widget itself: the same name later means the same widget.
    if not widget.get_name().startswith("w"):
        serial[0] += 1
        widget.set_name(f"w{serial[0]}")
    return widget.get_name()

def widgets(native):
    out = []
    for child in native.get_children():
        sub = child.get_submenu()
        out.append({"id": tag(child), "label": child.get_label(), "sensitive": child.get_sensitive(),
                    "active": child.get_active() if hasattr(child, "get_active") else None,
                    "sub_id": tag(sub) if sub is not None else None,
                    "sub": widgets(sub) if sub is not None else None})
    return out

def show(name, new):
    icon._menu = new  # what `icon.menu = new` stores; the native menu is then brought to it on the GTK loop
    icon._show_menu_now()
    report[name] = widgets(icon._menu_handle)

alpha = ("alpha — ok (2 sessions)", [("Orchestrator: a1 · up 3m", "focus a1", True), ("Worker a2", "promote a2", True)])
beta = ("beta — ok (1 session)", [("Orchestrator: b1 · up 1m", "focus b1", True)])
show("first", menu([alpha, beta]))
ran.clear()
alpha2 = ("alpha — ok (2 sessions)", [("Orchestrator: a1 · up 4m · waiting", "focus a1", True),
                                     ("Worker a9", "promote a9", False)])
show("labels", menu([alpha2, beta]))
icon._menu_handle.get_children()[0].get_submenu().get_children()[1].set_sensitive(True)
icon._menu_handle.get_children()[0].get_submenu().get_children()[1].activate()
report["ran_after_labels"] = list(ran)
ran.clear()
beta3 = ("beta — ok (2 sessions)", [("Orchestrator: b1 · up 1m", "focus b1", True), ("Worker b2", "promote b2", True)])
show("shape", menu([alpha2, beta3]))
last = menu([alpha2, beta3], notifications=False)
show("checked", last)
# The view hands over the very pystray item of a project that did not change (tray/app/pystray_view.py): alpha
# here, while beta's labels changed.
beta4 = pystray.MenuItem("beta — ok (2 sessions)", pystray.Menu(
    pystray.MenuItem("Orchestrator: b1 · up 2m", act("focus b1")),
    pystray.MenuItem("Worker b2 · waiting", act("promote b2"))))
show("reused", pystray.Menu(last.items[0], beta4, *last.items[2:]))
report["ran_by_redraws"] = list(ran)
subs = [child.get_submenu() for child in icon._menu_handle.get_children()[:2]]
subs[0].get_children()[0].activate()
subs[1].get_children()[1].activate()
report["ran_after_reuse"] = list(ran)
ran.clear()
# A third session joins beta: its submenu changes shape; the two rows the view hands over again keep their widgets.
beta5 = pystray.MenuItem("beta — ok (3 sessions)", pystray.Menu(*beta4.submenu.items,
                                                               pystray.MenuItem("Worker b3", act("promote b3"))))
show("grown", pystray.Menu(last.items[0], beta5, *last.items[2:]))
report["ran_by_growth"] = list(ran)
rows = icon._menu_handle.get_children()[1].get_submenu().get_children()
rows[1].activate()
rows[2].activate()
report["ran_after_growth"] = list(ran)
print(json.dumps(report))
"""


def test_a_new_menu_is_laid_over_the_native_one_with_its_own_labels_and_actions(desktop, tmp_path: Path) -> None:
    done = desktop.run([sys.executable, "-c", CHILD], env={"PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    first, labels, shape, checked = report["first"], report["labels"], report["shape"], report["checked"]
    reused = report["reused"]

    # Only labels and sensitivity changed: the same widgets, showing the new texts.
    assert [w["id"] for w in labels] == [w["id"] for w in first]
    assert [w["sub_id"] for w in labels] == [w["sub_id"] for w in first]
    alpha_items = labels[0]["sub"]
    assert [w["label"] for w in alpha_items] == ["Orchestrator: a1 · up 4m · waiting", "Worker a9"]
    assert alpha_items[1]["sensitive"] is False
    # The item now stands for the new menu's action, not the one it was built for.
    assert report["ran_after_labels"] == ["promote a9"]

    # A session joined beta: beta's submenu is built again, everything else stays as it was.
    assert [w["id"] for w in shape] == [w["id"] for w in first]
    assert shape[0]["sub_id"] == first[0]["sub_id"]
    assert shape[1]["sub_id"] != first[1]["sub_id"]
    assert [w["label"] for w in shape[1]["sub"]] == ["Orchestrator: b1 · up 1m", "Worker b2"]
    assert shape[0]["label"] == "alpha — ok (2 sessions)" and shape[1]["label"] == "beta — ok (2 sessions)"

    # A check mark that changed: that menu is built again (GTK's set_active would run the item's action).
    assert checked[-2]["label"] == "Notifications" and checked[-2]["active"] is False
    assert shape[-2]["active"] is True
    assert report["ran_by_redraws"] == []

    # The same pystray item as last time (a project that did not change): its widgets are left as they are; the
    # project next to it shows its new labels; both run what the newest menu says.
    assert [w["id"] for w in reused] == [w["id"] for w in checked]
    assert reused[0] == checked[0]
    assert [w["label"] for w in reused[1]["sub"]] == ["Orchestrator: b1 · up 2m", "Worker b2 · waiting"]
    assert reused[1]["sub_id"] == checked[1]["sub_id"]
    assert report["ran_after_reuse"] == ["focus a1", "promote b2"]

    # beta changed shape: a new submenu, in which the rows it had moved over (the same widgets) and the new one
    # was built; no redraw ran an action, and each row runs its own.
    grown = report["grown"]
    assert grown[1]["sub_id"] != reused[1]["sub_id"] and grown[0] == reused[0]
    assert [w["label"] for w in grown[1]["sub"]] == ["Orchestrator: b1 · up 2m", "Worker b2 · waiting", "Worker b3"]
    assert [w["id"] for w in grown[1]["sub"][:2]] == [w["id"] for w in reused[1]["sub"]]
    assert grown[1]["sub"][2]["id"] not in [w["id"] for w in reused[1]["sub"]]
    assert report["ran_by_growth"] == []
    assert report["ran_after_growth"] == ["promote b2", "promote b3"]
