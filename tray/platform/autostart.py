"""Start Orchestray at login: one small interface, three per-OS backends.

Why hand-rolled: no maintained library covers Windows, macOS and Linux (``pyautostart`` has no Linux), and
each mechanism is a single file or registry value. Every backend has the same four methods:

    enable(command)   write the login item that runs ``command`` (an argv list)
    disable()         remove it, but only if it is ours
    is_enabled()      whether ours is there and not switched off
    describe()        where it lives, for the menu, logs and ``--help`` texts

* Windows: value ``Orchestray`` under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``. Task Manager
  can switch it off under ``...\\Explorer\\StartupApproved\\Run``; ``is_enabled`` honours that, and only an
  explicit ``enable`` clears it.
* macOS: a LaunchAgent ``~/Library/LaunchAgents/<bundle id>.plist`` (RunAtLoad, no KeepAlive, Aqua sessions
  only, so it starts once per GUI login and never respawns after Quit). It takes effect at the next login;
  nothing is loaded now (a second tray would just hit the single-instance lock). A program running from an App
  Translocation path (an app opened from Downloads) is refused with one line saying what to do. macOS 13 and
  later list the agent under System Settings > General > Login Items ("Allow in the Background"), where the
  user can switch it off without touching the file: launchd then keeps it in its disabled list, which
  ``is_enabled`` reads (``launchctl print-disabled gui/<uid>``, at most once a minute), and an explicit
  ``enable`` switches it back on (``launchctl enable``) or says where to do it.
* Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/orchestray.desktop``.

One module past 400 lines because the three backends share the interface, the mark that says "ours" and
the command they write; each is small.

Files are written atomically (temp file + ``os.replace``). ``disable`` removes only what carries our mark (the
``X-Orchestray=true`` key in the .desktop file, ``Label`` = our bundle id in the plist), so a user's own file
of the same name survives, and ``enable`` refuses to overwrite such a file. Every location (home, config dir,
registry) is injectable, so all three backends are tested on any OS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Protocol, Sequence

from tray.core.fsutil import ReadRefused, atomic_write_bytes, read_regular_file, unlink

if TYPE_CHECKING:
    import configparser  # imported where a .desktop file is there to parse (the tray asks at each menu opening)

__all__ = [
    "APP_NAME",
    "BUNDLE_ID",
    "Autostart",
    "AppTranslocated",
    "AutostartError",
    "LaunchAgentAutostart",
    "RegistryAccess",
    "WindowsRunAutostart",
    "XdgAutostart",
    "default_icon_path",
    "desktop_exec",
    "disable",
    "describe",
    "enable",
    "for_platform",
    "is_enabled",
    "launch_command",
    "refuse_translocated",
    "windows_command_line",
]

APP_NAME = "Orchestray"
#: macOS bundle identifier; must match ``bundle_identifier`` of the PyInstaller BUNDLE.
BUNDLE_ID = "io.github.orchestray"

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
DESKTOP_MARKER = "X-Orchestray"
MAX_READ_BYTES = 256 * 1024  # a launch agent or desktop entry of ours is a few hundred bytes


class AutostartError(OSError):
    """The login item cannot be written or removed (e.g. a foreign file of the same name is in the way)."""


class Autostart(Protocol):
    """What the tray's "Start at login" check needs."""

    def enable(self, command: Sequence[str]) -> None: ...

    def disable(self) -> None: ...

    def is_enabled(self) -> bool: ...

    def describe(self) -> str: ...


# --- the command -----------------------------------------------------------------------------------------


def launch_command(
    *,
    frozen: Optional[bool] = None,
    executable: Optional[str] = None,
    platform: Optional[str] = None,
) -> List[str]:
    """The argv that starts the tray at login: ``tray/platform/launch.py``'s ``tray_command``."""
    from tray.platform.launch import tray_command

    return tray_command(frozen=frozen, executable=executable, platform=platform)


def default_icon_path() -> Optional[str]:
    """The packaged 256 px app icon (``tray/assets/orchestray.png``), if it is there."""
    path = Path(__file__).resolve().parent.parent / "assets" / "orchestray.png"
    return str(path) if path.is_file() else None


def _check_command(command: Sequence[str]) -> List[str]:
    argv = [str(a) for a in command]
    if not argv or not argv[0]:
        raise ValueError("the autostart command must name a program")
    if any("\0" in a for a in argv):
        raise ValueError("the autostart command contains a NUL character")
    return argv


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(str(path), data, mode)


# --- Windows -----------------------------------------------------------------------------------------------


