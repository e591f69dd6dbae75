"""`orchestray self-test [--report FILE] [--notify]`: prove that this install (above all a frozen build) works.

Why: a PyInstaller build can succeed and still miss a module that is only imported at run time (plyer's
platform backends, pystray's tray backends, GTK typelibs); the app then fails on the user's desktop, not in CI.
The self-test imports and resolves what the tray and the hooks will use, on the machine and in the program it
runs in, and writes one JSON report (stdout, or FILE). It changes nothing: no notification is sent unless
``--notify`` is given, no login item or hook is written, no log file is created.

One module past 400 lines because the checks and the report are one contract with CI and the build scripts.

Exit status: 0 when every *required* check passed, 1 otherwise. A check that cannot run here (no display)
is reported with ``"skipped"`` and is then not required, so a headless build machine still gets a verdict on
everything else (the bundled tray backends are checked without a display too, in ``tray_backends_bundled``).

The report (``REPORT_FORMAT`` 1)::

    {"format": 1, "passed": bool, "failed": [names of failed required checks],
     "orchestray": version, "python": ..., "platform": ..., "frozen": bool, "executable": ..., "bundle_dir": ...,
     "versions": {package: version or "missing: ..."},
     "checks": {name: {"ok": bool, "required": bool, "detail": {...}, "error": "...", "skipped": "..."}}}

The layout of the frozen builds (which program runs the tray, the CLI and the hooks) is
``tray/platform/launch.py``'s; the self-test checks that the hook command it gives really runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from tray import __version__
from tray.platform.launch import (  # noqa: F401 - re-exported: the frozen layout, as the report and tests see it
    WINDOWS_CLI_EXE,
    WINDOWS_TRAY_EXE,
    cli_executable,
    is_frozen,
    tray_executable,
)

REPORT_FORMAT = 1

#: Modules that are not part of a run: the hook script of source installs (the frozen program is its own hook
#: command, so packaging leaves it out) and this package's entry module.
_NOT_RUN = ("tray.hook", "tray.__main__")


def own_modules() -> Tuple[str, ...]:
    """Orchestray's own modules the tray, the CLI and the hooks import at run time, derived from the package.

    Checked with find_spec, which does not run them (importing tray.app.controller would set up the log file).
    From a source or pip install the list comes from the files; a frozen build lists what it bundled, and
    packaging bundles every module of the package (``collect_submodules("tray")``).
    """
    import pkgutil

    import tray

    names = [info.name for info in pkgutil.walk_packages(tray.__path__, "tray.")]
    return tuple(sorted(name for name in names if name not in _NOT_RUN))


#: Third-party distributions whose versions the report lists: (distribution, module, version attribute).
#: The distribution's metadata is read first: importing pystray without a display raises.
_VERSIONED = (
    ("pystray", "pystray._info", "__version__"),
    ("Pillow", "PIL", "__version__"),
    ("psutil", "psutil", "__version__"),
    ("platformdirs", "platformdirs", "__version__"),
    ("plyer", "plyer", "__version__"),
)


# --- checks ----------------------------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Check:
    """The outcome of one check; ``run`` fills it from a function that returns details or raises."""

    def __init__(self, name: str, required: bool = True) -> None:
        self.name = name
        self.required = required
        self.ok = False
        self.detail: Dict[str, Any] = {}
        self.error = ""
        self.skipped = ""

    def fail(self, message: str) -> None:
        self.ok = False
        self.error = message

    def as_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"ok": self.ok, "required": self.required, "detail": self.detail}
        if self.error:
            data["error"] = self.error
        if self.skipped:
            data["skipped"] = self.skipped
        return data


def _run(check: Check, body: Callable[[Check], None]) -> Check:
    """Run ``body``; it sets ``ok`` and details. Any exception is the check's error, never the self-test's end."""
    try:
        check.ok = True
        body(check)
    except Exception as error:  # noqa: BLE001 - a self-test reports every failure, it does not stop at one
        check.fail(_describe(error))
    return check


def _versions() -> Dict[str, str]:
    import importlib
    import importlib.metadata

    found: Dict[str, str] = {"orchestray": __version__}
    for label, module, attribute in _VERSIONED:
        try:
            found[label] = importlib.metadata.version(label)
            continue
        except Exception:  # noqa: BLE001 - no metadata (a frozen build without it): ask the module
            pass
        if module.split(".")[0] == "pystray" and "pystray" not in sys.modules:
            found[label] = "unknown (pystray not importable here)"
            continue
        try:
            value = getattr(importlib.import_module(module), attribute, "unknown")
        except Exception as error:  # noqa: BLE001
            found[label] = f"missing: {_describe(error)}"
            continue
        found[label] = ".".join(str(part) for part in value) if isinstance(value, tuple) else str(value)
    return found


def check_modules(check: Check) -> None:
    import importlib
    import importlib.util

    missing: List[str] = []
    modules = own_modules()
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except Exception as error:  # noqa: BLE001
            missing.append(f"{name} ({_describe(error)})")
    for name in ("psutil", "platformdirs", "PIL.Image", "plyer"):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001
            missing.append(f"{name} ({_describe(error)})")
    check.detail["checked"] = len(modules) + 4
    if missing:
        check.detail["missing"] = missing
        check.fail(f"missing modules: {', '.join(missing)}")


def _expected_backends(platform: str) -> List[str]:
    if platform == "win32":
        return ["_win32"]
    if platform == "darwin":
        return ["_darwin"]
    return ["_appindicator", "_gtk", "_xorg"]


def check_tray_backends_bundled(check: Check, platform: str = sys.platform) -> None:
    """pystray's backend modules for this OS (and on Linux the GTK typelib) are there; needs no display."""
    import importlib.util
    import pkgutil

    spec = importlib.util.find_spec("pystray")
    if spec is None or not spec.submodule_search_locations:
        check.fail("pystray is not installed")
        return
    present = sorted(info.name for info in pkgutil.iter_modules(list(spec.submodule_search_locations)))
    check.detail["pystray_modules"] = present
    expected = _expected_backends(platform)
    absent = [name for name in expected if name not in present]
    if absent:
        check.fail(f"pystray backends missing: {', '.join(absent)}")
        return
    if platform.startswith("linux"):
        import gi

        gi.require_version("Gtk", "3.0")  # the typelib, found without a display
        check.detail["gtk_typelib"] = "3.0"
        indicators = []
        for name, version in (("AyatanaAppIndicator3", "0.1"), ("AppIndicator3", "0.1")):
            try:
                gi.require_version(name, version)
                indicators.append(name)
            except (ValueError, ImportError):
                pass
        check.detail["appindicator_typelibs"] = indicators


