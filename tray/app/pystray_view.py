"""The real view: a pystray icon whose image, tooltip and menu follow the controller.

Three platform rules live here, because pystray 0.19.5 leaves them to the application:

* **macOS: AppKit only on the main thread.** pystray runs `setup` on a thread of its own, and its darwin
  backend calls `setImage_`, `setToolTip_`, `setHidden_` and `setMenu_` on whatever thread touches the icon
  (pystray#60); macOS kills such a process. So every mutation the view makes is queued to the main thread
  with `AppHelper.callAfter` (always queued, never run inline, so updates keep their order), and on darwin the
  icon is a subclass whose AppKit-touching methods forward themselves to the main thread when pystray calls
  them from another one (`icon.visible = True` in `setup`, `stop()` from a signal handler).
* **macOS: a template image.** 0.19.5 never marks the status item's image as a template, so a black glyph
  vanishes on a dark menu bar. The darwin subclass builds the NSImage itself (from the 64 px render, sized in
  points so Retina stays sharp), marks it as a template before handing it to the button, and does so on the
  main thread after every icon change.
* **Windows: left click and the tooltip.** pystray maps a left click to the menu's *default* item; the view
  adds a hidden default item that opens the same menu a right click opens. The tooltip goes into
  `NOTIFYICONDATAW.szTip`, `WCHAR[128]`: 127 UTF-16 units and a NUL, so it is capped in UTF-16 units (an
  emoji is two), not in characters; one unit too many raises in ctypes and leaves the icon stale. The cap is
  `safe_text` (tray/core/fmt.py), the one that already caps notification texts the same way (on every
  platform: it also drops control and bidi characters a folder name may carry).

GTK backends marshal to their own loop internally, so elsewhere a call runs directly (under the view's lock).

On the GTK backends the icon class comes from `gtk_menu.py`: a new menu is laid over the native one instead of
rebuilding it, and (``gtk`` backend) the ages are brought up to date as the menu opens, so the tray needs no
timer for them. Elsewhere (a StatusNotifierItem host opens the menu over D-Bus without telling pystray; Windows
and macOS build the native menu ahead) the controller refreshes them at most once a minute.

On the ``gtk`` backend, given `after_close`, the menu exists only while it is open (`builds_menu_on_open`): the
controller then shows the icon, badge and tooltip with no menu (`menu` None) while it is closed, the opening asks
it for the menu, and once the menu closed the view lets go of the pystray items it made (the GTK class destroys
the widgets) and hands the freed memory back (`tray/platform/memory.py`). A menu that reaches the view while the
menu is closed (a poll that raced the closing) is not built: the next opening asks again.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, Callable, Dict, Optional, Tuple

from tray.app.icon import render_icon
from tray.app.menu import Action, ActionKind, MenuItem
from tray.core.fmt import safe_text
from tray.core.log import get_logger

log = get_logger("tray.view")
ICON_NAME = "orchestray"
ICON_TITLE = "Orchestray"
#: Menu actions that may wait (on the window manager, on tmux): run on a thread, never on the UI loop.
SLOW_ACTIONS = frozenset({ActionKind.FOCUS})
#: NOTIFYICONDATAW.szTip is WCHAR[128]; one unit is the terminating NUL.
WINDOWS_TIP_UNITS = 127
#: pystray._util.win32.WM_RBUTTONUP: what the win32 backend's `_on_notify` treats as "show the menu".
WM_RBUTTONUP = 0x0205
OPEN_MENU_TEXT = "Open menu"


def ui_call(function: Callable[[], None], platform: str = sys.platform) -> None:
    """Run ``function`` where the GUI toolkit allows it: queued to AppKit's main thread on macOS, directly
    elsewhere."""
    if platform == "darwin":
        from PyObjCTools import AppHelper

        AppHelper.callAfter(function)
    else:
        function()


def darwin_icon_class(base: Any, template: bool = True) -> Any:
    """pystray's darwin ``Icon`` with its AppKit calls kept on the main thread and a template image.

    Written against pystray 0.19.5's private hooks (`_show`, `_hide`, `_update_icon`, `_update_title`,
    `_update_menu`, `_stop`, `_assert_image`, `_status_bar`, `_status_item`, `_icon_image`); the test suite
    runs the real `_darwin.py` against a fake AppKit that fails on any call off the main thread.
    """
    import AppKit
    import Foundation
    from PyObjCTools import AppHelper

    def on_main_thread(method: Callable[..., Any]) -> Callable[..., Any]:
        def forward(self: Any, *args: Any) -> Any:
            if Foundation.NSThread.isMainThread():
                return method(self, *args)
            AppHelper.callAfter(method, self, *args)
            return None

        forward.__name__ = method.__name__
        forward.__doc__ = f"{method.__name__}, on the main thread."
        return forward

    class MainThreadIcon(base):  # type: ignore[misc]
        _orchestray_template = template

        @on_main_thread
        def _show(self) -> None:
            base._show(self)

        @on_main_thread
        def _hide(self) -> None:
            base._hide(self)

        @on_main_thread
        def _update_icon(self) -> None:
            base._update_icon(self)

        @on_main_thread
        def _update_title(self) -> None:
            base._update_title(self)

        @on_main_thread
        def _update_menu(self) -> None:
            base._update_menu(self)

        @on_main_thread
        def _stop(self) -> None:
            base._stop(self)

        def _assert_image(self) -> None:
            """Build the NSImage from the full-size render, sized in points (sharp on Retina), marked as a
            template *before* the button gets it; pystray's own version does neither."""
            thickness = float(self._status_bar.thickness())
            current: Any = getattr(self, "_icon_image", None)
            if current is not None and getattr(self, "_orchestray_thickness", None) == thickness:
                return
            buffer = io.BytesIO()
            self._icon.save(buffer, "png")
            image = AppKit.NSImage.alloc().initWithData_(Foundation.NSData(buffer.getvalue()))
            image.setSize_((thickness, thickness))
            image.setTemplate_(self._orchestray_template)
            self._icon_image = image
            self._orchestray_thickness = thickness
            self._status_item.button().setImage_(image)

    MainThreadIcon.__name__ = MainThreadIcon.__qualname__ = "MainThreadIcon"
    MainThreadIcon.__module__ = base.__module__  # `backend` still names pystray's backend
    return MainThreadIcon


