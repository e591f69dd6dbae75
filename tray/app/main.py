"""`orchestray tray`: start the tray, or say in one line why it cannot start.

pystray is imported here and only here, lazily: without a display its import raises (not ImportError), and
the CLI and hooks must never pay for it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, cast

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_CANNOT = 2
GDK_GL_ENV = "GDK_GL"
LINUX_HINT = (
    "install the GTK tray bits: 'sudo apt install gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1' "
    "and 'pip install \"orchestray[linux]\"' (PyGObject)"
)


def _say(message: str) -> None:
    sys.stderr.write(f"orchestray: {message}\n")


def display_problem(platform: str = sys.platform, env: Optional[Mapping[str, str]] = None) -> str:
    """Why no tray can be shown here, or '' when a display seems available."""
    env = os.environ if env is None else env
    unix_desktop = platform.startswith("linux") or "bsd" in platform
    if unix_desktop and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return "no display: the tray needs a graphical session (DISPLAY is not set)"
    return ""


def import_pystray() -> Any:
    """pystray with the backend that fits this desktop, or a one-line reason (as RuntimeError) why it cannot load.

    The choice (StatusNotifierItem or XEmbed, see ``tray.platform.tray_backend``) is logged with its reason.
    pystray reads ``PYSTRAY_BACKEND`` once, at import, so the choice is put there for the import only and the
    user's environment is restored afterwards (programs the tray opens inherit it unchanged).
    """
    from tray.core.log import get_logger, log_exception
    from tray.platform.tray_backend import choose

    log = get_logger("tray")
    choice = choose()
    candidates = choice.candidates()
    if not candidates:
        log.info("tray backend: %s", choice.reason)
        return _import_pystray_as_is()
    saved = os.environ.get("PYSTRAY_BACKEND")
    failures = []
    try:
        for name in candidates:
            os.environ["PYSTRAY_BACKEND"] = name
            try:
                import pystray
            except Exception as error:  # noqa: BLE001 - Xlib raises DisplayNameError, GI raises ValueError...
                log_exception(f"import pystray with backend {name} failed")
                failures.append(f"{name}: {type(error).__name__}: {error}")
                continue
            why = choice.reason if name == choice.backend else f"{choice.backend} did not load ({failures[0]})"
            log.info("tray backend %s: %s", name, why)
            return pystray
    finally:
        if saved is None:
            os.environ.pop("PYSTRAY_BACKEND", None)
        else:
            os.environ["PYSTRAY_BACKEND"] = saved
    raise RuntimeError(f"cannot load the tray library pystray: {'; '.join(failures)}")


@contextlib.contextmanager
def gtk_without_opengl(env: Optional[MutableMapping[str, str]] = None) -> Iterator[None]:
    """``GDK_GL=disable`` while GTK loads (pystray's import), unless the user set GDK_GL themselves.

    GDK probes OpenGL when it starts and maps Mesa's renderer, about 55 MB of a 110 MB tray that never draws
    with OpenGL. GDK reads the variable as it starts, so it is removed again afterwards: programs the tray
    opens (an editor for HANDOVER.md, a terminal) must not inherit it.
    """
    env = os.environ if env is None else env
    if GDK_GL_ENV in env:
        yield
        return
    env[GDK_GL_ENV] = "disable"
    try:
        yield
    finally:
        env.pop(GDK_GL_ENV, None)


def _import_pystray_as_is() -> Any:
    try:
        import pystray
    except Exception as error:  # noqa: BLE001 - Xlib raises DisplayNameError, GI raises ValueError...
        from tray.core.log import log_exception

        log_exception("import pystray failed")
        raise RuntimeError(f"cannot load the tray library pystray: {type(error).__name__}: {error}") from None
    return pystray


#: Modules the tray never uses but would load through others' imports: asyncio (desktop-notifier's loop)
#: imports ssl, which maps libcrypto (about 4 MB resident) for connections the tray never makes; Pillow's
#: ImageDraw (the icon's shapes) imports ImageFont, which loads `_imagingft`, Pillow's own FreeType, HarfBuzz
#: and Brotli (about 1.4 MB resident), although the icon draws no text with a font (its badge digits are
#: pixels). A None in sys.modules makes `import ssl` raise ImportError, which asyncio and the standard library
#: handle; ImageFont handles it as a Pillow built without FreeType does (bitmap fonts only).
UNUSED_AT_REST = ("ssl", "PIL._imagingft")
#: ... and, but on Windows, the image formats Pillow loads with PNG whenever an image is saved (pystray saves the
#: icon as PNG for GTK, AppIndicator and macOS): BMP, GIF, JPEG and PPM, about 0.3 MB of Python objects for
#: files the tray never reads or writes. Pillow loads them in `try ... except ImportError`, and goes on with PNG.
#: On Windows pystray saves the icon as ICO, and Pillow's ICO plugin needs the BMP one.
UNUSED_IMAGE_FORMATS = ("PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin", "PIL.PpmImagePlugin")


def keep_unused_modules_out(modules: Optional[MutableMapping[str, Any]] = None, platform: str = sys.platform) -> None:
    """In the tray process only: keep what rest does not use from being imported (see UNUSED_AT_REST)."""
    modules = cast("MutableMapping[str, Any]", sys.modules) if modules is None else modules
    unused = UNUSED_AT_REST if platform.startswith(("win", "cygwin", "msys")) else UNUSED_AT_REST + UNUSED_IMAGE_FORMATS
    for name in unused:
        if name not in modules:
            modules[name] = None


def command_line_poll_interval(seconds: float) -> float:
    """`--poll-interval`, held to the range config.json allows (down to 0.2 s, for tests): NaN, inf or 1e308
    would stop the poll loop's timer; NaN gives the default."""
    from tray.app.config import LIMITS, Config

    if seconds != seconds:  # NaN
        return Config().poll_interval
    return min(LIMITS["poll_interval"][1], max(0.2, seconds))


def run_tray(args: argparse.Namespace) -> int:
    from tray.app.config import ConfigStore, state_dir
    from tray.app.single_instance import AlreadyRunning, SingleInstance
    from tray.core.log import TRAY, get_logger, setup_logging
    from tray.core.paths import registry_dir
    from tray.core.registry import Registry

    keep_unused_modules_out()
    log_file = setup_logging(verbose=getattr(args, "verbose", False), role=TRAY)
    log = get_logger("tray")
    problem = display_problem()
    if problem:
        log.error(problem)
        _say(problem)
        return EXIT_CANNOT
    instance = SingleInstance(state_dir())
    try:
        instance.acquire()
    except AlreadyRunning as running:
        _say(str(running))
        return EXIT_REFUSED
    try:
        try:
            with gtk_without_opengl():
                pystray = import_pystray()
        except RuntimeError as error:
            _say(f"{error}" + (f"; {LINUX_HINT}" if sys.platform.startswith("linux") else ""))
            return EXIT_CANNOT
        registry = Registry(registry_dir(getattr(args, "registry_dir", None)))
        registry.check_modes()
        return _run(args, pystray, registry, log, log_file, ConfigStore())
    finally:
        instance.release()


def _hook_problems() -> List[str]:
    """One line per installed Claude Code hook that does not really run (see ``tray/hooks/status.py``). Only
    the check's modules are loaded: installing (settings.py, its backups, the shim) waits for "Repair"."""
    from tray.hooks.status import hooks_problems

    return hooks_problems()


def _after_the_first_menu() -> None:
    """Once the first look is shown (GTK builds a first menu, where one is built ahead, from its idle queue, so
    this waits behind it there), hand the start-up's freed C memory back (`tray/platform/memory.py`)."""
    from tray.platform.memory import release_free_memory

    if sys.platform.startswith("linux"):
        try:
            from gi.repository import GLib  # pystray's GTK backends run GLib's loop
        except ImportError:
            release_free_memory()
            return
        GLib.idle_add(lambda: bool(release_free_memory()) and False)
    else:
        release_free_memory()


def _hooks_stamp() -> object:
    """What changes when Claude Code's settings file does: its stat identity, and its target's if it is a link
    (one `stat` each, never a read: a FIFO there cannot block). The tray checks its hooks again on a change."""
    from tray.core.paths import settings_path
    from tray.core.readcache import identity

    path = settings_path()
    stamps: List[object] = []
    for follow in (False, True):
        try:
            stamps.append(identity(os.stat(path, follow_symlinks=follow)))
        except (OSError, ValueError):
            stamps.append(None)
    return tuple(stamps)


def _repair_hooks() -> None:
    """What ``orchestray hooks install`` does, from this Orchestray."""
    from tray.hooks.settings import claude_code_version, events_for, form_for, install

    version = claude_code_version()  # the form and the events this Claude Code knows, as the CLI does
    install(form=form_for(version), events=events_for(version))


class AutostartOnFirstUse:
    """The login item, with `tray/platform/autostart.py` (and configparser, about 0.25 MB) loaded when the menu
    first asks whether it is on, not at rest. `enable` writes the command that starts this very tray."""

    def __init__(self) -> None:
        self._backend: Any = None

    def _get(self) -> Any:
        if self._backend is None:
            from tray.platform import autostart

            self._backend = autostart.for_platform()
        return self._backend

    def enable(self, command: List[str]) -> None:
        from tray.platform import autostart
        from tray.platform.launch import tray_executable

        self._get().enable(command or autostart.launch_command(executable=tray_executable()))

    def disable(self) -> None:
        self._get().disable()

    def is_enabled(self) -> bool:
        return bool(self._get().is_enabled())


class NotifierOnFirstUse:
    """The notifiers, built at the first notice (the modules of the chain and of desktop-notifier's adapter are
    not loaded at rest; desktop-notifier itself starts at the first notice in any case, which waits for it)."""

    def __init__(self, icon: Any, log: Any) -> None:
        self.icon, self.log = icon, log
        self._chain: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._chain is None:
                from tray.platform.notify import ChainNotifier
                from tray.platform.notify_buttons import tray_chain

                self._chain = ChainNotifier(tray_chain(icon=self.icon))
                self.log.info("notifiers, best first: %s", ", ".join(self._chain.names))
            return self._chain

    def notify(self, title: str, body: str, **actions: Any) -> bool:
        """The chain's `notify`, called as the view calls it (`buttons` and `on_click` only when there are some)."""
        return bool(self._get().notify(title, body, **actions))

    def close(self) -> None:
        with self._lock:
            chain = self._chain
        if chain is not None:
            chain.close()


def _run(args: argparse.Namespace, pystray: Any, registry: Any, log: Any, log_file: str, store: Any) -> int:
    from tray.app.controller import TrayController
    from tray.app.pystray_view import PystrayView

    controller = TrayController(
        registry,
        config_store=store,
        autostart=AutostartOnFirstUse(),
        log_path=log_file if os.path.isabs(log_file) else "",
        hooks_check=_hook_problems,
        hooks_repair=_repair_hooks,
        hooks_stamp=_hooks_stamp,
    )
    if getattr(args, "poll_interval", None):
        controller.config.poll_interval = command_line_poll_interval(args.poll_interval)
    view = PystrayView(pystray, controller.perform, before_open=controller.refresh_ages,
                       after_close=controller.menu_closed)
    controller.ages_on_open = view.refreshes_on_open
    controller.menu_on_open = view.builds_menu_on_open  # gtk backend: no menu built while it is closed
    controller.settled = _after_the_first_menu
    if not getattr(view.icon, "HAS_MENU", True):
        message = f"the tray backend '{view.backend}' cannot show menus"
        if sys.platform.startswith("linux"):
            message += f"; {LINUX_HINT}"
        log.error(message)
        _say(message)
        return EXIT_CANNOT
    if sys.platform.startswith("win"):
        from tray.platform.notify_buttons import set_app_user_model_id

        set_app_user_model_id()  # toasts are filed under "Orchestray", the id desktop-notifier registers
    # No warm-up here: desktop-notifier (its asyncio loop, dbus-fast, the D-Bus connection) is about 9 MB
    # resident, and a tray at rest has nothing to say. The chain is built at the first notice, which waits for it.
    view.notifier = NotifierOnFirstUse(view.icon, log)
    controller.view = view
    log.info("tray starting: backend %s, registry %s, poll every %.1fs", view.backend, registry.directory,
             controller.config.poll_interval)

    _install_signal_handlers(controller)
    try:
        view.run(on_ready=controller.start)
    except Exception as error:  # noqa: BLE001
        log.exception("tray stopped on an error")
        _say(f"the tray stopped: {error} (details in {log_file})")
        return EXIT_CANNOT
    finally:
        controller.stopping.set()
    log.info("tray stopped")
    return EXIT_OK


def _install_signal_handlers(controller: Any) -> None:
    """SIGTERM/SIGINT end the tray cleanly (GTK's main loop would otherwise swallow them)."""
    import signal

    def handler(signum: int, _frame: Any) -> None:
        controller.stop()

    for name in ("SIGTERM", "SIGINT"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), handler)
            except (ValueError, OSError):
                pass
    if sys.platform.startswith("linux"):
        try:
            from gi.repository import GLib

            for name in ("SIGTERM", "SIGINT"):
                GLib.unix_signal_add(GLib.PRIORITY_HIGH, getattr(signal, name), lambda: controller.stop() or False)
        except Exception:  # noqa: BLE001 - no GLib: the Python handler above is all we have
            pass