def check_tray_backend(check: Check, env: Optional[Dict[str, str]] = None) -> Any:
    """Import pystray the way the tray does; returns its Icon class (or None). Without a display: skipped.

    With a display, the backend is chosen as the tray chooses it (``tray.platform.tray_backend``: on Linux
    StatusNotifierItem or XEmbed, asked of the session bus) and the reason is reported.
    """
    from tray.app.main import display_problem, import_pystray
    from tray.platform.tray_backend import choose

    problem = display_problem(env=env)
    check.detail["PYSTRAY_BACKEND"] = os.environ.get("PYSTRAY_BACKEND", "")
    try:
        if problem:
            import pystray
        else:
            check.detail["choice"] = choose().reason
            pystray = import_pystray()
    except Exception as error:  # noqa: BLE001 - DisplayNameError, ValueError from gi, ImportError...
        check.fail(f"cannot import pystray: {_describe(error)}")
        if problem:
            check.required = False
            check.skipped = problem
        return None
    icon_class = pystray.Icon
    check.detail.update(
        backend=icon_class.__module__.rsplit(".", 1)[-1].lstrip("_"),
        module=icon_class.__module__,
        has_menu=bool(getattr(icon_class, "HAS_MENU", False)),
        has_notification=bool(getattr(icon_class, "HAS_NOTIFICATION", False)),
        has_default_action=bool(getattr(icon_class, "HAS_DEFAULT_ACTION", False)),
    )
    if problem:
        check.detail["display_problem"] = problem
    if not check.detail["has_menu"]:
        check.fail(f"the tray backend '{check.detail['backend']}' cannot show menus")
    return icon_class


class _IconStandIn:
    """What ``build_chain`` asks of an icon (``HAS_NOTIFICATION``), without creating a real tray icon."""

    def __init__(self, has_notification: bool) -> None:
        self.HAS_NOTIFICATION = has_notification


def check_notifications(check: Check, icon_class: Any, send: bool, platform: str = sys.platform) -> None:
    from tray.platform.notify import ChainNotifier, build_chain

    icon = _IconStandIn(bool(getattr(icon_class, "HAS_NOTIFICATION", False))) if icon_class is not None else None
    chain = build_chain(platform=platform, icon=icon)
    check.detail["chain"] = [notifier.name for notifier in chain]
    if not chain:
        check.fail("no notification backend on this system")
        return
    if "plyer" in check.detail["chain"]:
        _plyer_backend(check)
    if send:
        # Sent without the tray's icon: pystray's own notify needs a running icon (Windows: a balloon on it).
        sender = ChainNotifier(build_chain(platform=platform, icon=None))
        delivered = sender.notify("Orchestray self-test", "If you can read this, notifications work.")
        check.detail["sent"] = {"delivered": delivered, "by": sender.working, "tried": sender.names}
        if not delivered:
            check.fail("the test notification was not delivered by any backend (details in the log)")


