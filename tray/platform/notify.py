"""Desktop notifications through a chain of backends: the first that delivers wins, failures are logged.

Why a chain: no single backend works everywhere. The tray puts ``desktop-notifier`` first, the only notifier that
shows buttons and reports clicks (:mod:`tray.platform.notify_buttons`); where it cannot run, the chain built here
shows the text, which says the action in words. The tray backend's own way is best where it works (Windows:
``icon.notify``, a balloon/toast on our own icon; Linux gtk/appindicator: the D-Bus call pystray makes, made
synchronously here so failures are seen), ``notify-send`` covers Linux desktops where pystray runs without
GTK, plyer is the last resort, and macOS gets ``osascript`` (plyer's macOS backend
needs pyobjus and an app bundle, and pystray's crashes on a missing title).
See docs/decisions.md, "Notifications go through a chain".

Every notifier here never raises and returns True only when it handed the text to something that shows it.
Texts pass through :func:`safe_text` first: they carry session ids and folder names that anyone can choose,
and backends cap lengths (Windows: 63/255 UTF-16 units) or misparse control characters.

No pystray import here: the icon is passed in, so this module imports on a headless machine too.
One module of about 400 lines because the backends and the chain that orders them share one set of text
rules (what a notice may carry, and what of a failure may be logged) and are read together.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

# safe_text lives with the other text helpers (the tray's tooltip uses it without loading the notifiers).
from tray.core.fmt import ELLIPSIS, safe_text  # noqa: F401 - ELLIPSIS: part of this module's API
from tray.platform.opener import child_env

__all__ = [
    "APP_NAME",
    "TITLE_LIMIT",
    "BODY_LIMIT",
    "Notifier",
    "Button",
    "PystrayNotifier",
    "NotifySendNotifier",
    "OsascriptNotifier",
    "PlyerNotifier",
    "ChainNotifier",
    "build_chain",
    "safe_text",
    "osascript_script",
    "dbus_notify",
]

log = logging.getLogger("orchestray.notify")

APP_NAME = "Orchestray"
#: Windows' NOTIFYICONDATAW has szInfoTitle WCHAR[64] and szInfo WCHAR[256] (one unit for the NUL).
TITLE_LIMIT = 63
BODY_LIMIT = 255
#: Seconds a notification helper process may take (a hung daemon must not stall the tray's worker).
SUBPROCESS_TIMEOUT = 5.0
#: Milliseconds a D-Bus Notify call may take (it may first have to start the notification daemon).
DBUS_TIMEOUT_MS = 5000

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


class Notifier(Protocol):
    """One way of showing a notification. ``notify`` never raises; True means delivered."""

    name: str

    def notify(self, title: str, body: str) -> bool: ...


@dataclass(frozen=True)
class Button:
    """A notification button: its text and what a press does (run on a worker thread, never on a UI loop).

    Also what a click on the notice's body does (``on_click``): calling a Button runs it, and its label is the
    name of that click where a server shows one (dunst lists it in its context menu).
    """

    label: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


def _clean(title: object, body: object) -> Tuple[str, str]:
    """Title and body capped; the title is never empty (osascript and pystray need one)."""
    return safe_text(title, TITLE_LIMIT) or APP_NAME, safe_text(body, BODY_LIMIT)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


QUOTE_WINDOW = 16  # characters of a notice's body that, found in a failure reason, mean the reason quotes it


def _unquoted(reason: str, body: str) -> str:
    """`reason` as the log may have it: without the notice's text, which may hold the user's last prompt.

    A notifier's error can echo its arguments (a D-Bus error, osascript's message, a third-party exception), and
    no prompt goes into a log. A reason sharing any QUOTE_WINDOW characters with the body keeps only what
    failed (the part before its first ": "); bodies shorter than that carry no prompt.
    """
    text, flat = " ".join(body.split()), " ".join(reason.split())
    windows = range(len(text) - QUOTE_WINDOW + 1)
    if any(text[start : start + QUOTE_WINDOW] in flat for start in windows):
        return reason.split(": ", 1)[0] + " (its message quotes the notice; not logged)"
    return reason


class _Base:
    """Shared bookkeeping: the reason of the last failure, for the chain's log line."""

    name = "base"

    def __init__(self) -> None:
        self.last_error = ""

    def _fail(self, reason: str) -> bool:
        self.last_error = reason
        return False

    def _run(self, run: Runner, argv: List[str], env: Dict[str, str]) -> bool:
        """Run a helper without a shell and under a timeout; True when it exits 0."""
        try:
            done = run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=SUBPROCESS_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return self._fail(f"{argv[0]} did not finish within {SUBPROCESS_TIMEOUT:g} s")
        except Exception as error:  # noqa: BLE001 - OSError and anything else: report, never raise
            return self._fail(_describe(error))
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace") if isinstance(done.stderr, bytes) else done.stderr
            detail = " ".join((stderr or "").split())[:200]
            return self._fail(f"{os.path.basename(argv[0])} exited {done.returncode}: {detail}".rstrip(": "))
        self.last_error = ""
        return True