class RegistryAccess(Protocol):
    """The few HKEY_CURRENT_USER operations the Run-key backend needs (a dict can stand in for tests)."""

    def get(self, key: str, name: str) -> Any: ...

    def set_string(self, key: str, name: str, value: str) -> None: ...

    def delete(self, key: str, name: str) -> None: ...


class WinregAccess:
    """``RegistryAccess`` on the real registry, HKEY_CURRENT_USER only (imports ``winreg`` lazily)."""

    def __init__(self) -> None:
        import winreg  # Windows only, hence imported here

        self._winreg: Any = winreg

    def get(self, key: str, name: str) -> Any:
        w = self._winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, key, 0, w.KEY_QUERY_VALUE) as handle:
                return w.QueryValueEx(handle, name)[0]
        except FileNotFoundError:
            return None

    def set_string(self, key: str, name: str, value: str) -> None:
        w = self._winreg
        with w.CreateKeyEx(w.HKEY_CURRENT_USER, key, 0, w.KEY_SET_VALUE) as handle:
            w.SetValueEx(handle, name, 0, w.REG_SZ, value)

    def delete(self, key: str, name: str) -> None:
        w = self._winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, key, 0, w.KEY_SET_VALUE) as handle:
                w.DeleteValue(handle, name)
        except FileNotFoundError:
            pass


def windows_command_line(command: Sequence[str]) -> str:
    """Quote argv for a Run value: the program always in double quotes (an unquoted path with spaces is
    resolved piecewise by Windows, ``C:\\Program.exe`` first), the arguments per the MS C runtime rules."""
    argv = _check_command(command)
    if '"' in argv[0]:
        raise ValueError("a Windows program path cannot contain a double quote")
    rest = subprocess.list2cmdline(argv[1:])
    return f'"{argv[0]}"' + (f" {rest}" if rest else "")


class WindowsRunAutostart:
    """The ``HKCU\\...\\CurrentVersion\\Run`` value ``Orchestray``.

    The value name is our mark: Run values are named by their owner, and ``Orchestray`` is ours.
    """

    def __init__(self, registry: Optional[RegistryAccess] = None, value_name: str = APP_NAME) -> None:
        self._registry = registry
        self.value_name = value_name

    @property
    def registry(self) -> RegistryAccess:
        if self._registry is None:
            self._registry = WinregAccess()
        return self._registry

    def enable(self, command: Sequence[str]) -> None:
        self.registry.set_string(RUN_KEY, self.value_name, windows_command_line(command))
        # The user asked for it in our menu: clear a "disabled" flag Task Manager may have left behind.
        if self._switched_off():
            self.registry.delete(APPROVED_KEY, self.value_name)

    def disable(self) -> None:
        if self.registry.get(RUN_KEY, self.value_name) is not None:
            self.registry.delete(RUN_KEY, self.value_name)

    def _switched_off(self) -> bool:
        flag = self.registry.get(APPROVED_KEY, self.value_name)
        # REG_BINARY, 12 bytes; first byte 2 (or 6) = enabled, 3 (or 7) = disabled by the user.
        return isinstance(flag, (bytes, bytearray)) and len(flag) > 0 and flag[0] & 1 == 1

    def is_enabled(self) -> bool:
        value = self.registry.get(RUN_KEY, self.value_name)
        return isinstance(value, str) and bool(value.strip()) and not self._switched_off()

    def describe(self) -> str:
        where = f"HKEY_CURRENT_USER\\{RUN_KEY}\\{self.value_name}"
        if self.registry.get(RUN_KEY, self.value_name) is not None and self._switched_off():
            where += " (switched off in Task Manager)"
        return where


# --- macOS -------------------------------------------------------------------------------------------------

#: Gatekeeper's App Translocation runs a quarantined app opened from where it was downloaded from a random,
#: read-only mount (``/private/var/folders/.../AppTranslocation/<UUID>/d/Orchestray.app``) that is gone after
#: a reboot, so a login item pointing there would silently never start.
TRANSLOCATION_MARK = "/AppTranslocation/"


class AppTranslocated(AutostartError):
    """The program runs from an App Translocation path; a login item would point at a vanishing copy."""


def refuse_translocated(command: Sequence[str]) -> None:
    """Raise `AppTranslocated`, with one line telling the user what to do, if ``command`` runs from an App
    Translocation path."""
    for arg in command:
        if TRANSLOCATION_MARK in str(arg):
            raise AppTranslocated(
                f"{APP_NAME} is running from a temporary copy macOS made when it was opened where it was "
                "downloaded (App Translocation), which is gone after a restart: move Orchestray.app to "
                "/Applications, open it from there, then turn Start at login on again"
            )


