"""The tray's controller and pystray view on the gtk backend, as `orchestray tray` wires them, printing what the
menu says: `shown:` each time the controller hands the view a new menu, `opened:` once a real click has popped
the native GTK menu up (its labels read from the Gtk.Menu widgets on screen). For tests/desktop only.

Usage: python menu_probe.py REGISTRY_DIR
"""

from __future__ import annotations

import os
import sys

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
    view = PystrayView(pystray, controller.perform, before_open=controller.refresh_ages)
    controller.ages_on_open = view.refreshes_on_open
    print(f"refreshes on open: {view.refreshes_on_open}", flush=True)
    show = view.show

    def shown(state, count, title, menu) -> None:
        print("shown: " + texts(menu), flush=True)
        show(state, count, title, menu)

    view.show = shown  # type: ignore[method-assign]
    controller.view = view
    was_open = [False]

    def watch_popup() -> bool:
        handle = getattr(view.icon, "_menu_handle", None)
        is_open = bool(handle is not None and handle.get_mapped())
        if is_open and not was_open[0]:
            print("opened: " + labels(handle), flush=True)
        was_open[0] = is_open
        return True

    GLib.timeout_add(50, watch_popup)
    view.run(on_ready=controller.start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
