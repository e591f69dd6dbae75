"""Packaging (issue #5): the PyInstaller specs, checked without building.

The frozen Linux build itself is run as a person would use it in tests/e2e/test_frozen.py.

* The specs and ``packaging/common.py``, without building: each spec is executed with stand-ins for
  PyInstaller's ``Analysis``/``EXE``/``COLLECT``/``BUNDLE`` that record what they were given, so the Windows
  and macOS specs are checked here too (names, console flags, icons, version resource, Info.plist, bundle id).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tray import __version__
from tray.hooks import settings as hook_settings
from tray.platform import autostart

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
PACKAGING = REPO / "packaging"
LINUX = sys.platform.startswith("linux")


def load_common() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("orchestray_packaging_common_test", PACKAGING / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = load_common()


# --- packaging/common.py --------------------------------------------------------------------------------


def test_version_and_bundle_id_come_from_the_package() -> None:
    assert common.read_version() == __version__
    assert common.bundle_id() == autostart.BUNDLE_ID


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.10.3rc1", (2, 10, 3, 0)), ("3.0.0+local.7", (3, 0, 0, 0))],
)
def test_version_tuple(version: str, expected: tuple) -> None:
    assert common.version_tuple(version) == expected


def test_version_tuple_refuses_what_windows_cannot_hold() -> None:
    with pytest.raises(ValueError):
        common.version_tuple("70000.0.0")


@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_hidden_imports_cover_plyer_and_pystray(os_name: str) -> None:
    names = common.hiddenimports(os_name)
    plyer = common.PLYER_PLATFORM[os_name]
    for needed in ("plyer.platforms", f"plyer.platforms.{plyer}", f"plyer.platforms.{plyer}.notification"):
        assert needed in names
    backends = {"windows": ["_win32"], "macos": ["_darwin"], "linux": ["_appindicator", "_gtk", "_xorg"]}[os_name]
    for backend in backends:
        assert f"pystray.{backend}" in names
    if os_name == "linux":
        assert {"dbus", "dbus.mainloop.glib"} <= set(names)
    # desktop-notifier (buttons on notices) picks its backend by platform inside a function: each OS's is listed,
    # with the focus module the tray imports by platform, or the frozen app falls back to notices without buttons.
    own = {"windows": ["desktop_notifier.backends.winrt", "winrt.windows.ui.notifications",
                       "tray.platform.focus_windows"],
           "macos": ["desktop_notifier.backends.macos", "rubicon.objc", "tray.platform.focus_macos"],
           "linux": ["desktop_notifier.backends.dbus", "dbus_fast.aio", "tray.platform.focus_x11"]}[os_name]
    assert {"desktop_notifier", "desktop_notifier.resources", *own} <= set(names)
    assert "tkinter" in common.excludes(os_name)
    with pytest.raises(ValueError):
        common.hiddenimports("beos")


def test_every_hidden_import_of_this_os_exists_here() -> None:
    """Catches a typo in the list: each name must be importable (found) on the OS it is for."""
    own = common.current_os()
    missing = []
    for name in common.hiddenimports(own):
        if name.split(".")[0] in ("pystray", "dbus", "gi", "six"):
            # pystray needs a display to import; dbus/gi are optional extras checked by the self-test; six.moves
            # is a virtual package that find_spec cannot always see.
            continue
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ImportError:
            missing.append(name)
    assert missing == []


def test_assets_are_bundled_where_the_code_looks_for_them() -> None:
    datas = common.asset_datas()
    names = sorted(Path(src).name for src, _ in datas)
    assert names == sorted(p.name for p in (REPO / "tray" / "assets").glob("*.png"))
    assert {dest for _, dest in datas} == {"tray/assets"}
    # autostart.default_icon_path() resolves <package>/assets/orchestray.png, i.e. tray/assets in the bundle.
    assert Path(autostart.default_icon_path() or "").relative_to(REPO).as_posix() == "tray/assets/orchestray.png"


def test_app_icons_hold_every_size() -> None:
    from PIL import Image

    with Image.open(REPO / "assets" / "orchestray.ico") as ico:
        sizes = set(ico.info["sizes"])
    assert {(16, 16), (24, 24), (32, 32), (48, 48), (256, 256)} <= sizes
    with Image.open(REPO / "assets" / "orchestray.icns") as icns:
        assert icns.size[0] >= 512


class _VersionStub:
    """Stand-in for PyInstaller's versioninfo classes: records its arguments."""

    def __init__(self, kind: str, *args: Any, **kwargs: Any) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs


