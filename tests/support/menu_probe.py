"""The tray's controller and pystray view on the gtk backend, as `orchestray tray` wires them, printing what the
menu says: `shown:` each time the controller hands the view a new menu, `state:` each time it shows a new
tooltip without a menu (the menu is built only as it opens), `looked:` after each look at the registry (the live
sessions and their activity), `opened:` once a real click has popped the native GTK menu up (its labels read from
the Gtk.Menu widgets on screen), and `dropped:` once a closed menu was let go (what of it is still alive: the
native menu and a submenu as GObjects, the pystray menu, the view's items, the controller's kept submenus). For
tests/desktop only.

Usage: python menu_probe.py REGISTRY_DIR
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref

_printing = threading.Lock()


def say(line: str) -> None:
    """One whole line on stdout: the poll thread and the GTK loop both report."""
    with _printing:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

os.environ["PYSTRAY_BACKEND"] = "gtk"


def labels(menu) -> str:
    """Every label of a Gtk.Menu and its submenus, in order, joined by " | "."""
    out = []
    for child in menu.get_children():
        label = child.get_label() if hasattr(child, "get_label") else None
        if label:
            out.append(label)
        sub = child.get_submenu() if hasattr(child, "get_submenu") else None
        if sub is not None:
            out.append(labels(sub))
    return " | ".join(out)


def texts(items) -> str:
    """Every text of Orchestray's menu model and its submenus, in order, joined by " | "."""
    out = []
    for item in items:
        if item.text:
            out.append(item.text)
        if item.children:
            out.append(texts(item.children))
    return " | ".join(out)


def main() -> int:
    from tray.app.main import gtk_without_opengl

    with gtk_without_opengl():
        import pystray
    from gi.repository import GLib

    from tray.app.config import ConfigStore
    from tray.app.controller import TrayController
    from tray.app.pystray_view import PystrayView
    from tray.core.registry import Registry

    controller = TrayController(Registry(sys.argv[1]), config_store=ConfigStore(os.environ["ORCHESTRAY_CONFIG_DIR"]),
                                find_file=lambda root, name: None)
    view = PystrayView(pystray, controller.perform, before_open=controller.refresh_ages,
                       after_close=controller.menu_closed)
    controller.ages_on_open = view.refreshes_on_open
    controller.menu_on_open = view.builds_menu_on_open
    say(f"refreshes on open: {view.refreshes_on_open}")
    say(f"builds on open: {view.builds_menu_on_open}")
    show = view.show

    def shown(state, count, title, menu) -> None:
        say(f"state: {title}" if menu is None else "shown: " + texts(menu))
        show(state, count, title, menu)

    view.show = shown  # type: ignore[method-assign]
    poll_once = controller.poll_once

    def looked():
        found = poll_once()
        snapshot = controller.snapshot
        live = [] if snapshot is None else [s for v in snapshot.projects for s in v.live]
        say("looked: " + " ".join(sorted(f"{s.session_id}={s.activity.state if s.activity else '-'}"
                                           for s in live)))
        return found

    controller.poll_once = looked  # type: ignore[method-assign]
    controller.view = view
    was_open = [False]
    alive = {}  # what the menu opened last is made of, each set to False when it is finalized

    def follow(name, gobject) -> None:
        alive[name] = True
        gobject.weak_ref(lambda: alive.__setitem__(name, False))

    def watch_popup() -> bool:
        handle = getattr(view.icon, "_menu_handle", None)
        is_open = bool(handle is not None and handle.get_mapped())
        if is_open and not was_open[0]:
            alive.clear()
            follow("native", handle)
            subs = [c.get_submenu() for c in handle.get_children() if c.get_submenu() is not None]
            if subs:
                follow("submenu", subs[0])
            menu = view.icon.menu
            alive["pystray"] = weakref.ref(menu) if menu is not None else None
            say("opened: " + labels(handle))
        was_open[0] = is_open
        return True

    drop = view.icon._drop_closed_menu

    def dropped() -> bool:
        result = drop()
        gc.collect()
        pystray_menu = alive.get("pystray")
        say(f"dropped: handle={view.icon._menu_handle is not None} native={alive.get('native')} "
              f"submenu={alive.get('submenu')} pystray={pystray_menu is not None and pystray_menu() is not None} "
              f"items={len(view._converted)} kept={len(controller.project_menus._last)} "
              f"open={controller.menu_open}")
        return result

    view.icon._drop_closed_menu = dropped

    GLib.timeout_add(50, watch_popup)
    view.run(on_ready=controller.start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