#: Runs ``launchctl`` with these arguments; its standard output, or None when it cannot say.
Launchctl = Callable[[List[str]], Optional[str]]
#: Seconds a read of launchd's disabled list is reused (the menu is rebuilt on every registry change).
LAUNCHD_ANSWER_SECONDS = 60.0
#: A line of ``launchctl print-disabled``: ``"label" => disabled`` (macOS 11+) or ``=> true`` (older).
_DISABLED_LINE = re.compile(r'^\s*"([^"]+)"\s*=>\s*(\w+)', re.M)


def _launchctl(args: List[str]) -> Optional[str]:
    """``launchctl ARGS``'s output on macOS; None elsewhere or when it fails (then the file alone decides)."""
    if sys.platform != "darwin":
        return None
    try:
        done = subprocess.run(["launchctl", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


class LaunchAgentAutostart:
    """``~/Library/LaunchAgents/<bundle id>.plist``; ours when its ``Label`` is our bundle id."""

    def __init__(
        self, home: Optional[os.PathLike] = None, bundle_id: str = BUNDLE_ID, launchctl: Launchctl = _launchctl,
        uid: Optional[int] = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.home = Path(home) if home is not None else Path.home()
        self.bundle_id = bundle_id
        self.launchctl = launchctl
        self.uid = uid if uid is not None else (os.getuid() if hasattr(os, "getuid") else 0)
        self.clock = clock
        self._switched: Optional[tuple] = None  # (when asked, switched off)

    @property
    def domain(self) -> str:
        return f"gui/{self.uid}"

    def switched_off(self) -> bool:
        """True when launchd has our label in its disabled list: switched off in System Settings > Login Items
        (or ``launchctl disable``), though the file is there. Asked at most once a minute."""
        now = self.clock()
        if self._switched is not None and now - self._switched[0] < LAUNCHD_ANSWER_SECONDS:
            return bool(self._switched[1])
        listing = self.launchctl(["print-disabled", self.domain]) or ""
        off = any(label == self.bundle_id and value.lower() in ("disabled", "true")
                  for label, value in _DISABLED_LINE.findall(listing))
        self._switched = (now, off)
        return off

    @property
    def path(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{self.bundle_id}.plist"

    def _load(self) -> Optional[dict]:
        """The plist if it parses as a dict, else None (missing, unreadable or not a plist)."""
        import plistlib  # here, not at the top: the XML parser it loads is macOS's alone (and not at rest)

        try:  # non-blocking and capped: a FIFO here must not hang the tray's menu
            data = plistlib.loads(read_regular_file(str(self.path), MAX_READ_BYTES, follow=True))
        except (OSError, ReadRefused, ValueError, plistlib.InvalidFileException):
            return None
        return data if isinstance(data, dict) else None

    def _ours(self, data: Optional[dict]) -> bool:
        return data is not None and data.get("Label") == self.bundle_id

    def enable(self, command: Sequence[str]) -> None:
        refuse_translocated(command)
        if self.path.exists() and not self._ours(self._load()):
            raise AutostartError(f"{self.path} exists and was not written by {APP_NAME}; leaving it alone")
        agent = {
            "Label": self.bundle_id,
            "ProgramArguments": _check_command(command),
            "RunAtLoad": True,
            "LimitLoadToSessionType": "Aqua",
            "ProcessType": "Interactive",
        }
        import plistlib

        _atomic_write(self.path, plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=True))
        self._switched = None
        if self.switched_off():  # switched off in System Settings: an explicit enable switches it back on
            self.launchctl(["enable", f"{self.domain}/{self.bundle_id}"])
            self._switched = None
            if self.switched_off():
                raise AutostartError(f"{APP_NAME} is switched off in System Settings > General > Login Items "
                                     "(Allow in the Background): switch it on there")

    def disable(self) -> None:
        if self._ours(self._load()):
            unlink(str(self.path))  # retried on Windows while another process has it open
        self._switched = None

    def is_enabled(self) -> bool:
        data = self._load()
        return (self._ours(data) and data is not None and data.get("Disabled") is not True
                and not self.switched_off())

    def describe(self) -> str:
        if self._ours(self._load()) and self.switched_off():
            return f"{self.path} (switched off in System Settings > General > Login Items)"
        return str(self.path)


# --- Linux / XDG -------------------------------------------------------------------------------------------

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key").
_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")
# Characters that must be backslash-escaped inside a quoted Exec argument.
_QUOTED_ESCAPES = re.compile(r'([`"$\\])')


def desktop_exec(command: Sequence[str]) -> str:
    """The value of a .desktop ``Exec`` key that runs exactly ``command``, written as it goes in the file.

    Two layers, per the Desktop Entry spec: each argument is quoted if it holds a reserved character (inside
    quotes ``"`` `````` ``$`` ``\\`` get a backslash) and ``%`` is doubled (field codes); then the whole value
    gets the string escapes (``\\\\``, ``\\n``, ``\\t``, ``\\r``), hence four backslashes for a literal one.
    """
    parts = []
    for arg in _check_command(command):
        arg = arg.replace("%", "%%")
        if not arg or _RESERVED.search(arg):
            arg = '"' + _QUOTED_ESCAPES.sub(r"\\\1", arg) + '"'
        parts.append(arg)
    value = " ".join(parts)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _desktop_string(value: str) -> str:
    """Escape a plain string value (Name, Icon) for a .desktop file."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _xdg_config_home() -> Path:
    value = os.environ.get("XDG_CONFIG_HOME", "")
    # The spec ignores a relative XDG_CONFIG_HOME.
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".config"


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/orchestray.desktop``; ours when it carries ``X-Orchestray=true``."""

    def __init__(
        self,
        config_home: Optional[os.PathLike] = None,
        icon: Optional[str] = None,
        file_name: str = "orchestray.desktop",
    ) -> None:
        self.config_home = Path(config_home) if config_home is not None else _xdg_config_home()
        self.icon = icon if icon is not None else default_icon_path()
        self.file_name = file_name

    @property
    def path(self) -> Path:
        return self.config_home / "autostart" / self.file_name

    def _entry(self) -> Optional[configparser.SectionProxy]:
        try:  # non-blocking and capped: a FIFO here must not hang the tray's menu
            text = read_regular_file(str(self.path), MAX_READ_BYTES, follow=True).decode("utf-8")
        except (OSError, ReadRefused, UnicodeDecodeError):
            return None
        import configparser  # only with a file to parse: without one, the tray's menu never loads it

        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        return parser["Desktop Entry"] if parser.has_section("Desktop Entry") else None

    @staticmethod
    def _ours(entry: Optional[configparser.SectionProxy]) -> bool:
        return entry is not None and entry.get(DESKTOP_MARKER, "").strip().lower() == "true"

    def enable(self, command: Sequence[str]) -> None:
        if self.path.exists() and not self._ours(self._entry()):
            raise AutostartError(f"{self.path} exists and was not written by {APP_NAME}; leaving it alone")
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            f"Name={APP_NAME}",
            "Comment=Keeps the Claude Code orchestrator/worker registry visible and safe",
            f"Exec={desktop_exec(command)}",
        ]
        if self.icon:
            lines.append(f"Icon={_desktop_string(self.icon)}")
        lines += [
            "Terminal=false",
            "Categories=Development;Utility;",
            "X-GNOME-Autostart-enabled=true",
            f"{DESKTOP_MARKER}=true",
        ]
        _atomic_write(self.path, ("\n".join(lines) + "\n").encode("utf-8"))

    def disable(self) -> None:
        if self._ours(self._entry()):
            unlink(str(self.path))  # retried on Windows while another process has it open

    def is_enabled(self) -> bool:
        entry = self._entry()
        if not self._ours(entry) or entry is None:
            return False
        hidden = entry.get("Hidden", "false").strip().lower() == "true"
        gnome_off = entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() == "false"
        return not hidden and not gnome_off

    def describe(self) -> str:
        return str(self.path)


# --- choosing one ------------------------------------------------------------------------------------------


def for_platform(
    platform: Optional[str] = None,
    *,
    home: Optional[os.PathLike] = None,
    config_home: Optional[os.PathLike] = None,
    registry: Optional[RegistryAccess] = None,
) -> Autostart:
    """The backend for ``platform`` (default: this machine's ``sys.platform``)."""
    name = platform or sys.platform
    if name == "win32":
        return WindowsRunAutostart(registry)
    if name == "darwin":
        return LaunchAgentAutostart(home)
    if config_home is None and home is not None:
        config_home = Path(home) / ".config"
    return XdgAutostart(config_home)


def enable(command: Optional[Sequence[str]] = None) -> None:
    """Start Orchestray at login on this machine (``launch_command()`` unless told otherwise)."""
    for_platform().enable(command if command is not None else launch_command())


def disable() -> None:
    """Stop starting Orchestray at login on this machine (only removes what Orchestray wrote)."""
    for_platform().disable()


def is_enabled() -> bool:
    """Whether Orchestray's login item is present and switched on."""
    return for_platform().is_enabled()


def describe() -> str:
    """Where this machine's login item lives."""
    return for_platform().describe()