def dbus_notify(title: str, body: str) -> None:
    """Send one notification over the session bus (org.freedesktop.Notifications) and wait for its id.

    This is the D-Bus call pystray's gtk/appindicator backends make, done synchronously here, because theirs
    (pystray 0.19.5 ``_util/notify_dbus.py``) is queued on the GTK main loop with every error swallowed, so a
    dead bus or a missing daemon would count as delivered; it also passes the previous id as
    ``replaces_id``, so a second event replaces the first on screen (an "orchestrator died" followed by
    "no orchestrator" in the same poll would show only the second); and its app name is empty.
    Raises on any failure (``GLib.Error``, or ``ImportError`` without PyGObject).
    """
    from gi.repository import Gio, GLib  # present whenever pystray runs its gtk/appindicator backend

    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    bus.call_sync(
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications",
        "Notify",
        GLib.Variant("(susssasa{sv}i)", (APP_NAME, 0, "", title, body, [], {}, -1)),
        GLib.VariantType.new("(u)"),
        Gio.DBusCallFlags.NONE,
        DBUS_TIMEOUT_MS,
        None,
    )


def _uses_pystray_dbus(icon: Any) -> bool:
    return (type(icon).__module__ or "").endswith(("._gtk", "._appindicator"))


class PystrayNotifier(_Base):
    """Notifications the way pystray's backend shows them, attached to our own tray icon.

    Windows (and any other backend): ``icon.notify(body, title)``, a NIF_INFO balloon/toast on our icon.
    Linux gtk/appindicator: the same D-Bus ``Notify`` call pystray would make, but synchronous, see
    :func:`dbus_notify` for why. ``send`` replaces that call in tests.
    """

    name = "pystray"

    def __init__(self, icon: Any, send: Optional[Callable[[str, str], None]] = None) -> None:
        super().__init__()
        self.icon = icon
        self.send = send if send is not None else (dbus_notify if _uses_pystray_dbus(icon) else None)

    def notify(self, title: str, body: str) -> bool:
        title, body = _clean(title, body)
        if self.icon is None or not getattr(self.icon, "HAS_NOTIFICATION", False):
            return self._fail("the tray backend cannot show notifications")
        try:
            if self.send is not None:
                self.send(title, body)
            else:
                self.icon.notify(body, title)
        except Exception as error:  # noqa: BLE001 - never raise into the tray
            return self._fail(_describe(error))
        self.last_error = ""
        return True


class NotifySendNotifier(_Base):
    """libnotify's ``notify-send`` (Linux and other freedesktop systems)."""

    name = "notify-send"

    def __init__(self, executable: Optional[str] = None, run: Runner = subprocess.run) -> None:
        super().__init__()
        self.executable = executable or shutil.which("notify-send")
        self._run_impl = run

    def argv(self, title: str, body: str) -> List[str]:
        """``--`` ends the options, so a title starting with ``-`` is not read as one.

        notify-send runs the body (not the summary) through ``g_strcompress``, which eats backslashes
        (``\\x`` -> ``x``, ``\\101`` -> ``A``), so the body's backslashes are doubled to arrive as sent.
        """
        title, body = _clean(title, body)
        body = body.replace("\\", "\\\\")
        return [self.executable or "notify-send", f"--app-name={APP_NAME}", "--", title, body]

    def notify(self, title: str, body: str) -> bool:
        if not self.executable:
            return self._fail("notify-send not found on PATH")
        # A frozen build's LD_LIBRARY_PATH points at bundled libraries that would break the system binary.
        return self._run(self._run_impl, self.argv(title, body), child_env())


