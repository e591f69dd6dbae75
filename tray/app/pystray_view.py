"""The real view: a pystray icon whose image, tooltip and menu follow the controller.

Every pystray mutation goes through `ui_call`: pystray's darwin and win32 backends are not thread-safe
(pystray#60), and on macOS a menu change from a worker thread kills the process, so there it is sent to the
main thread with `AppHelper.callAfter`. GTK backends marshal internally.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Optional, Tuple

from tray.app.icon import render_icon
from tray.app.menu import FOCUS, Action, MenuItem
from tray.core.log import get_logger

log = get_logger("tray.view")
ICON_NAME = "orchestray"
ICON_TITLE = "Orchestray"
#: Menu actions that may wait (on the window manager, on tmux): run on a thread, never on the UI loop.
SLOW_ACTIONS = frozenset({FOCUS})


def ui_call(function: Callable[[], None], platform: str = sys.platform) -> None:
    if platform == "darwin":  # pragma: no cover - macOS only
        from PyObjCTools import AppHelper

        AppHelper.callAfter(function)
    else:
        function()


class PystrayView:
    def __init__(self, pystray: Any, perform: Callable[[Action], None], notifier: Any = None) -> None:
        self.pystray = pystray
        self.perform = perform
        self.notifier = notifier
        self._lock = threading.Lock()
        self.template = sys.platform == "darwin"  # the menu bar keeps only the alpha channel there
        self.icon = pystray.Icon(
            ICON_NAME,
            icon=render_icon("none", 0, size=64, template=self.template),
            title=ICON_TITLE,
            menu=pystray.Menu(pystray.MenuItem("Starting…", None, enabled=False)),
        )

    @property
    def backend(self) -> str:
        return type(self.icon).__module__.rsplit(".", 1)[-1].lstrip("_")

    def show(self, state: str, count: int, title: str, menu: Tuple[MenuItem, ...]) -> None:
        image = render_icon(state, count, size=64, template=self.template)
        native = self.pystray.Menu(*[self._convert(item) for item in menu])

        def apply() -> None:
            with self._lock:
                self.icon.icon = image
                self.icon.title = title
                self.icon.menu = native

        ui_call(apply)

    def _convert(self, item: MenuItem) -> Any:
        pystray = self.pystray
        if item.separator:
            return pystray.Menu.SEPARATOR
        if item.children:
            return pystray.MenuItem(item.text, pystray.Menu(*[self._convert(c) for c in item.children]))
        callback: Optional[Callable[..., None]] = None
        if item.action is not None:
            action = item.action

            def callback(icon: Any, _item: Any) -> None:
                if action.kind in SLOW_ACTIONS:  # it waits for the window manager: not on the UI loop
                    threading.Thread(target=self.perform, args=(action,), name="orchestray-action",
                                     daemon=True).start()
                else:
                    self.perform(action)

        checked = None
        if item.checked is not None:
            value = item.checked

            def checked(_item: Any) -> bool:
                return value

        return pystray.MenuItem(item.text, callback, checked=checked, enabled=item.enabled)

    def notify(self, title: str, body: str, buttons: Tuple[Any, ...] = (),
               on_click: Optional[Callable[[], None]] = None) -> bool:
        """Called from the poll thread or an action thread, never from a UI loop: a send may wait for D-Bus."""
        if self.notifier is None:
            return False
        if buttons or on_click is not None:
            return bool(self.notifier.notify(title, body, buttons=buttons, on_click=on_click))
        return bool(self.notifier.notify(title, body))

    def stop(self) -> None:
        close = getattr(self.notifier, "close", None)
        if close is not None:
            close()  # ends desktop-notifier's event loop thread
        ui_call(self.icon.stop)
