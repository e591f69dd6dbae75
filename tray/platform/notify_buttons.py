"""Notifications with buttons: ``desktop-notifier`` on an asyncio loop of its own, first in the tray's chain.

Buttons need a notifier that reports clicks back to us; ``desktop-notifier`` (maintained, used by Maestral) does
on all three systems: D-Bus through the pure-Python dbus-fast on Linux, UNUserNotificationCenter on macOS (only
from the signed .app bundle; elsewhere its dummy backend would swallow everything, so it is not used), WinRT
toasts on Windows. Its API is asyncio, so it gets an event loop on a thread of its own and the tray's UI loops
never wait on it; a button's work runs on a thread of its own too. Only the tray uses it (:func:`tray_chain`):
a one-shot command would not live to receive a click. Texts go through :func:`tray.platform.notify.safe_text`.

A click on a notice's body is the Desktop Notifications "default" action. desktop-notifier (6.2) sends it with
an empty label, and servers that list a notice's actions show that as a blank entry (dunst's context menu:
``# (title) [id,default]``), even on notices whose body does nothing. :func:`label_the_click` rewrites just that
pair of the D-Bus ``Notify`` call: the click's own words (the ``on_click`` button's label), or no "default"
action at all when a click does nothing. On servers that list a notice's actions as one menu instead of drawing
buttons (dunst, mako: :data:`MENU_SERVERS`), a button with the very words of the click would be listed twice
("Focus 3e8a6c55" as a button and as the click), so there the button is left out and the click stays. It reaches
into the library's D-Bus backend; where that is not found (another backend, another version) the library's own
call goes out unchanged and the log says so.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import sys
import threading
from typing import Any, Callable, List, Optional, Sequence

from tray.platform.notify import (
    APP_NAME,
    DBUS_TIMEOUT_MS,
    TITLE_LIMIT,
    Button,
    Notifier,
    _Base,
    _clean,
    _describe,
    build_chain,
    safe_text,
)

log = logging.getLogger("orchestray.notify")

#: Seconds the warm-up (import, start the loop, connect, ask the daemon what it can do) may take; a notice that
#: comes meanwhile waits for it at most this long, then is sent (or falls back) as usual.
WARM_UP_TIMEOUT = 15.0

#: The "default" action's key (Desktop Notifications spec): the one a click on the notice's body invokes.
DEFAULT_ACTION = "default"
#: What a click on the body is called when ``on_click`` is a bare callable rather than a :class:`Button`.
CLICK_LABEL = "Show"
#: Notification servers (their ``GetServerInformation`` name) that list a notice's actions, the click's included,
#: in one menu rather than drawing buttons: dunst's context menu, mako's ``makoctl menu``.
MENU_SERVERS = frozenset({"dunst", "mako"})

#: The label of the notice being sent, or None when its body does nothing; set in the task that sends it, read by
#: the wrapped D-Bus ``Notify`` call inside the same task (concurrent sends each have their own).
_click_label: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("orchestray_click_label", default=None)

#: Windows: the AppUserModelID toasts are filed under. desktop-notifier uses its app name as the id (and registers
#: it under HKCU\\Software\\Classes\\AppUserModelId), so the process sets the same one for itself.
APP_USER_MODEL_ID = APP_NAME


def _run_detached(what: str, callback: Callable[[], None]) -> None:
    """Run a button's callback on a thread of its own: it may take the registry lock, spawn tmux, talk to X."""

    def guarded() -> None:
        try:
            callback()
        except Exception:  # noqa: BLE001 - a button must never take the notifier down
            log.exception("notification action %s failed", what)

    threading.Thread(target=guarded, name="orchestray-notice-action", daemon=True).start()


def _detached(what: str, callback: Callable[[], None]) -> Callable[[], None]:
    """What the library calls on its loop thread: hand the real work to a thread of its own."""
    return lambda: _run_detached(what, callback)


def with_click_label(actions: Sequence[str], label: Optional[str], menu_server: bool = False) -> List[str]:
    """The ``actions`` of a D-Bus ``Notify`` call (key, label, key, label, ...) with the "default" pair labelled
    ``label``, or dropped when ``label`` is None (a body that does nothing offers nothing). Other pairs stay,
    except on a ``menu_server`` (one that lists the click beside the buttons): there a button with the click's
    own words does what the click does, and is left out so that the menu names it once."""
    clicks = label is not None and any(actions[i] == DEFAULT_ACTION for i in range(0, len(actions) - 1, 2))
    out: List[str] = []
    for index in range(0, len(actions) - 1, 2):
        key, text = actions[index], actions[index + 1]
        if key == DEFAULT_ACTION:
            if label is None:
                continue
            text = label
        elif menu_server and clicks and text == label:
            continue
        out += [key, text]
    return out


