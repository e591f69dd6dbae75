"""Which pystray backend fits this Linux desktop: StatusNotifierItem (``appindicator``) or XEmbed (``gtk``).

Why: pystray tries ``appindicator`` first. GNOME (with the AppIndicator extension), KDE and Ubuntu host tray
icons through StatusNotifierItem (SNI) over D-Bus, and there ``appindicator`` is right. On an XEmbed-only host
(XFCE or MATE panels without the SNI plugin, i3 or another WM with trayer or stalonetray) libayatana-appindicator
finds no StatusNotifierWatcher, falls back to its own ``Gtk.StatusIcon`` and GTK prints
``Gdk-CRITICAL ... gdk_window_thaw_toplevel_updates`` at every start; pystray's own ``gtk`` backend is the
plain XEmbed icon and prints nothing. So the tray asks the session bus once, at start, which kind of host is
there, and says in its log which backend it took and why.

How, and why this way:

- ``DBUS_SESSION_BUS_ADDRESS`` unset (or an ``autolaunch:`` address) means "no SNI": connecting anyway would
  make GLib autolaunch a bus through ``dbus-launch`` and leave it running behind the user's back.
- ``org.freedesktop.DBus.NameHasOwner("org.kde.StatusNotifierWatcher")`` is answered by the bus daemon itself;
  unlike a call to the watcher's name it never D-Bus-activates a service. libayatana looks for exactly this name.
- A watcher without a host (its ``IsStatusNotifierHostRegistered`` is false) would register the icon where
  nobody draws it, so it counts as "no SNI" too.
- Gio (PyGObject) and not a hand-written D-Bus client or dbus-python: both GTK backends load Gio anyway, so
  the check adds no dependency and its import is paid for by pystray a moment later. A private connection
  (closed again) leaves GLib's shared session-bus connection to the backend. About 3 ms on a local bus.
- A user who sets ``PYSTRAY_BACKEND`` gets exactly that backend; our choice only orders pystray's candidates.
"""

from __future__ import annotations

import enum
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
#: pystray's Linux backends, in pystray's own order of preference.
LINUX_BACKENDS: Tuple[str, ...] = ("appindicator", "gtk", "xorg")
SNI_BACKEND = "appindicator"
XEMBED_BACKEND = "gtk"
#: How long one D-Bus call of the check may take (a healthy bus answers in about 1 ms).
CALL_TIMEOUT_MS = 500


class Host(enum.Enum):
    """What the session bus says about a StatusNotifierItem host."""

    NO_BUS = "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    NO_WATCHER = "no StatusNotifierWatcher on the session bus"
    NO_HOST = "a StatusNotifierWatcher with no host registered"
    SNI = "a StatusNotifierWatcher with a registered host"
    UNKNOWN = "the session bus could not be asked"


@dataclass(frozen=True)
class Choice:
    """The backend to load (``None``: pystray's default for this OS) and why, for the log."""

    backend: Optional[str]
    reason: str
    user_set: bool = False

    def candidates(self) -> List[str]:
        """Backends to try in order: the chosen one, then pystray's other Linux backends (never with a user's)."""
        if self.backend is None:
            return []
        if self.user_set:
            return [self.backend]
        return [self.backend] + [name for name in LINUX_BACKENDS if name != self.backend]


Probe = Callable[[str], Tuple[Host, str]]


def probe_session_bus(address: str, timeout_ms: int = CALL_TIMEOUT_MS) -> Tuple[Host, str]:
    """Ask the bus at ``address`` whether an SNI watcher with a host is there; never raises.

    Returns the answer and a detail for the log (the error text when the bus could not be asked).
    """
    try:
        from gi.repository import Gio, GLib
    except Exception as error:  # noqa: BLE001 - no PyGObject: the GTK backends cannot load either
        return Host.UNKNOWN, f"no PyGObject ({type(error).__name__}: {error})"
    connection = None
    try:
        flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
        connection = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)

        def call(name: str, path: str, interface: str, method: str, args: Any, reply: str) -> Any:
            result = connection.call_sync(name, path, interface, method, args, GLib.VariantType(reply),
                                          Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
            return result.unpack()[0]

        if not call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                    GLib.Variant("(s)", (WATCHER_NAME,)), "(b)"):
            return Host.NO_WATCHER, ""
        registered = call(WATCHER_NAME, WATCHER_PATH, "org.freedesktop.DBus.Properties", "Get",
                          GLib.Variant("(ss)", (WATCHER_NAME, "IsStatusNotifierHostRegistered")), "(v)")
        return (Host.SNI if registered else Host.NO_HOST), ""
    except Exception as error:  # noqa: BLE001 - GLib.Error (no bus, a hung watcher), a bad address...
        return Host.UNKNOWN, str(getattr(error, "message", error))
    finally:
        if connection is not None:
            try:
                connection.close_sync(None)
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing is left to do
                pass


def choose(env: Optional[Mapping[str, str]] = None, platform: str = sys.platform,
           probe: Probe = probe_session_bus) -> Choice:
    """The backend for this desktop and the reason, from the environment and (on Linux) the session bus."""
    env = os.environ if env is None else env
    user = env.get("PYSTRAY_BACKEND", "").strip()
    if user:
        return Choice(user, "set by the user (PYSTRAY_BACKEND)", user_set=True)
    if not (platform.startswith("linux") or "bsd" in platform):
        return Choice(None, f"pystray's default on {platform}")
    address = env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if not address or address.startswith("autolaunch:"):
        return Choice(XEMBED_BACKEND, f"XEmbed tray: {Host.NO_BUS.value}")
    host, detail = probe(address)
    if host is Host.SNI:
        return Choice(SNI_BACKEND, f"StatusNotifierItem tray: {host.value}")
    reason = f"XEmbed tray: {host.value}" + (f" ({detail})" if detail else "")
    return Choice(XEMBED_BACKEND, reason)