#: desktop-notifier's backend module per OS (it imports it by name inside a function: PyInstaller may miss it).
DESKTOP_NOTIFIER_BACKENDS = {"linux": "dbus", "darwin": "macos", "win32": "winrt"}


def check_desktop_notifier(check: Check, platform: str = sys.platform) -> None:
    """desktop-notifier (notifications with buttons), its data and this OS's backend module load.

    Only imports: nothing is sent and no bus is contacted. Without them the tray still notifies, through the
    fallback chain, but without buttons; a frozen build that misses them fails here rather than on a desktop.
    """
    import importlib

    key = "linux" if platform.startswith("linux") else platform
    names = ["desktop_notifier", "desktop_notifier.resources"]
    backend = DESKTOP_NOTIFIER_BACKENDS.get(key)
    if backend:
        names.append(f"desktop_notifier.backends.{backend}")
    loaded: List[str] = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - ImportError, or a platform library's own error
            check.detail["modules"] = loaded
            check.fail(f"desktop-notifier cannot load {name}: {_describe(error)}")
            return
        loaded.append(name)
    check.detail["modules"] = loaded


def _plyer_backend(check: Check) -> None:
    """plyer's notification module for this OS: the module PyInstaller misses without hidden imports."""
    import importlib

    from plyer.utils import platform as plyer_platform

    name = f"plyer.platforms.{plyer_platform}.notification"
    try:
        module = importlib.import_module(name)
        implementation = module.instance()
    except Exception as error:  # noqa: BLE001
        check.detail["plyer"] = {"module": name, "error": _describe(error)}
        check.fail(f"plyer cannot load {name}: {_describe(error)}")
        return
    check.detail["plyer"] = {"module": name, "implementation": type(implementation).__name__}


def check_dbus(check: Check) -> None:
    """dbus-python with its GLib main loop (plyer's preferred Linux backend); plyer falls back without it."""
    import dbus
    import dbus.mainloop.glib  # noqa: F401

    check.detail["dbus_python"] = getattr(dbus, "__version__", "unknown")


def check_platformdirs(check: Check) -> None:
    import platformdirs

    from tray.app.config import config_dir, state_dir
    from tray.core.log import log_dir

    dirs = {"config": config_dir(), "state": state_dir(), "log": log_dir()}
    check.detail["dirs"] = {
        key: {"path": path, "exists": os.path.isdir(path), "writable": os.access(path, os.W_OK)}
        for key, path in dirs.items()
    }
    check.detail["platformdirs_config"] = platformdirs.user_config_dir("orchestray", appauthor=False)
    bad = [key for key, path in dirs.items() if not path or not os.path.isabs(path)]
    if bad:
        check.fail(f"not absolute: {', '.join(bad)}")


def check_psutil(check: Check) -> None:
    import psutil

    me = psutil.Process(os.getpid())
    created = me.create_time()
    age = time.time() - created
    check.detail.update(pid=me.pid, create_time=created, age_seconds=round(age, 3), name=me.name())
    parent = me.parent()
    if parent is not None:
        check.detail["parent"] = {"pid": parent.pid, "name": parent.name()}
    # This process started moments ago: a wildly wrong age means liveness checks would misjudge PID reuse.
    if not -5.0 <= age <= 3600.0:
        check.fail(f"create_time is {age:.1f} s in the past, expected moments ago")


def check_registry(check: Check, override: Optional[str]) -> None:
    from tray.core.paths import registry_dir

    folder = registry_dir(override)
    check.detail["path"] = folder
    check.detail["exists"] = os.path.exists(folder)
    if not check.detail["exists"]:
        check.detail["note"] = "created by the first registration"
        return
    if not os.path.isdir(folder):
        check.fail(f"{folder} exists and is not a folder")
        return
    entries = [name for name in os.listdir(folder) if name.endswith(".json")]
    check.detail["entries"] = len(entries)
    check.detail["writable"] = os.access(folder, os.W_OK)


def check_hooks(check: Check) -> None:
    """The command ``hooks install`` would write here is one Orchestray recognises, and it really runs."""
    from tray.hooks.invocation import FORM_EXEC, describe, hook_entry, probe
    from tray.platform.launch import hook_prefix

    try:
        prefix = hook_prefix()
    except RuntimeError as error:  # the windowed Windows tray program without its console sibling
        check.fail(str(error))
        return
    check.detail["command_prefix"] = prefix
    entry = hook_entry(prefix, "prompt", FORM_EXEC)
    check.detail["prompt_command"] = describe(entry)
    check.detail["program_exists"] = os.path.isfile(prefix[0]) and os.access(prefix[0], os.X_OK)
    if not check.detail["program_exists"]:
        check.fail(f"{prefix[0]} is not an executable file")
        return
    result = probe(entry, "prompt")
    check.detail["runs"] = result.ok
    if not result.ok:
        check.fail(f"the hook command does not run: {result.problem}")