def label_the_click(library: Any) -> bool:
    """Make ``library`` (a ``DesktopNotifier``) label the click in its D-Bus ``Notify`` calls (see the module's
    docstring). Wraps its D-Bus backend's ``_init_dbus`` so that the proxy it makes gets a ``call_notify`` that
    passes the actions through :func:`with_click_label`. True when the D-Bus backend was found and wrapped."""
    backend: Any = getattr(library, "_backend", None)
    init = getattr(backend, "_init_dbus", None)
    if init is None or getattr(backend, "interface", None) is not None:
        return False

    async def init_labelled() -> Any:
        interface = await init()
        notify = getattr(interface, "call_notify", None)
        if notify is None:
            log.info("desktop-notifier's D-Bus proxy has no call_notify: clicks go out unlabelled")
            return interface
        server = await _server_name(interface)
        menu_server = server in MENU_SERVERS
        if menu_server:
            log.info("the notification server %s lists a notice's actions in a menu: a button that does what a "
                     "click does is named once", server)

        async def call_notify(app_name: str, replaces_id: int, icon: str, summary: str, body: str,
                              actions: List[str], *rest: Any, **options: Any) -> Any:
            return await notify(app_name, replaces_id, icon, summary, body,
                                with_click_label(actions, _click_label.get(), menu_server), *rest, **options)

        interface.call_notify = call_notify
        return interface

    backend._init_dbus = init_labelled
    return True


async def _server_name(interface: Any) -> str:
    """The notification server's name (``GetServerInformation``), or "" when it cannot be asked."""
    ask = getattr(interface, "call_get_server_information", None)
    if ask is None:
        return ""
    try:
        info = await ask()
        return str(info[0]) if info else ""
    except Exception as error:  # noqa: BLE001 - an odd server: its actions go out as they are
        log.info("cannot ask the notification server its name: %s", _describe(error))
        return ""


