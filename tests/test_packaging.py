"""Packaging (issue #5): the PyInstaller specs, and the frozen Linux build used as a person would use it.

Two parts:

* The specs and ``packaging/common.py``, without building: each spec is executed with stand-ins for
  PyInstaller's ``Analysis``/``EXE``/``COLLECT``/``BUNDLE`` that record what they were given, so the Windows
  and macOS specs are checked here too (names, console flags, icons, version resource, Info.plist, bundle id).
* The frozen build (``slow``): ``packaging/build-linux.sh`` builds ``dist/orchestray/orchestray``; these tests
  run that binary: its self-test without and with a real desktop, the real-desktop tray menu test of
  tests/test_tray_desktop.py, Claude Code's hooks through a fake Claude Code, ``hook prompt`` with garbage on
  stdin, and ``autostart``. The binary is ``$ORCHESTRAY_FROZEN`` (CI sets it: a missing binary then fails the
  test), else ``dist/orchestray/orchestray`` if it was built; without either these tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tray import __version__
from tray.hooks import settings as hook_settings
from tray.platform import autostart

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PACKAGING = REPO / "packaging"
FROZEN_ENV = "ORCHESTRAY_FROZEN"
DEFAULT_FROZEN = REPO / "dist" / "orchestray" / "orchestray"
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


# --- the frozen build -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frozen() -> Path:
    """The frozen binary: $ORCHESTRAY_FROZEN (must exist), else dist/orchestray/orchestray, else skip."""
    configured = os.environ.get(FROZEN_ENV, "").strip()
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"{FROZEN_ENV}={configured} but there is no executable there: "
                        "run bash packaging/build-linux.sh")
        return path.resolve()
    if DEFAULT_FROZEN.is_file():
        return DEFAULT_FROZEN
    pytest.skip(f"no frozen build: run bash packaging/build-linux.sh (or set {FROZEN_ENV})")


def sandbox_env(tmp_path: Path, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(base if base is not None else os.environ)
    for name in ("PYTHONPATH", "CLAUDE_CODE_SESSION_ID", "CLAUDECODE", "PYSTRAY_BACKEND"):
        env.pop(name, None)
    env.update(
        ORCHESTRAY_REGISTRY_DIR=str(tmp_path / "registry"),
        ORCHESTRAY_LOG_DIR=str(tmp_path / "log"),
        ORCHESTRAY_CONFIG_DIR=str(tmp_path / "config"),
        ORCHESTRAY_STATE_DIR=str(tmp_path / "state"),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )
    return env


def headless(env: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def run_frozen(frozen: Path, env: Dict[str, str], *args: str, stdin: str = "", timeout: float = 60):
    return subprocess.run([str(frozen), *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_frozen_version_and_start_time(frozen: Path, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    started = time.perf_counter()
    done = run_frozen(frozen, env, "--version")
    elapsed = time.perf_counter() - started
    assert (done.returncode, done.stdout.strip()) == (0, f"orchestray {__version__}")
    assert elapsed < 10.0  # measured about 0.1 s for the onedir (packaging/README.md); generous for slow CI


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="the Linux build")
def test_frozen_without_arguments_starts_the_tray(frozen: Path, tmp_path: Path) -> None:
    done = run_frozen(frozen, headless(sandbox_env(tmp_path)))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestray: no display: the tray needs a graphical session (DISPLAY is not set)"
    ]


@pytest.mark.slow
def test_frozen_self_test_without_a_display(frozen: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    done = run_frozen(frozen, headless(sandbox_env(tmp_path)), "self-test", "--report", str(report_file))
    report = json.loads(report_file.read_text())
    assert done.returncode == 0, report["failed"]
    assert report["frozen"] is True and report["executable"] == str(frozen)
    assert Path(report["bundle_dir"]) == frozen.parent / "_internal"
    checks = report["checks"]
    assert checks["tray_backend"]["required"] is False and checks["tray_backend"]["skipped"]
    bundled = checks["tray_backends_bundled"]["detail"]
    assert {"_appindicator", "_gtk", "_xorg"} <= set(bundled["pystray_modules"])
    assert bundled["gtk_typelib"] == "3.0" and bundled["appindicator_typelibs"]
    assert checks["notifications"]["detail"]["plyer"]["implementation"] == "NotifyDbus"  # dbus-python bundled
    assert checks["dbus"]["ok"] is True
    assert checks["hooks"]["detail"]["command_prefix"] == [str(frozen)]
    assert checks["autostart"]["detail"]["command"] == [str(frozen), "tray"]
    assert Path(checks["assets"]["detail"]["app_icon"]).is_relative_to(frozen.parent / "_internal" / "tray")
    assert not any(v.startswith(("missing", "unknown")) for v in report["versions"].values()), report["versions"]


@pytest.mark.slow
def test_frozen_self_test_on_a_real_desktop(frozen: Path, desktop, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path, desktop.env)
    report_file = tmp_path / "report.json"
    done = run_frozen(frozen, env, "--self-test", "--report", str(report_file), "--notify")
    report = json.loads(report_file.read_text())
    assert done.returncode == 0, (report["failed"], done.stderr)
    backend = report["checks"]["tray_backend"]
    assert backend["ok"] and backend["required"]
    assert backend["detail"]["backend"] == "appindicator" and backend["detail"]["has_menu"]
    assert report["checks"]["notifications"]["detail"]["sent"]["delivered"] is True
    received = desktop.wait_for(
        lambda: [n for n in desktop.notifications() if n["summary"] == "Orchestray self-test"], timeout=10
    )
    assert len(received) == 1


@pytest.mark.slow
def test_frozen_tray_menu_on_a_real_desktop(frozen: Path, desktop, tmp_path: Path, procs, monkeypatch) -> None:
    """tests/test_tray_desktop.py's whole menu scenario (promote, notify, clean, quit), run by the frozen binary."""
    import test_tray_desktop

    monkeypatch.setenv(test_tray_desktop.TRAY_CMD_ENV, shlex.quote(str(frozen)))
    assert test_tray_desktop.tray_command() == [str(frozen)]
    test_tray_desktop.test_tray_menu_promote_notify_clean_quit(desktop, tmp_path, procs)


