"""Start at login: the three backends, all exercised from any OS with temporary folders and a fake registry."""

from __future__ import annotations

import configparser
import os
import plistlib
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from tray.platform import autostart
from tray.platform.autostart import (
    APPROVED_KEY,
    BUNDLE_ID,
    RUN_KEY,
    AutostartError,
    LaunchAgentAutostart,
    WindowsRunAutostart,
    XdgAutostart,
    desktop_exec,
    for_platform,
    launch_command,
    windows_command_line,
)

COMMANDS = [
    ["/usr/bin/python3", "-m", "tray", "tray"],
    ["/opt/My Apps/Orchestray/orchestray", "tray"],
    [
        '/tmp/we ird/"q"/$HOME/`id`/back\\slash/50%/it\'s',
        "--opt=val",
        "",
        "a;b",
        "~user",
        "#hash",
        "%f",
        "tab\there",
        "new\nline",
        "trailing\\",
        "ünïcødé",
    ],
]


class FakeRegistry:
    """A dict-backed stand-in for HKEY_CURRENT_USER."""

    def __init__(self) -> None:
        self.values: Dict[Tuple[str, str], Any] = {}

    def get(self, key: str, name: str) -> Any:
        return self.values.get((key, name))

    def set_string(self, key: str, name: str, value: str) -> None:
        assert isinstance(value, str)
        self.values[(key, name)] = value

    def delete(self, key: str, name: str) -> None:
        self.values.pop((key, name), None)


def split_exec(value: str) -> List[str]:
    """Split an ``Exec`` value read raw from the file, following the Desktop Entry spec step by step."""
    # 1. the string-type escapes of the value
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in escapes:
            text += escapes[value[i + 1]]
            i += 2
        else:
            text += value[i]
            i += 1
    # 2. the quoting rule: space-separated arguments, double quotes, and inside them \" \` \$ \\
    args: List[str] = []
    current: Optional[str] = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            current = current or ""
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    assert text[i + 1] in '"`$\\', f"bad escape in {value!r}"
                    i += 1
                current += text[i]
                i += 1
            i += 1
        elif ch == " ":
            if current is not None:
                args.append(current)
            current = None
            i += 1
        else:
            assert ch not in "\t\n\"'\\><~|&;$*?#()`", f"unquoted reserved character {ch!r} in {value!r}"
            current = (current or "") + ch
            i += 1
    if current is not None:
        args.append(current)
    # 3. field codes: only %% (a literal %) may appear
    result = []
    for arg in args:
        assert "%" not in arg.replace("%%", ""), f"stray field code in {arg!r}"
        result.append(arg.replace("%%", "%"))
    return result


def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- Linux / XDG -------------------------------------------------------------------------------------------


def test_xdg_round_trip(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path / "config", icon="/opt/orchestray/icon.png")
    assert not backend.is_enabled()
    backend.disable()  # nothing there: no error
    backend.enable(["/usr/bin/orchestray", "tray"])
    assert backend.is_enabled()
    path = tmp_path / "config" / "autostart" / "orchestray.desktop"
    assert backend.describe() == str(path)
    entry = read_desktop(path)
    assert entry["Type"] == "Application"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["X-Orchestray"] == "true"
    assert entry["Icon"] == "/opt/orchestray/icon.png"
    assert entry["Exec"] == "/usr/bin/orchestray tray"
    assert no_temp_files(path.parent)
    backend.enable(["/usr/bin/orchestray", "tray"])  # idempotent
    backend.disable()
    assert not path.exists()
    assert not backend.is_enabled()


@pytest.mark.parametrize("command", COMMANDS)
def test_desktop_exec_gives_back_the_exact_argv(tmp_path: Path, command: List[str]) -> None:
    backend = XdgAutostart(config_home=tmp_path, icon="")
    backend.enable(command)
    raw = read_desktop(backend.path)["Exec"]
    assert "\n" not in raw
    assert split_exec(raw) == command
    assert split_exec(desktop_exec(command)) == command