class _LastWarning(logging.Handler):
    """Keeps desktop-notifier's own failure reports (it logs them instead of raising) for our one-line reason."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text}: {_describe(record.exc_info[1])}"
        self.message = text


class DesktopNotifierNotifier(_Base):
    """``desktop-notifier`` on an asyncio loop of its own (thread ``orchestray-notify``), with buttons and clicks.

    The loop starts on first use and lives as long as the tray: on Linux it holds the D-Bus connection on which
    ``ActionInvoked`` arrives, so a click is seen however long after the send it comes. ``notify`` waits for
    the send itself (at most ``timeout`` seconds, on the caller's thread, which is the poll thread or an action
    thread, never a UI loop). desktop-notifier reports a failed send in its log instead of raising, so delivery
    is judged by its ``on_dispatched`` callback and the reason is taken from its log record.

    ``factory`` builds the library's ``DesktopNotifier`` (tests pass their own); ``platform`` decides whether it
    can run at all: on macOS outside an app bundle the library falls back to a dummy that shows nothing.
    """

    name = "desktop-notifier"
    interactive = True

    def __init__(self, factory: Optional[Callable[[], Any]] = None, timeout: float = DBUS_TIMEOUT_MS / 1000) -> None:
        super().__init__()
        self.factory = factory
        self.timeout = timeout
        self.backend = ""
        self._loop: Any = None
        self._thread: Optional[threading.Thread] = None
        self._notifier: Any = None
        self._unavailable = ""
        self._start_lock = threading.Lock()
        self._warnings = _LastWarning()
        self._warming: Optional[threading.Event] = None

    # --- the loop ---------------------------------------------------------------------------------------

    def _start(self) -> bool:
        with self._start_lock:
            if self._notifier is not None:
                return True
            if self._unavailable:
                return False
            import asyncio

            loop: Any = None
            thread: Optional[threading.Thread] = None
            try:
                factory = self.factory or _default_desktop_notifier
                library_log = logging.getLogger("desktop_notifier")
                if self._warnings not in library_log.handlers:
                    library_log.addHandler(self._warnings)
                library_log.propagate = False  # its tracebacks would go to stderr; the reason goes to our log
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()
                    loop.close()

                thread = threading.Thread(target=serve, name="orchestray-notify", daemon=True)
                thread.start()
                if not ready.wait(self.timeout):
                    raise RuntimeError("its event loop did not start")

                async def build() -> Any:
                    return factory()

                notifier = asyncio.run_coroutine_threadsafe(build(), loop).result(self.timeout)
                backend = type(getattr(notifier, "_backend", notifier)).__name__
                if backend == "DBusDesktopNotifier" and not label_the_click(notifier):
                    log.info("desktop-notifier's D-Bus backend has changed: clicks go out unlabelled")
                if "Dummy" in backend:
                    reason = "no native backend here"
                    if sys.platform == "darwin":
                        reason = "macOS shows its notifications only from the signed Orchestray.app bundle"
                    raise RuntimeError(reason)
            except Exception as error:  # noqa: BLE001 - ImportError, RuntimeError from WinRT, ...
                if loop is not None:
                    loop.call_soon_threadsafe(loop.stop)  # no thread left behind
                    if thread is not None:
                        thread.join(self.timeout)
                self._unavailable = str(error) if type(error) is RuntimeError else _describe(error)
                log.info("desktop-notifier cannot run here: %s", self._unavailable)
                return False
            self._loop, self._thread, self._notifier, self.backend = loop, thread, notifier, backend
            log.info("desktop-notifier runs with its %s backend", backend)
            return True

    def warm_up(self) -> None:
        """Pay the first send's costs now, on a thread of its own: import, start the loop, connect to the bus,
        ask the daemon for its capabilities. A first notice is then not held up by them (on a busy machine they
        took seconds); one that comes meanwhile waits for the warm-up rather than racing it. Returns at once."""
        warming = threading.Event()
        self._warming = warming
        threading.Thread(target=self._warm, args=(warming,), name="orchestray-notify-warm-up", daemon=True).start()

    def _warm(self, warming: threading.Event) -> None:
        try:
            if not self._start():
                return
            import asyncio

            async def connect() -> None:
                await self._notifier.get_capabilities()

            asyncio.run_coroutine_threadsafe(connect(), self._loop).result(WARM_UP_TIMEOUT)
            log.info("desktop-notifier is connected")
        except Exception as error:  # noqa: BLE001 - e.g. no daemon yet: the first send tries again
            log.info("desktop-notifier warm-up: %s", _describe(error) or "no answer")
        finally:
            warming.set()

    def close(self) -> None:
        """Stop the loop (the tray is quitting); safe to call more than once."""
        logging.getLogger("desktop_notifier").removeHandler(self._warnings)
        loop, self._loop = self._loop, None
        self._notifier = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(self.timeout)

    # --- sending ----------------------------------------------------------------------------------------

    def notify(
        self,
        title: str,
        body: str,
        buttons: Sequence[Button] = (),
        on_click: Optional[Callable[[], None]] = None,
    ) -> bool:
        """Send with ``buttons``; ``on_click`` runs on a click on the body, named by its label when it is a
        :class:`Button` (else :data:`CLICK_LABEL`); without it the notice offers no click at all."""
        title, body = _clean(title, body)
        if self._warming is not None:
            self._warming.wait(WARM_UP_TIMEOUT)
        if not self._start():
            return self._fail(self._unavailable)
        import asyncio

        from desktop_notifier import Button as LibraryButton

        dispatched = threading.Event()
        library_buttons = [
            LibraryButton(title=safe_text(button.label, TITLE_LIMIT), on_pressed=_detached(button.label, button.run))
            for button in buttons
        ]
        clicked = _detached("click", on_click) if on_click is not None else None
        click_label = None  # the body does nothing: no "default" action is offered
        if on_click is not None:
            click_label = safe_text(getattr(on_click, "label", ""), TITLE_LIMIT) or CLICK_LABEL
        self._warnings.message = ""

        async def send() -> None:
            _click_label.set(click_label)  # this task's own: read by the wrapped Notify call (label_the_click)
            await self._notifier.send(title=title, message=body, buttons=library_buttons, on_clicked=clicked,
                                      on_dispatched=dispatched.set)

        future = asyncio.run_coroutine_threadsafe(send(), self._loop)
        try:
            future.result(self.timeout)
        except concurrent.futures.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
            future.cancel()
            return self._fail(f"no answer within {self.timeout:g} s")
        except Exception as error:  # noqa: BLE001 - whatever the library let through
            return self._fail(_describe(error))
        if not dispatched.is_set():
            return self._fail(self._warnings.message or "the notification was not dispatched")
        self.last_error = ""
        return True


def _default_desktop_notifier() -> Any:
    from desktop_notifier import DesktopNotifier

    return DesktopNotifier(app_name=APP_NAME, app_icon=None)


def set_app_user_model_id(shell32: Any = None, platform: str = sys.platform) -> bool:
    """Windows: file this process's toasts (and taskbar entries) under :data:`APP_USER_MODEL_ID`.

    Without it a frozen ``OrchestrayTray.exe`` gets an id derived from its path, and the toasts desktop-notifier
    sends under "Orchestray" would not be recognised as ours when clicked. ``shell32`` is a ctypes boundary that
    tests replace. Returns True when the id was set.
    """
    if not platform.startswith("win"):
        return False
    try:
        if shell32 is None:  # pragma: no cover - Windows only
            import ctypes

            shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
        return int(shell32.SetCurrentProcessExplicitAppUserModelID(APP_USER_MODEL_ID)) == 0  # S_OK
    except Exception as error:  # noqa: BLE001
        log.warning("cannot set the AppUserModelID: %s", _describe(error))
        return False


def tray_chain(platform: str = sys.platform, icon: Any = None) -> List[Notifier]:
    """The tray's notifiers, best first: desktop-notifier (buttons), then :func:`build_chain`'s fallbacks."""
    return [DesktopNotifierNotifier(), *build_chain(platform=platform, icon=icon)]