def check_autostart(check: Check) -> None:
    from tray.platform import autostart

    backend = autostart.for_platform()
    check.detail.update(
        backend=type(backend).__name__,
        location=backend.describe(),
        enabled=backend.is_enabled(),
        command=autostart.launch_command(executable=tray_executable()),
    )


ICON_LIMIT = 4 * 1024 * 1024  # bytes; the packaged icon is a few kB


def check_assets(check: Check) -> None:
    from PIL import Image

    from tray.app.icon import render_icon
    from tray.platform.autostart import default_icon_path

    path = default_icon_path()
    check.detail["app_icon"] = path
    if path is None:
        check.fail("tray/assets/orchestray.png is missing")
        return
    import io

    from tray.core.fsutil import read_regular_file

    # Through the one reader like every file we read: a regular file, never blocking, size-capped.
    with Image.open(io.BytesIO(read_regular_file(path, ICON_LIMIT, follow=True))) as image:
        check.detail["app_icon_size"] = list(image.size)
    rendered = render_icon("ok", 3, size=64)
    check.detail["rendered"] = [rendered.width, rendered.height]


# --- the report ------------------------------------------------------------------------------------------


def build_report(registry_dir: Optional[str] = None, notify: bool = False, platform: str = sys.platform) -> dict:
    """Run every check and return the report (see the module's docstring)."""
    checks: List[Check] = [_run(Check("modules"), check_modules)]
    checks.append(_run(Check("tray_backends_bundled"), lambda c: check_tray_backends_bundled(c, platform)))
    icon_holder: Dict[str, Any] = {}
    checks.append(_run(Check("tray_backend"), lambda c: icon_holder.update(icon=check_tray_backend(c))))
    checks.append(
        _run(
            Check("notifications"),
            lambda c: check_notifications(c, icon_holder.get("icon"), notify, platform),
        )
    )
    checks.append(_run(Check("notification_buttons"), lambda c: check_desktop_notifier(c, platform)))
    if platform.startswith("linux"):
        checks.append(_run(Check("dbus", required=False), check_dbus))
    checks.append(_run(Check("platformdirs"), check_platformdirs))
    checks.append(_run(Check("psutil"), check_psutil))
    checks.append(_run(Check("registry"), lambda c: check_registry(c, registry_dir)))
    checks.append(_run(Check("hooks"), check_hooks))
    checks.append(_run(Check("autostart"), check_autostart))
    checks.append(_run(Check("assets"), check_assets))
    failed = [check.name for check in checks if check.required and not check.ok]
    import platform as platform_module

    return {
        "format": REPORT_FORMAT,
        "passed": not failed,
        "failed": failed,
        "orchestray": __version__,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "machine": platform_module.machine(),
        "os": platform_module.platform(),
        "frozen": is_frozen(),
        "executable": os.path.abspath(sys.executable) if sys.executable else "",
        "bundle_dir": getattr(sys, "_MEIPASS", None),
        "versions": _versions(),
        "checks": {check.name: check.as_json() for check in checks},
    }


def write_report(report: dict, path: Optional[str]) -> None:
    """The report as JSON to ``path`` (written whole, through a temp file), or to stdout when ``path`` is None."""
    text = json.dumps(report, indent=2, ensure_ascii=True, default=str) + "\n"
    if path is None:
        if sys.stdout is not None:  # a windowed Windows program has no stdout: use --report there
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    path = os.path.abspath(path)
    from tray.core.fsutil import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8"), mode=0o644)
    except OSError as error:  # name the file asked for, not our temp file
        raise OSError(error.errno, f"cannot write the report: {error.strerror or error}", path) from None


def run(report_path: Optional[str] = None, registry_dir: Optional[str] = None, notify: bool = False) -> int:
    """``orchestray self-test``: 0 when every required check passed, else 1 (the report says which failed)."""
    report = build_report(registry_dir=registry_dir, notify=notify)
    write_report(report, report_path)
    if report_path is not None and sys.stderr is not None:
        verdict = "passed" if report["passed"] else f"FAILED ({', '.join(report['failed'])})"
        sys.stderr.write(f"orchestray: self-test {verdict}; report in {os.path.abspath(report_path)}\n")
    return 0 if report["passed"] else 1