@pytest.mark.parametrize("command", COMMANDS)
def test_glib_parses_the_exec_line_the_same_way(tmp_path: Path, command: List[str]) -> None:
    """GIO launches autostart entries: GKeyFile unescapes the value, g_shell_parse_argv splits it."""
    try:
        import gi

        gi.require_version("GLib", "2.0")
        from gi.repository import GLib
    except (ImportError, ValueError):
        pytest.skip("PyGObject is not installed")
    backend = XdgAutostart(config_home=tmp_path, icon="")
    backend.enable(command)
    keyfile = GLib.KeyFile()
    keyfile.load_from_file(str(backend.path), GLib.KeyFileFlags.NONE)
    assert keyfile.get_string("Desktop Entry", "X-Orchestray") == "true"
    ok, argv = GLib.shell_parse_argv(keyfile.get_string("Desktop Entry", "Exec"))
    assert ok
    assert [a.replace("%%", "%") for a in argv] == command


def test_xdg_honours_switches_made_elsewhere(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path, icon="")
    backend.enable(["orchestray", "tray"])
    text = backend.path.read_text().replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")
    backend.path.write_text(text)
    assert not backend.is_enabled()
    backend.path.write_text(text.replace("=false", "=true") + "Hidden=true\n")
    assert not backend.is_enabled()
    backend.disable()  # still ours: removed
    assert not backend.path.exists()


def test_xdg_leaves_a_foreign_file_alone(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path, icon="")
    backend.path.parent.mkdir(parents=True)
    foreign = "[Desktop Entry]\nType=Application\nName=Mine\nExec=my-own-thing\n"
    backend.path.write_text(foreign)
    assert not backend.is_enabled()
    backend.disable()
    assert backend.path.read_text() == foreign
    with pytest.raises(AutostartError):
        backend.enable(["orchestray", "tray"])
    assert backend.path.read_text() == foreign
    backend.path.write_text("not a desktop file at all \x00")
    backend.disable()
    assert backend.path.exists()


def test_xdg_config_home_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert XdgAutostart(icon="").path == tmp_path / "xdg" / "autostart" / "orchestray.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert XdgAutostart(icon="").path == tmp_path / "home" / ".config" / "autostart" / "orchestray.desktop"


def test_xdg_icon_defaults_to_the_packaged_icon(tmp_path: Path) -> None:
    backend = XdgAutostart(config_home=tmp_path)
    backend.enable(["orchestray"])
    icon = read_desktop(backend.path)["Icon"]  # the package ships tray/assets/orchestray.png: always set
    assert Path(icon).is_absolute() and Path(icon).is_file() and Path(icon).name == "orchestray.png"


# --- macOS -------------------------------------------------------------------------------------------------


def test_launch_agent_round_trip(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path)
    command = ["/Applications/Orchestray.app/Contents/MacOS/Orchestray", "tray"]
    assert not backend.is_enabled()
    backend.enable(command)
    path = tmp_path / "Library" / "LaunchAgents" / f"{BUNDLE_ID}.plist"
    assert backend.describe() == str(path)
    assert backend.is_enabled()
    with open(path, "rb") as handle:
        agent = plistlib.load(handle)
    assert agent["Label"] == BUNDLE_ID
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert "KeepAlive" not in agent
    assert no_temp_files(path.parent)
    assert path.stat().st_mode & 0o022 == 0, "launchd refuses group/world-writable agents"
    backend.disable()
    assert not path.exists()
    assert not backend.is_enabled()


def test_launch_agent_keeps_odd_arguments_exact(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path)
    for command in COMMANDS:
        backend.enable(command)
        with open(backend.path, "rb") as handle:
            assert plistlib.load(handle)["ProgramArguments"] == command


def test_launch_agent_leaves_a_foreign_file_alone(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path)
    backend.path.parent.mkdir(parents=True)
    foreign = plistlib.dumps({"Label": "com.someone.else", "ProgramArguments": ["/bin/true"]})
    backend.path.write_bytes(foreign)
    assert not backend.is_enabled()
    backend.disable()
    assert backend.path.read_bytes() == foreign
    with pytest.raises(AutostartError):
        backend.enable(["orchestray", "tray"])
    assert backend.path.read_bytes() == foreign
    backend.path.write_bytes(b"garbage")
    backend.disable()
    assert backend.path.read_bytes() == b"garbage"