def _parse_version_text(text: str) -> Any:
    """Evaluate version-resource text the way PyInstaller's ``load_version_info_from_text_file`` does."""
    names = ["VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
             "VarStruct"]
    namespace = {name: (lambda *a, _n=name, **k: _VersionStub(_n, *a, **k)) for name in names}
    return eval(compile(text, "version.txt", "eval"), {"__builtins__": {}}, namespace)  # noqa: S307 - our text


def test_windows_version_resource_text() -> None:
    info = _parse_version_text(common.windows_version_text("1.2.3", "OrchestrayTray.exe"))
    assert info.kind == "VSVersionInfo"
    ffi = info.kwargs["ffi"]
    assert ffi.kwargs["filevers"] == ffi.kwargs["prodvers"] == (1, 2, 3, 0)
    table = info.kwargs["kids"][0].args[0][0]
    strings = {s.args[0]: s.args[1] for s in table.args[1]}
    assert strings["OriginalFilename"] == "OrchestrayTray.exe"
    assert strings["FileVersion"] == strings["ProductVersion"] == "1.2.3"
    assert strings["ProductName"] == "Orchestray"
    # Task Manager shows FileDescription as the process name: the tray is just "Orchestray" (issue 17 item 11);
    # the long description moved to Comments.
    assert strings["FileDescription"] == "Orchestray" and strings["Comments"] == common.DESCRIPTION


def test_version_text_survives_quotes_in_strings() -> None:
    text = common.windows_version_text("1.0", "it's.exe", description='say "hi" \\ there')
    strings = {s.args[0]: s.args[1] for s in _parse_version_text(text).kwargs["kids"][0].args[0][0].args[1]}
    assert strings["OriginalFilename"] == "it's.exe" and strings["FileDescription"] == 'say "hi" \\ there'


def test_macos_target_arch_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("ORCHESTRAY_TARGET_ARCH", raising=False)
    assert common.macos_target_arch() is None
    for arch in ("arm64", "x86_64"):
        monkeypatch.setenv("ORCHESTRAY_TARGET_ARCH", arch)
        assert common.macos_target_arch() == arch
    monkeypatch.setenv("ORCHESTRAY_TARGET_ARCH", "universal2")
    with pytest.raises(ValueError, match="one app per arch"):
        common.macos_target_arch()


# --- the specs, executed with stand-ins for PyInstaller -------------------------------------------------


class _Target:
    def __init__(self, kind: str, *args: Any, **kwargs: Any) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.pure, self.scripts, self.binaries, self.datas = ["pure"], ["scripts"], ["binaries"], ["datas"]


