"""pystray's GTK menus (the ``gtk`` and ``appindicator`` backends), changed in place instead of rebuilt.

pystray rebuilds the whole native menu for every new ``Menu``: with 50 sessions that is a few hundred GTK
widgets created and destroyed (and, on a StatusNotifierItem host, the whole layout exported again over D-Bus)
each time one label changes, which was nearly all of the tray's CPU while sessions start, prompt and end. Here
a new menu is laid over the native one that is there: an item keeps its widget and gets the new label,
sensitivity and action; only a (sub)menu whose shape changed (an item added, removed, or of another kind) is
built again, and only that one. On a StatusNotifierItem host, libdbusmenu-gtk sends the changed properties,
not a new layout.

Also here, on the ``gtk`` backend (its ``popup-menu`` handler is the one place pystray lets us see the opening):
ages brought up to date as the menu opens, so the tray needs no clock for them; and, with `after_close` given, a
menu that exists only while it is open. The opening asks for the menu (`before_open`: the controller builds it
with the ages of now, the view hands it over as `icon.menu`) and builds the native one before popping it up. As
GTK takes it down (``deactivate``, or ``selection-done``), `after_close` says so at once; after that turn of the
loop (GTK activates a picked item right after it deactivated the menu, and the item's handler needs its widget)
the native menu is destroyed and the pystray menu let go. A tray at rest then holds no widgets, no pystray items and no
menu model for its 50 sessions (about 1.7 MB), and a change while the menu is closed builds none of them. A
StatusNotifierItem host (``appindicator``) reads the menu over D-Bus whenever it likes, without telling pystray:
there the menu stays built.

Written against pystray 0.19.5's GTK backends (``_create_menu``, ``_create_menu_item``, ``_menu_handle``,
``_update_menu``, ``_on_status_icon_popup_menu``, ``_appindicator``, ``_handler``); every native change runs on
the GTK loop.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from tray.core.log import get_logger
from tray.platform.memory import hand_back

log = get_logger("tray.view")


def gtk_icon_class(base: Any, before_open: Optional[Callable[[], None]] = None,
                   after_close: Optional[Callable[[], None]] = None) -> Any:
    """pystray's GTK ``Icon`` class `base`, with menus changed in place, and (``gtk`` backend, `before_open`
    given) a call to `before_open` on the GTK loop as the user opens the menu, whose result is shown at once;
    with `after_close` too, `after_close` is called (on the GTK loop) as the menu closes, and the native menu and
    the pystray menu are dropped after that turn of the loop."""
    from gi.repository import GLib, Gtk
    from pystray import Menu

    indicator = base.__module__.endswith("._appindicator")

    def kind(descriptor: Any) -> Any:
        """What an item's widget is: items of the same kind can take each other's place."""
        if descriptor is Menu.SEPARATOR:
            return SEPARATOR
        return (descriptor.checked is not None, bool(descriptor.submenu), bool(descriptor.default),
                descriptor.radio if descriptor.checked is not None else False)

    #: The menu exists only while it is open (see the module's docstring).
    lazy = after_close is not None and before_open is not None and not indicator

    class OrchestrayGtkIcon(base):  # type: ignore[misc]
        _orchestray_built: Any = None  # the pystray Menu the native menu shows
        _orchestray_closing = False  # a drop of the closed menu is queued
        builds_menu_on_open = lazy

        def _create_menu(self, descriptors: Any, spare: Any = None) -> Any:
            """pystray's menu, with a record of what each item shows kept beside it (`_Shown`), so that laying a
            new menu over it compares in Python and calls GTK only for what changed. An item of the native menu
            `spare` (the one this menu replaces) made for the very same descriptor is moved over with its
            submenu instead of being built again: the view hands over the same pystray item for a row that did
            not change, so a session joining a project builds that session's row, not every row."""
            if not descriptors:
                return None
            menu = Gtk.Menu.new()
            shown = []
            reusable = {id(item.descriptor): item for item in getattr(spare, "_orchestray_shown", None) or ()
                        if item.kind != SEPARATOR}
            for descriptor in descriptors:
                old = reusable.pop(id(descriptor), None) if descriptor is not Menu.SEPARATOR else None
                if old is not None and old.descriptor is descriptor:
                    spare.remove(old.widget)
                    menu.append(old.widget)
                    shown.append(old)
                    continue
                widget = self._create_menu_item(descriptor)
                menu.append(widget)
                shown.append(_Shown(widget, descriptor, kind(descriptor)))
            menu.show_all()
            menu._orchestray_shown = shown
            return menu

        def _create_menu_item(self, descriptor: Any) -> Any:
            """pystray's item, but its action follows the item's current descriptor (see `_lay_over`)."""
            if descriptor is Menu.SEPARATOR or descriptor.submenu or descriptor.default:
                return base._create_menu_item(self, descriptor)
            if descriptor.checked is not None:
                widget = Gtk.CheckMenuItem.new_with_label(descriptor.text)
                widget.set_active(descriptor.checked)  # before `activate` is connected: runs no action
                widget.set_draw_as_radio(descriptor.radio)
            else:
                widget = Gtk.MenuItem.new_with_label(descriptor.text)
            holder = [descriptor]
            widget.connect("activate", lambda _widget: self._handler(holder[0])())
            widget._orchestray_holder = holder
            widget.set_sensitive(descriptor.enabled)
            return widget

        def _lay_over(self, native: Any, new: Any) -> bool:
            """Make `native` show `new`; False (and nothing changed) when their shapes differ."""
            shown = getattr(native, "_orchestray_shown", None)
            news = list(new)
            if shown is None or len(shown) != len(news):
                return False
            kinds = [kind(descriptor) for descriptor in news]
            for item, descriptor, what in zip(shown, news, kinds):
                if item.kind != what:
                    return False
                if what == SEPARATOR:
                    continue
                if descriptor.checked is not None and descriptor.checked != item.checked:
                    return False  # set_active would activate the item: such a menu is built again
                if not descriptor.submenu and item.holder is None:
                    return False  # not built by us (a default item): its action cannot be pointed elsewhere
            for item, descriptor, what in zip(shown, news, kinds):
                if what == SEPARATOR or descriptor is item.descriptor:
                    continue  # the very item laid last time (the view reuses unchanged ones): nothing changed
                item.descriptor = descriptor
                text, enabled = descriptor.text, descriptor.enabled
                if text != item.text:
                    item.widget.set_label(text)
                    item.text = text
                if enabled != item.enabled:
                    item.widget.set_sensitive(enabled)
                    item.enabled = enabled
                if descriptor.submenu:
                    if item.submenu is None or not self._lay_over(item.submenu, descriptor.submenu):
                        item.submenu = self._create_menu(descriptor.submenu, spare=item.submenu)
                        item.widget.set_submenu(item.submenu)
                else:
                    item.holder[0] = descriptor
            return True

        def _show_menu_now(self) -> None:
            """Bring the native menu to `self.menu`: changed in place where the shapes allow, else built."""
            wanted = self.menu
            if self._orchestray_built is wanted:
                return
            built, self._orchestray_built = self._orchestray_built, wanted
            handle = getattr(self, "_menu_handle", None)
            spare = None
            if built is not None and wanted and handle is not None:
                try:
                    if self._lay_over(handle, wanted):
                        return
                    spare = handle  # another shape (a project came or went): its unchanged rows move over
                except Exception:  # noqa: BLE001 - a menu is always shown; the log says why it was rebuilt
                    log.exception("changing the menu in place failed; building it again")
            self._menu_handle = self._create_menu(wanted, spare=spare)
            if indicator:
                self._menu_handle = self._menu_handle or self._create_default_menu()
                self._appindicator.set_menu(self._menu_handle)

        def _update_menu(self) -> None:
            def build() -> bool:
                self._show_menu_now()
                return False  # run once

            GLib.idle_add(build)

        if before_open is not None and not indicator:

            def _on_status_icon_popup_menu(self, status_icon: Any, button: Any, activate_time: Any) -> None:
                try:
                    before_open()
                except Exception:  # noqa: BLE001 - the menu still opens, with what it had
                    log.exception("refreshing the menu as it opens failed")
                self._show_menu_now()
                handle = self._menu_handle
                if lazy and handle is not None and not getattr(handle, "_orchestray_watched", False):
                    handle._orchestray_watched = True
                    for signal in ("deactivate", "selection-done"):
                        handle.connect(signal, lambda _menu: self._close_later())
                base._on_status_icon_popup_menu(self, status_icon, button, activate_time)
                if lazy and (handle is None or not handle.get_visible()):
                    self._close_later()  # not popped up (another grab held the pointer): nothing to keep

        if lazy:

            def _close_later(self) -> None:
                """The menu went down: say so at once (so that the handler of a picked item, which GTK runs
                right after it deactivated the menu, builds no menu again), drop it after this turn of the loop
                (that handler still needs its widget)."""
                if self._orchestray_closing:
                    return
                self._orchestray_closing = True
                try:
                    if after_close is not None:
                        after_close()  # from now on the view hands over no menu
                except Exception:  # noqa: BLE001 - the tray keeps running; the log has the detail
                    log.exception("letting the closed menu go failed")
                GLib.idle_add(self._drop_closed_menu)

            def _drop_closed_menu(self) -> bool:
                """Destroy the closed menu's widgets and let the pystray menu go."""
                self._orchestray_closing = False
                handle = self._menu_handle
                if handle is not None and handle.get_visible():
                    return False  # opened again meanwhile: its own closing drops it
                self._menu_handle, self._orchestray_built, self._menu = None, None, None
                if handle is not None:
                    _forget(handle)
                    handle.destroy()
                hand_back()
                return False  # run once

    def _initialize(self: Any) -> None:
        """pystray's, except that a session bus it cannot reach (none running and no ``dbus-launch`` to start
        one: a bare X session, WSLg) leaves out pystray's own notifier instead of stopping the tray, whose
        setup thread would then wait forever. Orchestray never notifies through that notifier: the chain in
        ``tray/platform/notify.py`` makes its own D-Bus call and falls through to the next backend."""
        try:
            base._initialize(self)
        except Exception as error:  # noqa: BLE001 - GLib.Error from Gio.bus_get_sync
            log.warning("pystray's notifier needs a session bus and there is none (%s); the tray runs without it",
                        " ".join(str(getattr(error, "message", error)).split())[:200])
            self._notifier = _NoNotifier()
            self._mark_ready()

    OrchestrayGtkIcon._initialize = _initialize
    OrchestrayGtkIcon.__name__ = OrchestrayGtkIcon.__qualname__ = "OrchestrayGtkIcon"
    OrchestrayGtkIcon.__module__ = base.__module__  # `backend` still names pystray's backend
    return OrchestrayGtkIcon


