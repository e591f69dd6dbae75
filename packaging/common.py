"""What the three PyInstaller specs share: the entry script, hidden imports, excludes, data files, version info.

The specs (``orchestray-windows.spec``, ``orchestray-macos.spec``, ``orchestray-linux.spec``) load this file by
path; tests import it too. Nothing here imports PyInstaller at module level, so it loads anywhere.

Why hidden imports at all: PyInstaller follows ``import`` statements, and two libraries choose their platform
module at run time by name. plyer has no PyInstaller hook, so without ``plyer.platforms.<os>.notification`` a
build succeeds and notifications fail with ``No module named 'plyer.platforms'``; pystray's contrib hook
collects its submodules, listed again here so that a hook change cannot silently drop a backend.

One module just past 400 lines because the specs load it by path as one file (they cannot import a package
that is not installed); it is a list of settings more than code.
"""

from __future__ import annotations

import ast
import glob
import os
import re
import sys
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENTRY = os.path.join(HERE, "entry.py")
HOOK_ENTRY = os.path.join(HERE, "hook_entry.py")
ASSETS = os.path.join(ROOT, "assets")
APP_NAME = "Orchestray"
#: The long description goes into the version resource's ``Comments``. ``FileDescription`` is short: Task
#: Manager and the "Startup apps" list show it as the program's name.
DESCRIPTION = "Orchestray: the Claude Code orchestrator/worker registry in your tray"
COPYRIGHT = "MIT License"

#: Names of the built programs (see packaging/README.md). Windows: file names are case-insensitive, so the
#: windowed tray program cannot be ``Orchestray.exe`` next to the console ``orchestray.exe``.
LINUX_NAME = "orchestray"
WINDOWS_CLI_NAME = "orchestray"  # console: the CLI and the Claude Code hooks (they need stdout)
WINDOWS_TRAY_NAME = "OrchestrayTray"  # windowed: the tray, started from the Start menu and at login
WINDOWS_DIR_NAME = "Orchestray"
MACOS_NAME = "Orchestray"
#: The small frozen program Claude Code's hooks run (every OS): built from the hook handlers alone, without
#: the GUI's start-up hooks. It sits beside the main program(s) and shares their ``_internal`` folder.
#: ``tray.platform.launch.HOOK_PROGRAM`` is the same name: that is where hook commands look for it.
HOOK_NAME = "orchestray-hook"
#: ``FileDescription`` per Windows program (what Task Manager shows as its name).
WINDOWS_DESCRIPTIONS = {
    "OrchestrayTray.exe": "Orchestray",
    "orchestray.exe": "Orchestray command line",
    HOOK_NAME + ".exe": "Orchestray hook",
}

#: What the hook program must never bundle: the tray, its toolkits and everything only they use. A
#: module listed here that the hooks did import would fail the frozen hook tests (tests/e2e/test_frozen.py).
HOOK_EXCLUDES = [
    "pystray",
    "PIL",
    "gi",
    "dbus",
    "Xlib",
    "plyer",
    "six",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "xmlrpc",
    "pydoc",
    "unittest",
    "doctest",
    "tray.app",
    "tray.cli",
    "tray.selftest",
    "tray.summary",
    "tray.platform.notify",
    "tray.platform.notify_buttons",
    "desktop_notifier",
    "dbus_fast",
    "tray.platform.opener",
    "tray.platform.autostart",
]

OS_NAMES = ("windows", "macos", "linux")
#: plyer's name for each OS (``plyer.utils.platform``).
PLYER_PLATFORM = {"windows": "win", "macos": "macosx", "linux": "linux"}

#: Distributions whose metadata is bundled, so the self-test reports their versions.
METADATA = ("pystray", "pillow", "psutil", "platformdirs", "plyer", "desktop-notifier")

#: Never needed at run time; some are pulled in by optional imports (Pillow's ImageTk, ImageQt...).
EXCLUDES = [
    "tkinter",
    "_tkinter",
    "turtle",
    "turtledemo",
    "idlelib",
    "lib2to3",
    "pydoc_data",
    "test",
    "PIL.ImageTk",
    "PIL.ImageQt",
    "numpy",
    "IPython",
    "pytest",
    "_pytest",
    "hypothesis",
    "pip",
    "setuptools",
    "pkg_resources",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "matplotlib",
    "tray.hook",  # the hook script for source installs; the frozen program is its own hook command
]


def check_os(os_name: str) -> str:
    if os_name not in OS_NAMES:
        raise ValueError(f"unknown OS {os_name!r}; expected one of {', '.join(OS_NAMES)}")
    return os_name


def current_os(platform: str = sys.platform) -> str:
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux"