def run_spec(name: str, tmp_path: Path, monkeypatch) -> List[_Target]:
    """Execute packaging/<name> as PyInstaller would (same globals), recording every build target."""
    try:
        import PyInstaller.utils.hooks  # noqa: F401 - the real copy_metadata when PyInstaller is installed
    except ImportError:
        hooks = types.ModuleType("PyInstaller.utils.hooks")
        hooks.copy_metadata = lambda dist: []  # type: ignore[attr-defined]
        hooks.collect_data_files = lambda package: []  # type: ignore[attr-defined]
        for module in ("PyInstaller", "PyInstaller.utils"):
            monkeypatch.setitem(sys.modules, module, types.ModuleType(module))
        monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    made: List[_Target] = []

    def factory(kind: str):
        def make(*args: Any, **kwargs: Any) -> _Target:
            target = _Target(kind, *args, **kwargs)
            made.append(target)
            return target

        return make

    namespace: Dict[str, Any] = {kind: factory(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace.update(SPECPATH=str(PACKAGING), SPEC=str(PACKAGING / name), specnm=name.rsplit(".", 1)[0],
                     workpath=str(tmp_path / "work"), DISTPATH=str(tmp_path / "dist"), __name__="__main__")
    path = PACKAGING / name
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102 - our spec
    return made


def _one(made: List[_Target], kind: str) -> _Target:
    found = [t for t in made if t.kind == kind]
    assert len(found) == 1, [t.kind for t in made]
    return found[0]


def _main_exe(made: List[_Target], name: str) -> _Target:
    found = [t for t in made if t.kind == "EXE" and t.kwargs["name"] == name]
    assert len(found) == 1, [t.kwargs.get("name") for t in made if t.kind == "EXE"]
    return found[0]


def _check_analysis(made: List[_Target], os_name: str) -> None:
    analyses = [t for t in made if t.kind == "Analysis"]
    assert [a.args[0] for a in analyses] == [[str(PACKAGING / "entry.py")], [str(PACKAGING / "hook_entry.py")]]
    analysis, hook_analysis = analyses
    _check_hook_program(made, hook_analysis, os_name)
    assert analysis.kwargs["hiddenimports"] == common.hiddenimports(os_name)
    assert ("tray/assets" in {dest for _, dest in analysis.kwargs["datas"]})
    assert analysis.kwargs["pathex"] == [str(REPO)]
    for exe in (t for t in made if t.kind == "EXE"):
        assert exe.kwargs["upx"] is False and exe.kwargs["exclude_binaries"] is True  # onedir
    assert _one(made, "COLLECT").kwargs["upx"] is False


def _check_hook_program(made: List[_Target], hook_analysis: _Target, os_name: str) -> None:
    """The hook program (issue 13): its own analysis without the GUI, a console program, in the same folder."""
    assert hook_analysis.kwargs == common.hook_analysis_options(os_name)
    assert hook_analysis.kwargs["hiddenimports"] == [] and hook_analysis.kwargs["datas"] == []
    for gui in ("pystray", "PIL", "gi", "plyer", "multiprocessing", "tray.app", "tray.cli"):
        assert gui in hook_analysis.kwargs["excludes"]
    hook = _main_exe(made, common.HOOK_NAME)
    hook_pyz = [t for t in made if t.kind == "PYZ" and t.args[0] is hook_analysis.pure]
    assert len(hook_pyz) == 1 and hook.args[:2] == (hook_pyz[0], hook_analysis.scripts)
    assert hook.kwargs["console"] is True
    collect = _one(made, "COLLECT")
    assert hook in collect.args and hook_analysis.binaries in collect.args


def test_windows_spec(tmp_path: Path, monkeypatch) -> None:
    made = run_spec("orchestray-windows.spec", tmp_path, monkeypatch)
    _check_analysis(made, "windows")
    exes = {t.kwargs["name"]: t for t in made if t.kind == "EXE"}
    assert set(exes) == {"OrchestrayTray", "orchestray", "orchestray-hook"}
    assert exes["OrchestrayTray"].kwargs["console"] is False and exes["orchestray"].kwargs["console"] is True
    # One folder for all; Windows names are case-insensitive, so they must differ by more than case.
    assert len({name.lower() for name in exes}) == 3
    collect = _one(made, "COLLECT")
    assert set(collect.args[:3]) == set(exes.values()) and collect.kwargs["name"] == "Orchestray"
    for name, exe in exes.items():
        assert exe.kwargs["icon"] == [str(REPO / "assets" / "orchestray.ico")]
        version_file = Path(exe.kwargs["version"])
        assert version_file.is_file() and version_file.is_relative_to(tmp_path / "work")
        strings = {s.args[0]: s.args[1]
                   for s in _parse_version_text(version_file.read_text()).kwargs["kids"][0].args[0][0].args[1]}
        assert strings["OriginalFilename"] == f"{name}.exe" and strings["FileVersion"] == __version__
        # Task Manager shows FileDescription as the process name (issue 17 item 11): short, and says whose.
        assert strings["FileDescription"].startswith("Orchestray") and len(strings["FileDescription"]) <= 24
    # The names the running code expects (autostart launches the windowed one; hooks run the console one).
    from tray import selftest

    assert f"{exes['OrchestrayTray'].kwargs['name']}.exe" == selftest.WINDOWS_TRAY_EXE
    assert f"{exes['orchestray'].kwargs['name']}.exe" == selftest.WINDOWS_CLI_EXE
    assert hook_settings.orchestray_subcommand(r'"C:\Program Files\Orchestray\orchestray.exe" hook prompt') == "prompt"


def test_macos_spec(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ORCHESTRAY_TARGET_ARCH", "x86_64")
    monkeypatch.setenv("ORCHESTRAY_CODESIGN_IDENTITY", "Developer ID Application: Someone (TEAMID)")
    monkeypatch.delenv("ORCHESTRAY_ENTITLEMENTS", raising=False)
    made = run_spec("orchestray-macos.spec", tmp_path, monkeypatch)
    _check_analysis(made, "macos")
    exe = _main_exe(made, "Orchestray")
    assert exe.kwargs["console"] is False
    assert exe.kwargs["target_arch"] == "x86_64"
    assert exe.kwargs["codesign_identity"] == "Developer ID Application: Someone (TEAMID)"
    assert exe.kwargs["entitlements_file"] == str(PACKAGING / "entitlements.plist")
    assert (PACKAGING / "entitlements.plist").is_file()
    bundle = _one(made, "BUNDLE")
    assert bundle.args == (_one(made, "COLLECT"),)
    assert _one(made, "COLLECT").args[0] is exe  # the first program is the bundle's CFBundleExecutable
    assert bundle.kwargs["name"] == "Orchestray.app"
    assert bundle.kwargs["bundle_identifier"] == autostart.BUNDLE_ID
    assert bundle.kwargs["version"] == __version__
    assert bundle.kwargs["icon"] == str(REPO / "assets" / "orchestray.icns")
    plist = bundle.kwargs["info_plist"]
    assert plist["LSUIElement"] is True and plist["NSHighResolutionCapable"] is True
    # Notices keep their buttons on screen ("alert"), and macOS names why Focus terminal sends Apple Events.
    assert plist["NSUserNotificationAlertStyle"] == "alert" and plist["NSAppleEventsUsageDescription"]
    assert plist["CFBundleShortVersionString"] == __version__
    # The .app's program is recognised as Orchestray's hook command (names compare case-insensitively).
    command = "/Applications/Orchestray.app/Contents/MacOS/Orchestray hook session-start"
    assert hook_settings.orchestray_subcommand(command) == "session-start"


def test_macos_spec_defaults_to_ad_hoc_signing_for_the_running_arch(tmp_path: Path, monkeypatch) -> None:
    for name in ("ORCHESTRAY_TARGET_ARCH", "ORCHESTRAY_CODESIGN_IDENTITY", "ORCHESTRAY_ENTITLEMENTS"):
        monkeypatch.delenv(name, raising=False)
    exe = _main_exe(run_spec("orchestray-macos.spec", tmp_path, monkeypatch), "Orchestray")
    assert exe.kwargs["target_arch"] is None
    assert exe.kwargs["codesign_identity"] is None and exe.kwargs["entitlements_file"] is None


def test_linux_spec(tmp_path: Path, monkeypatch) -> None:
    made = run_spec("orchestray-linux.spec", tmp_path, monkeypatch)
    _check_analysis(made, "linux")
    exe = _main_exe(made, "orchestray")
    assert exe.kwargs["console"] is True
    assert _one(made, "COLLECT").kwargs["name"] == "orchestray"
    assert not [t for t in made if t.kind == "BUNDLE"]


@pytest.mark.skipif(not LINUX, reason="elsewhere a display is always assumed, so no arguments would start a tray")
def test_entry_dispatches_like_the_command(tmp_path: Path) -> None:
    """packaging/entry.py run by a plain interpreter: no arguments means the tray, `hook` the fast path."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(REPO), ORCHESTRAY_STATE_DIR=str(tmp_path / "state"),
               ORCHESTRAY_LOG_DIR=str(tmp_path / "log"), ORCHESTRAY_REGISTRY_DIR=str(tmp_path / "registry"))
    entry = str(PACKAGING / "entry.py")
    done = subprocess.run([sys.executable, entry], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "no display" in done.stderr
    done = subprocess.run([sys.executable, entry, "hook", "prompt"], env=env, input="garbage{", capture_output=True,
                          text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = subprocess.run([sys.executable, entry, "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == f"orchestray {__version__}"