SEPARATOR = "separator"


def _forget(menu: Any) -> None:
    """Break the links from Python to a native menu's widgets (the records kept beside each (sub)menu and the
    holders of their items' actions), so that destroying it frees the widgets and their Python wrappers."""
    for item in getattr(menu, "_orchestray_shown", None) or ():
        if item.submenu is not None:
            _forget(item.submenu)
        if item.holder is not None:
            item.holder[:] = [None]
        item.widget = item.submenu = item.descriptor = None
    menu._orchestray_shown = None


class _NoNotifier:
    """Stands in for pystray's D-Bus notifier when there is no session bus: shows nothing."""

    def notify(self, *_args: Any) -> None:
        return None

    def hide(self) -> None:
        return None


class _Shown:
    """What one native item shows now, kept in Python: comparing with it costs no call into GTK."""

    __slots__ = ("widget", "descriptor", "kind", "text", "enabled", "checked", "holder", "submenu")

    def __init__(self, widget: Any, descriptor: Any, kind: Any) -> None:
        self.widget = widget
        self.descriptor = descriptor  # pystray items and menus are not changed once made: the same one, the same look
        self.kind = kind
        separator = kind == SEPARATOR
        self.text = None if separator else descriptor.text
        self.enabled = None if separator else descriptor.enabled
        self.checked = None if separator else descriptor.checked
        self.holder = getattr(widget, "_orchestray_holder", None)
        self.submenu = widget.get_submenu() if not separator and descriptor.submenu else None