def read_version(init_file: str = os.path.join(ROOT, "tray", "__init__.py")) -> str:
    """``tray.__version__``, read from the source (the spec does not need to import the package)."""
    with open(init_file, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), init_file)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise ValueError(f"no __version__ in {init_file}")


def bundle_id() -> str:
    """``tray.platform.autostart.BUNDLE_ID``: the LaunchAgent's label must be the .app's bundle identifier."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from tray.platform.autostart import BUNDLE_ID

    return BUNDLE_ID


def version_tuple(version: str) -> Tuple[int, int, int, int]:
    """``"1.2.3rc1"`` -> ``(1, 2, 3, 0)``: the four 16-bit numbers of a Windows version resource."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]
    numbers += [0] * (4 - len(numbers))
    if any(n > 0xFFFF for n in numbers):
        raise ValueError(f"version {version!r} does not fit a Windows version resource")
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def hiddenimports(os_name: str) -> List[str]:
    """Modules PyInstaller cannot see: plyer's platform backend, pystray's backends, dbus on Linux."""
    check_os(os_name)
    plyer = PLYER_PLATFORM[os_name]
    names = [
        "plyer.platforms",
        f"plyer.platforms.{plyer}",
        f"plyer.platforms.{plyer}.notification",
        "pystray._base",
        "pystray._util",
        "pkgutil",  # the self-test lists pystray's bundled backends with it
        # desktop-notifier picks its backend inside a function, by platform: list it so a hook change cannot
        # drop it (without it the tray silently falls back to notifications without buttons).
        "desktop_notifier",
        "desktop_notifier.resources",  # imported by name at start (importlib.resources): its python.png too
        "desktop_notifier.backends.base",
        "desktop_notifier.backends.dummy",
    ]
    if os_name == "windows":
        names += [
            "pystray._win32",
            "pystray._util.win32",
            "plyer.platforms.win.libs",
            "plyer.platforms.win.libs.balloontip",
            "plyer.platforms.win.libs.win_api_defs",
            "six.moves.queue",
            "winreg",
            "desktop_notifier.backends.winrt",
            "winrt.system",
            "winrt.windows.applicationmodel.core",
            "winrt.windows.data.xml.dom",
            "winrt.windows.foundation",
            "winrt.windows.foundation.collections",
            "winrt.windows.ui.notifications",
            "tray.platform.focus_windows",
        ]
    elif os_name == "macos":
        names += ["pystray._darwin", "AppKit", "Foundation", "objc", "PyObjCTools.AppHelper", "PyObjCTools.MachSignals",
                  "desktop_notifier.backends.macos", "desktop_notifier.backends.macos_support", "rubicon.objc",
                  "tray.platform.focus_macos"]
    else:
        names += [
            "pystray._appindicator",
            "pystray._gtk",
            "pystray._xorg",
            "pystray._util.gtk",
            "pystray._util.notify_dbus",
            "dbus",
            "dbus.mainloop",
            "dbus.mainloop.glib",
            "gi",
            "gi.repository.Gtk",
            "gi.repository.GLib",
            "gi.repository.Gio",
            "desktop_notifier.backends.dbus",
            "dbus_fast",
            "dbus_fast.aio",
            "dbus_fast.aio.message_bus",
            "dbus_fast.aio.proxy_object",
            "tray.platform.focus_x11",
            "Xlib.display",
            "Xlib.protocol.event",
        ]
    return names


def excludes(os_name: str) -> List[str]:
    check_os(os_name)
    names = list(EXCLUDES)
    if os_name != "linux":
        # Linux-only tray and notification backends: a PyGObject that happens to be installed on a Windows or
        # macOS build machine would otherwise pull in all of GTK.
        names += ["gi", "dbus", "Xlib"]
    return names


def asset_datas() -> List[Tuple[str, str]]:
    """``tray/assets/*.png`` as ``tray/assets`` in the bundle (``autostart.default_icon_path`` looks there)."""
    found = sorted(glob.glob(os.path.join(ROOT, "tray", "assets", "*.png")))
    if not found:
        raise FileNotFoundError("tray/assets/*.png not found; run assets/make_assets.py")
    return [(path, "tray/assets") for path in found]


def datas() -> List[Tuple[str, str]]:
    """Package data plus the dist-info of the main dependencies (for the self-test's version report)."""
    from PyInstaller.utils.hooks import collect_data_files, copy_metadata

    collected = asset_datas()
    # desktop-notifier opens its default icon at import (files("desktop_notifier.resources") / "python.png").
    collected += collect_data_files("desktop_notifier")
    for dist in METADATA:
        try:
            collected += copy_metadata(dist)
        except Exception as error:  # noqa: BLE001 - a missing dist-info only costs the version line
            print(f"orchestray spec: no metadata for {dist}: {error}", file=sys.stderr)
    return collected