def test_launch_agent_disabled_key_is_honoured(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path)
    backend.enable(["orchestray", "tray"])
    with open(backend.path, "rb") as handle:
        agent = plistlib.load(handle)
    agent["Disabled"] = True
    backend.path.write_bytes(plistlib.dumps(agent))
    assert not backend.is_enabled()


class FakeLaunchd:
    """`launchctl` as macOS 13+ answers it, recording every argv; `off` is the System Settings switch."""

    def __init__(self, off: bool = False, honours_enable: bool = True) -> None:
        self.off = off
        self.honours_enable = honours_enable
        self.calls: List[List[str]] = []

    def __call__(self, args: List[str]) -> str:
        self.calls.append(list(args))
        if args[0] == "enable" and self.honours_enable:
            self.off = False
        if args[0] == "print-disabled":
            state = "disabled" if self.off else "enabled"
            return ('disabled services = {\n\t"com.apple.ScriptMenuApp" => disabled\n'
                    f'\t"{BUNDLE_ID}" => {state}\n\t"{BUNDLE_ID}.other" => disabled\n}}\n')
        return ""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_launch_agent_switched_off_in_system_settings_is_seen(tmp_path: Path) -> None:
    """Risk to settle from issue 17: Login Items switched off in macOS 13+ System Settings leave the file in
    place; launchd lists the label as disabled, and `is_enabled` must say off (the menu's check, `autostart`)."""
    launchd, clock = FakeLaunchd(), Clock()
    backend = LaunchAgentAutostart(home=tmp_path, launchctl=launchd, uid=501, clock=clock)
    backend.enable(["/Applications/Orchestray.app/Contents/MacOS/Orchestray", "tray"])
    assert backend.is_enabled() and backend.describe() == str(backend.path)
    launchd.off = True  # the user flips the switch in System Settings
    clock.now += autostart.LAUNCHD_ANSWER_SECONDS
    assert not backend.is_enabled()
    assert backend.describe().endswith("(switched off in System Settings > General > Login Items)")
    assert backend.path.exists()  # the file was not touched
    assert ["print-disabled", "gui/501"] in launchd.calls
    backend.enable(["/Applications/Orchestray.app/Contents/MacOS/Orchestray", "tray"])  # explicit: back on
    assert ["enable", f"gui/501/{BUNDLE_ID}"] in launchd.calls
    assert backend.is_enabled()


def test_launch_agent_asks_launchd_at_most_once_a_minute(tmp_path: Path) -> None:
    launchd, clock = FakeLaunchd(), Clock()
    backend = LaunchAgentAutostart(home=tmp_path, launchctl=launchd, uid=501, clock=clock)
    backend.enable(["orchestray", "tray"])
    launchd.calls.clear()
    for _ in range(20):  # the menu is rebuilt on every registry change
        assert backend.is_enabled()
    assert len(launchd.calls) <= 1


def test_launch_agent_switched_off_for_good_says_where_to_switch_it_on(tmp_path: Path) -> None:
    launchd = FakeLaunchd(off=True, honours_enable=False)
    backend = LaunchAgentAutostart(home=tmp_path, launchctl=launchd, uid=501, clock=Clock())
    with pytest.raises(AutostartError) as refused:
        backend.enable(["orchestray", "tray"])
    assert "System Settings > General > Login Items" in str(refused.value) and "\n" not in str(refused.value)
    assert not backend.is_enabled()


def test_launch_agent_without_launchctl_trusts_the_file(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path, launchctl=lambda args: None, uid=501)
    backend.enable(["orchestray", "tray"])
    assert backend.is_enabled()


# --- Windows -----------------------------------------------------------------------------------------------