@pytest.mark.slow
def test_frozen_hook_prompt_with_garbage_is_silent(frozen: Path, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    for garbage in ("not json {{{", "", "\x00\xff" * 100, '{"session_id": "../../etc/passwd"}'):
        done = run_frozen(frozen, env, "hook", "prompt", stdin=garbage)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), garbage
    assert not (tmp_path / "registry").exists() or not list((tmp_path / "registry").glob("*.json"))


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="fake_claude.py relies on /proc names (Linux)")
def test_frozen_hooks_run_by_a_fake_claude_code(frozen: Path, tmp_path: Path) -> None:
    """`hooks install` by the frozen program, then Claude Code's hook calls, through /bin/sh, as Claude runs them."""
    env = sandbox_env(tmp_path)
    settings_file = tmp_path / "claude" / "settings.json"
    done = run_frozen(frozen, env, "hooks", "install", "--settings", str(settings_file))
    assert done.returncode == 0, done.stderr
    commands = [hook["command"] for groups in json.loads(settings_file.read_text())["hooks"].values()
                for group in groups for hook in group["hooks"]]
    assert commands and all(shlex.split(c)[:2] == [str(frozen), "hook"] for c in commands)

    link = tmp_path / "bin" / "claude"  # a process named `claude`, as tray.core.ancestry looks for
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    project = tmp_path / "project"
    project.mkdir()
    claude = subprocess.Popen([str(link), str(TESTS / "fake_claude.py"), "--settings", str(settings_file)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=str(project))
    try:
        assert claude.stdin is not None and claude.stdout is not None

        def send(line: str) -> Dict[str, Any]:
            claude.stdin.write((line + "\n").encode())
            claude.stdin.flush()
            reply = json.loads(claude.stdout.readline())
            assert reply.get("ok"), reply
            return reply

        started = send(f"start frozen-1 {shlex.quote(str(project))}")
        assert [h["exit_code"] for h in started["hooks"]] == [0]
        assert "ORCHESTRATOR" in started["context"][0]
        entry = json.loads((tmp_path / "registry" / "frozen-1.json").read_text())
        assert entry["pid"] == claude.pid and entry["role"] == "orchestrator"
        prompt = send("prompt frozen-1 hello")
        assert prompt["hooks"][0]["exit_code"] == 0 and prompt["hooks"][0]["stdout"] == ""
        send("end frozen-1")
        assert not (tmp_path / "registry" / "frozen-1.json").exists()
    finally:
        claude.kill()
        claude.wait(timeout=10)
        for stream in (claude.stdin, claude.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="the XDG autostart backend")
def test_frozen_autostart_points_at_the_frozen_program(frozen: Path, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    desktop_file = tmp_path / "xdg-config" / "autostart" / "orchestray.desktop"
    done = run_frozen(frozen, env, "autostart", "on")
    assert (done.returncode, done.stdout.strip()) == (0, f"start at login: on ({desktop_file})")
    assert f"Exec={autostart.desktop_exec([str(frozen), 'tray'])}\n" in desktop_file.read_text()
    icon_line = next(line for line in desktop_file.read_text().splitlines() if line.startswith("Icon="))
    assert Path(icon_line[5:]).is_file()  # the bundled tray/assets/orchestray.png
    done = run_frozen(frozen, env, "autostart", "off")
    assert (done.returncode, done.stdout.strip()) == (0, f"start at login: off ({desktop_file})")
    assert not desktop_file.exists()