class PystrayView:
    def __init__(
        self, pystray: Any, perform: Callable[[Action], None], notifier: Any = None, platform: str = sys.platform,
        before_open: Optional[Callable[[], None]] = None, after_close: Optional[Callable[[], None]] = None,
    ) -> None:
        self.pystray = pystray
        self.perform = perform
        self.notifier = notifier
        self.platform = platform
        self._lock = threading.Lock()
        self._shown_badge: Optional[Tuple[str, int]] = None
        self._shown_menu: Optional[Tuple[MenuItem, ...]] = None
        #: The pystray item made for each item of the menu shown last (`_convert`), reused for an equal item.
        self._converted: Dict[MenuItem, Any] = {}
        self._shown_title: Optional[str] = None
        self.template = platform == "darwin"  # the menu bar keeps only the alpha channel there
        icon_class = darwin_icon_class(pystray.Icon, self.template) if platform == "darwin" else pystray.Icon
        #: True when the menu's ages are refreshed as it opens (the controller then keeps no clock for them).
        self.refreshes_on_open = before_open is not None and icon_class.__module__.endswith("._gtk")
        self._before_open, self._after_close = before_open, after_close
        self._menu_open = False  # the user has the menu open (only followed when it is built on open)
        if icon_class.__module__.endswith(("._gtk", "._appindicator")):
            from tray.app.gtk_menu import gtk_icon_class

            icon_class = gtk_icon_class(  # menus changed in place, ages on open, built on open
                icon_class, self._opening if before_open is not None else None,
                self._closed if after_close is not None else None)
        #: True when the menu is built as it opens and dropped once it closed (the ``gtk`` backend): the
        #: controller then builds no menu while it is closed.
        self.builds_menu_on_open = bool(getattr(icon_class, "builds_menu_on_open", False))
        starting = None if self.builds_menu_on_open else pystray.Menu(
            *self._leading_items(), pystray.MenuItem("Starting…", None, enabled=False))
        self.icon = icon_class(
            ICON_NAME,
            icon=render_icon("none", 0, size=64, template=self.template),
            title=ICON_TITLE,
            menu=starting,
        )

    @property
    def backend(self) -> str:
        return type(self.icon).__module__.rsplit(".", 1)[-1].lstrip("_")

    def run(self, on_ready: Callable[[], None]) -> None:
        """pystray's blocking loop (on the main thread); ``on_ready`` runs on pystray's setup thread once the
        icon can be shown, after showing it is queued."""

        failed = threading.Event()

        def setup(icon: Any) -> None:
            if failed.is_set():
                return
            ui_call(self._reveal, self.platform)
            on_ready()

        try:
            self.icon.run(setup=setup)
        except BaseException:
            # pystray's setup thread (not a daemon) waits for the loop to be ready: let it go, doing nothing,
            # or the process could never exit after this error.
            failed.set()
            try:
                self.icon._mark_ready()
            except Exception:  # noqa: BLE001 - it frees the thread in a `finally`, whatever else fails
                pass
            raise

    def _reveal(self) -> None:
        with self._lock:
            self.icon.visible = True

    def show(self, state: str, count: int, title: str, menu: Optional[Tuple[MenuItem, ...]]) -> None:
        """Change only what changed: each of the icon, the tooltip and the menu costs the GUI a redraw (a new
        menu is a whole native menu, re-exported over D-Bus on StatusNotifierItem hosts). `menu` None: the menu
        is not built now (it is built as it opens); the one shown, if any, stays."""
        badge = (state, count)
        image = render_icon(state, count, size=64, template=self.template) if badge != self._shown_badge else None
        native = None
        if menu is not None and self.builds_menu_on_open and not self._menu_open:
            menu = None  # closed meanwhile: nothing to build; the next opening asks for the menu again
        if menu is not None and menu != self._shown_menu:
            made: Dict[MenuItem, Any] = {}
            native = self.pystray.Menu(*self._leading_items(), *[self._convert(item, made) for item in menu])
            self._converted = made
            self._shown_menu = menu
        title = safe_text(title, WINDOWS_TIP_UNITS)  # UTF-16 units, control and bidi characters dropped
        new_title = title if title != self._shown_title else None
        self._shown_badge, self._shown_title = badge, title

        def apply() -> None:
            with self._lock:
                if image is not None:
                    self.icon.icon = image
                if new_title is not None:
                    self.icon.title = new_title
                if native is not None and self.builds_menu_on_open and not self._menu_open:
                    self._shown_menu, self._converted = None, {}  # closed while it was made: not kept
                elif native is not None:
                    self.icon.menu = native

        ui_call(apply, self.platform)

    def _opening(self) -> None:
        """The user opens the menu (on the GTK loop): from now on a menu handed over is shown."""
        with self._lock:
            self._menu_open = True
        if self._before_open is not None:
            self._before_open()

    def _closed(self) -> None:
        """The menu closes (on the GTK loop; the GTK class drops the native menu and the pystray one after this
        turn of the loop): hand over no menu from now on, let go of the pystray items made for it, tell the
        controller."""
        with self._lock:
            self._menu_open = False
            self._shown_menu, self._converted = None, {}
        if self._after_close is not None:
            self._after_close()

    def _leading_items(self) -> Tuple[Any, ...]:
        """On Windows, a hidden default item: pystray runs the default item on a left click, and this one
        opens the menu, as a right click does."""
        if self.platform != "win32":
            return ()
        return (self.pystray.MenuItem(OPEN_MENU_TEXT, _open_menu, default=True, visible=False),)

    def _convert(self, item: MenuItem, made: Dict[MenuItem, Any]) -> Any:
        """The pystray item for `item`: the one made for an equal item of the menu shown last when there is
        one (items are frozen data, and a pystray item made from equal data shows and does the same), so a
        change in one project copies that project's items only, and the GTK view, finding the very same
        submenu object it laid last time, skips it (`gtk_menu.py`). `made` collects this menu's items."""
        pystray = self.pystray
        if item.separator:
            return pystray.Menu.SEPARATOR
        known = made.get(item)
        if known is None:
            known = self._converted.get(item)
        if known is None:
            known = self._make(item, made)
        made[item] = known
        return known

    def _make(self, item: MenuItem, made: Dict[MenuItem, Any]) -> Any:
        pystray = self.pystray
        if item.children:
            return pystray.MenuItem(item.text, pystray.Menu(*[self._convert(c, made) for c in item.children]))
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
        ui_call(self.icon.stop, self.platform)


def _open_menu(icon: Any, _item: Any) -> None:
    """The left-click action on Windows: pystray's win32 backend shows its menu for a right button up in
    `_on_notify` (on the message-loop thread, where this runs too)."""
    on_notify = getattr(icon, "_on_notify", None)
    if on_notify is None:
        log.warning("left click: this pystray backend has no _on_notify; the menu opens with a right click")
        return
    on_notify(0, WM_RBUTTONUP)