def test_windows_round_trip() -> None:
    registry = FakeRegistry()
    backend = WindowsRunAutostart(registry)
    assert not backend.is_enabled()
    backend.enable([r"C:\Program Files\Orchestray\Orchestray.exe", "tray"])
    assert registry.values[(RUN_KEY, "Orchestray")] == r'"C:\Program Files\Orchestray\Orchestray.exe" tray'
    assert backend.is_enabled()
    assert backend.describe() == r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\Orchestray"
    registry.values[(RUN_KEY, "SomethingElse")] = "other.exe"
    backend.disable()
    assert (RUN_KEY, "Orchestray") not in registry.values
    assert registry.values[(RUN_KEY, "SomethingElse")] == "other.exe"
    assert not backend.is_enabled()


def test_windows_task_manager_switch() -> None:
    registry = FakeRegistry()
    backend = WindowsRunAutostart(registry)
    backend.enable(["C:\\o.exe", "tray"])
    registry.values[(APPROVED_KEY, "Orchestray")] = bytes([3]) + bytes(11)  # switched off in Task Manager
    assert not backend.is_enabled()
    assert "Task Manager" in backend.describe()
    backend.enable(["C:\\o.exe", "tray"])  # an explicit enable switches it back on
    assert backend.is_enabled()
    registry.values[(APPROVED_KEY, "Orchestray")] = bytes([2]) + bytes(11)
    assert backend.is_enabled()


def test_windows_command_line_quoting() -> None:
    assert windows_command_line(["C:\\o.exe"]) == '"C:\\o.exe"'
    assert (
        windows_command_line(["C:\\Python 3\\pythonw.exe", "-m", "tray", "tray"])
        == '"C:\\Python 3\\pythonw.exe" -m tray tray'
    )
    assert windows_command_line(["C:\\o.exe", "a b", 'q"x']) == '"C:\\o.exe" "a b" q\\"x'
    with pytest.raises(ValueError):
        windows_command_line([])
    with pytest.raises(ValueError):
        windows_command_line(['C:\\bad"name.exe'])


# --- the command and the factory ---------------------------------------------------------------------------


def test_launch_command_from_python() -> None:
    assert launch_command(frozen=False, platform="linux") == [os.path.abspath(sys.executable), "-m", "tray", "tray"]


def test_launch_command_when_frozen() -> None:
    exe = "/Applications/Orchestray.app/Contents/MacOS/Orchestray"
    assert launch_command(frozen=True, executable=exe, platform="darwin") == [exe, "tray"]


def test_launch_command_prefers_pythonw_on_windows(tmp_path: Path) -> None:
    (tmp_path / "python.exe").write_text("")
    python = str(tmp_path / "python.exe")
    assert launch_command(frozen=False, executable=python, platform="win32")[0] == python
    (tmp_path / "pythonw.exe").write_text("")
    assert launch_command(frozen=False, executable=python, platform="win32") == [
        str(tmp_path / "pythonw.exe"),
        "-m",
        "tray",
        "tray",
    ]


def test_commands_must_name_a_program(tmp_path: Path) -> None:
    for backend in (XdgAutostart(config_home=tmp_path, icon=""), LaunchAgentAutostart(home=tmp_path)):
        with pytest.raises(ValueError):
            backend.enable([])
        with pytest.raises(ValueError):
            backend.enable(["orchestray", "a\0b"])


def test_for_platform(tmp_path: Path) -> None:
    assert isinstance(for_platform("win32", registry=FakeRegistry()), WindowsRunAutostart)
    mac = for_platform("darwin", home=tmp_path)
    assert isinstance(mac, LaunchAgentAutostart) and mac.describe().startswith(str(tmp_path))
    linux = for_platform("linux", home=tmp_path)
    assert isinstance(linux, XdgAutostart)
    assert linux.describe() == str(tmp_path / ".config" / "autostart" / "orchestray.desktop")
    assert isinstance(for_platform("freebsd14", config_home=tmp_path), XdgAutostart)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the module-level helpers use this machine")
def test_module_level_helpers_on_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.is_enabled()
    autostart.enable()
    assert autostart.is_enabled()
    assert autostart.describe() == str(tmp_path / "autostart" / "orchestray.desktop")
    assert split_exec(read_desktop(tmp_path / "autostart" / "orchestray.desktop")["Exec"]) == launch_command()
    autostart.disable()
    assert not autostart.is_enabled()