def hooksconfig(os_name: str) -> Dict[str, Dict]:
    """PyInstaller hook options. Linux: GTK 3 only (never GTK 4), the fallback icon theme, English GTK messages."""
    check_os(os_name)
    if os_name != "linux":
        return {}
    return {
        "gi": {
            "module-versions": {"Gtk": "3.0", "Gdk": "3.0"},
            # Only the fallback theme: the system's themes stay reachable (PyInstaller prepends the bundle to
            # XDG_DATA_DIRS, it does not replace it) and Adwaita alone would add 36 MB.
            "icons": ["hicolor"],
            "themes": ["Adwaita"],
            "languages": ["en_US", "en_GB"],
        }
    }


def hook_analysis_options(os_name: str) -> Dict:
    """Keyword arguments for the hook program's own ``Analysis``: no data files, no GUI, no hidden imports."""
    check_os(os_name)
    return {
        "pathex": [ROOT],
        "binaries": [],
        "datas": [],
        "hiddenimports": [],
        "hookspath": [],
        "hooksconfig": {},
        "runtime_hooks": [],
        "excludes": sorted(set(EXCLUDES + HOOK_EXCLUDES)),
        "noarchive": False,
    }


def analysis_options(os_name: str) -> Dict:
    """Keyword arguments for ``Analysis`` shared by every spec."""
    return {
        "pathex": [ROOT],
        "binaries": [],
        "datas": datas(),
        "hiddenimports": hiddenimports(os_name),
        "hookspath": [],
        "hooksconfig": hooksconfig(os_name),
        "runtime_hooks": [],
        "excludes": excludes(os_name),
        "noarchive": False,
    }


# --- Windows version resource --------------------------------------------------------------------------


def _py_string(text: str) -> str:
    return repr(str(text))


def windows_version_text(version: str, original_filename: str, description: Optional[str] = None) -> str:
    """A VSVersionInfo in PyInstaller's text form (what ``pyi-grab_version`` writes and ``EXE(version=...)``
    reads), for one program of the build. ``FileDescription`` is the short name from ``WINDOWS_DESCRIPTIONS``."""
    numbers = version_tuple(version)
    if description is None:
        description = WINDOWS_DESCRIPTIONS.get(original_filename, APP_NAME)
    strings = [
        ("Comments", DESCRIPTION),
        ("CompanyName", APP_NAME),
        ("FileDescription", description),
        ("FileVersion", version),
        ("InternalName", os.path.splitext(original_filename)[0]),
        ("LegalCopyright", COPYRIGHT),
        ("OriginalFilename", original_filename),
        ("ProductName", APP_NAME),
        ("ProductVersion", version),
    ]
    table = ",\n          ".join(f"StringStruct({_py_string(k)}, {_py_string(v)})" for k, v in strings)
    return f"""# UTF-8
# Generated by packaging/common.py from tray.__version__; do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers!r},
    prodvers={numbers!r},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [
          {table}
        ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_windows_version_file(directory: str, version: str, original_filename: str) -> str:
    """Write the version resource text for ``original_filename`` into ``directory``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"version-{os.path.splitext(original_filename)[0]}.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(windows_version_text(version, original_filename))
    return path


# --- macOS Info.plist ----------------------------------------------------------------------------------


def macos_info_plist(version: str) -> Dict[str, object]:
    """Entries merged into the .app's Info.plist."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSUIElement": True,  # a menu-bar agent: no Dock icon, no app menu
        "NSHighResolutionCapable": True,
        "LSMinimumSystemVersion": "11.0",
        "NSHumanReadableCopyright": COPYRIGHT,
        # Notices with buttons: "alert" keeps them on screen with their buttons (a banner hides them) until
        # the user changes the style in System Settings > Notifications. UNUserNotificationCenter needs no
        # entitlement, only this signed bundle and its identifier (bundle_id()).
        "NSUserNotificationAlertStyle": "alert",
        # "Focus terminal" asks Terminal.app / iTerm2 through osascript (Apple Events): macOS asks the user once.
        "NSAppleEventsUsageDescription": "Orchestray brings the terminal tab of a Claude Code session to the front.",
    }


def macos_target_arch() -> Optional[str]:
    """``ORCHESTRAY_TARGET_ARCH`` (``arm64`` or ``x86_64``; ``universal2`` is refused: Pillow's wheels are not
    fat), else None: PyInstaller builds for the running interpreter's architecture."""
    value = os.environ.get("ORCHESTRAY_TARGET_ARCH", "").strip()
    if not value:
        return None
    if value not in ("arm64", "x86_64"):
        raise ValueError(f"ORCHESTRAY_TARGET_ARCH={value!r}: expected arm64 or x86_64 (build one app per arch)")
    return value


def env_or_none(name: str) -> Optional[str]:
    value = os.environ.get(name, "").strip()
    return value or None