def _applescript_string(text: str) -> str:
    """An AppleScript string literal: backslashes first, then double quotes, are escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def osascript_script(title: str, body: str) -> str:
    """The AppleScript that shows a notification; the title is always set (never ``None``)."""
    title, body = _clean(title, body)
    return f"display notification {_applescript_string(body)} with title {_applescript_string(title)}"


class OsascriptNotifier(_Base):
    """macOS ``osascript -e 'display notification ...'`` (shown as coming from Script Editor)."""

    name = "osascript"

    def __init__(self, executable: str = "/usr/bin/osascript", run: Runner = subprocess.run) -> None:
        super().__init__()
        self.executable = executable
        self._run_impl = run

    def argv(self, title: str, body: str) -> List[str]:
        return [self.executable, "-e", osascript_script(title, body)]

    def notify(self, title: str, body: str) -> bool:
        return self._run(self._run_impl, self.argv(title, body), child_env())


def _gvariant_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class PlyerNotifier(_Base):
    """plyer's notification facade, the last resort; imported only when first used."""

    name = "plyer"

    def __init__(self, platform: str = sys.platform, in_flatpak: Optional[bool] = None) -> None:
        super().__init__()
        self.platform = platform
        # plyer's Flatpak portal branch (chosen when /app exists) pastes the texts into GVariant text
        # between single quotes, so a quote in a folder name would break it: escape for that branch only.
        self.in_flatpak = os.path.isdir("/app") if in_flatpak is None else in_flatpak

    def notify(self, title: str, body: str) -> bool:
        title, body = _clean(title, body)
        if self.platform.startswith("linux") and self.in_flatpak:
            title, body = _gvariant_escape(title), _gvariant_escape(body)
        try:
            from plyer import notification

            notification.notify(title=title, message=body, app_name=APP_NAME, timeout=10)
        except Exception as error:  # noqa: BLE001 - plyer raises anything: NotImplementedError, DBusException...
            return self._fail(_describe(error))
        self.last_error = ""
        return True


class ChainNotifier:
    """Tries each notifier in order until one delivers; logs each failure and which backend works."""

    name = "chain"

    def __init__(self, chain: Sequence[Notifier], logger: Optional[logging.Logger] = None) -> None:
        self.chain = list(chain)
        self.log = logger or log
        #: Name of the notifier that delivered last, or None before the first delivery.
        self.working: Optional[str] = None

    @property
    def names(self) -> List[str]:
        return [notifier.name for notifier in self.chain]

    def warm_up(self) -> None:
        """Let each notifier that has costs to pay up front start paying them (``warm_up`` returns at once)."""
        for notifier in self.chain:
            warm = getattr(notifier, "warm_up", None)
            if warm is not None:
                warm()

    def close(self) -> None:
        for notifier in self.chain:
            close = getattr(notifier, "close", None)
            if close is not None:
                close()

    def notify(
        self,
        title: str,
        body: str,
        buttons: Sequence[Button] = (),
        on_click: Optional[Callable[[], None]] = None,
    ) -> bool:
        """Show the notice with the first notifier that delivers; only interactive ones get the buttons."""
        title, body = _clean(title, body)
        failed: List[str] = []
        for notifier in self.chain:
            try:
                if getattr(notifier, "interactive", False):
                    delivered = bool(notifier.notify(title, body, buttons=buttons,  # type: ignore[call-arg]
                                                     on_click=on_click))
                else:
                    delivered = bool(notifier.notify(title, body))
                reason = "" if delivered else (getattr(notifier, "last_error", "") or "returned False")
            except Exception as error:  # noqa: BLE001 - a third-party notifier may break its promise
                delivered, reason = False, _describe(error)
            if delivered:
                if notifier.name != self.working:
                    self.log.info("notifications are delivered by %s", notifier.name)
                    self.working = notifier.name
                return True
            self.log.warning("notification backend %s failed: %s", notifier.name, _unquoted(reason, body))
            failed.append(notifier.name)
        if not self.chain:
            self.log.warning("notification not shown: no notification backend on this system")
        else:
            self.log.warning("notification not shown: every backend failed (%s)", ", ".join(failed))
        self.working = None
        return False


def build_chain(
    platform: str = sys.platform,
    icon: Any = None,
    which: Callable[[str], Optional[str]] = shutil.which,
) -> List[Notifier]:
    """The notifiers for ``platform``, best first (docs/decisions.md, "Notifications go through a chain").

    Windows: pystray (our own icon), then plyer. macOS: osascript only (plyer's backend does not work
    unbundled). Linux and other Unixes: pystray's D-Bus notify, then notify-send if installed, then plyer.
    pystray is included only when the icon's backend can notify (``HAS_NOTIFICATION``).
    """
    chain: List[Notifier] = []
    icon_can_notify = icon is not None and bool(getattr(icon, "HAS_NOTIFICATION", False))
    if platform.startswith(("win", "cygwin", "msys")):
        if icon_can_notify:
            chain.append(PystrayNotifier(icon))
        chain.append(PlyerNotifier(platform))
    elif platform == "darwin":
        chain.append(OsascriptNotifier())
    else:
        if icon_can_notify:
            chain.append(PystrayNotifier(icon))
        executable = which("notify-send")
        if executable:
            chain.append(NotifySendNotifier(executable))
        chain.append(PlyerNotifier(platform))
    return chain
