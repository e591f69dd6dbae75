"""`orchestray self-test` and `orchestray autostart` (issue #5), from source.

The self-test runs for real: in this process for the report's shape and its failure handling, and as the real
command in a subprocess without a display (``env -u DISPLAY``: the tray backend is reported as skipped, every
other check must pass). On a real private desktop it runs in tests/desktop/test_selftest_desktop.py; the frozen
build runs the same self-test in tests/e2e/test_frozen.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List

import pytest
from helpers import headless_env, orchestray

from tray import __version__, selftest
from tray.platform import autostart

LINUX = sys.platform.startswith("linux")
EXPECTED_CHECKS = {
    "modules",
    "tray_backends_bundled",
    "tray_backend",
    "notifications",
    "platformdirs",
    "psutil",
    "registry",
    "hooks",
    "autostart",
    "assets",
}


# --- the report, in this process ------------------------------------------------------------------------


def test_report_shape_and_verdict_agree(tmp_path: Path) -> None:
    report = selftest.build_report(registry_dir=str(tmp_path / "registry"))
    assert report["format"] == selftest.REPORT_FORMAT
    assert report["orchestray"] == __version__ == report["versions"]["orchestray"]
    assert report["frozen"] is False and report["bundle_dir"] is None
    assert set(report["checks"]) >= EXPECTED_CHECKS
    for name, check in report["checks"].items():
        assert isinstance(check["ok"], bool) and isinstance(check["required"], bool), name
        assert isinstance(check["detail"], dict), name
        assert check["ok"] or check.get("error"), f"{name} failed without saying why"
    failed = [name for name, check in report["checks"].items() if check["required"] and not check["ok"]]
    assert report["failed"] == failed
    assert report["passed"] is (not failed)
    json.dumps(report)  # serialisable as is


def test_report_contents_from_source(tmp_path: Path) -> None:
    report = selftest.build_report(registry_dir=str(tmp_path / "registry"))
    checks = report["checks"]
    assert checks["registry"]["detail"] == {"path": str(tmp_path / "registry"), "exists": False,
                                            "note": "created by the first registration"}
    assert checks["psutil"]["ok"] and checks["psutil"]["detail"]["pid"] == os.getpid()
    hooks = checks["hooks"]["detail"]
    assert hooks["command_prefix"][0] == os.path.abspath(sys.executable)
    assert hooks["prompt_command"].endswith("hook prompt") and hooks["runs"] is True  # really ran, as Claude Code would
    assert checks["autostart"]["detail"]["command"] == autostart.launch_command()
    assert checks["assets"]["detail"]["app_icon_size"] == [256, 256]
    assert checks["notifications"]["detail"]["chain"]  # names only: nothing was sent
    assert "sent" not in checks["notifications"]["detail"]
    for package in ("pystray", "Pillow", "psutil", "platformdirs", "plyer"):
        assert not report["versions"][package].startswith("missing"), report["versions"]


def test_a_failing_required_check_fails_the_run_and_is_named(tmp_path: Path, monkeypatch, capsys) -> None:
    def broken(check: selftest.Check) -> None:
        raise RuntimeError("psutil is broken\non two lines")

    monkeypatch.setattr(selftest, "check_psutil", broken)
    report_file = tmp_path / "report.json"
    assert selftest.run(report_path=str(report_file), registry_dir=str(tmp_path / "registry")) == 1
    report = json.loads(report_file.read_text())
    assert report["passed"] is False and "psutil" in report["failed"]
    assert report["checks"]["psutil"]["error"] == "RuntimeError: psutil is broken on two lines"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"orchestray: self-test FAILED ({', '.join(report['failed'])}); report in {report_file}"
    ]


def test_a_registry_path_that_is_a_file_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "registry"
    blocker.write_text("not a folder")
    check = selftest._run(selftest.Check("registry"), lambda c: selftest.check_registry(c, str(blocker)))
    assert not check.ok and "is not a folder" in check.error


def test_report_goes_to_stdout_without_report_file(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(selftest, "build_report", lambda **_: {"passed": True, "failed": [], "checks": {}})
    assert selftest.run() == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"passed": True, "failed": [], "checks": {}} and err == ""


# --- the frozen layout ----------------------------------------------------------------------------------


def test_windows_layout_autostart_launches_the_windowed_program(tmp_path: Path) -> None:
    cli = tmp_path / "orchestray.exe"
    tray = tmp_path / selftest.WINDOWS_TRAY_EXE
    cli.write_bytes(b"")
    assert selftest.tray_executable(frozen=True, platform="win32", executable=str(cli)) is None  # not built yet
    tray.write_bytes(b"")
    assert selftest.tray_executable(frozen=True, platform="win32", executable=str(cli)) == str(tray)
    assert selftest.cli_executable(frozen=True, platform="win32", executable=str(tray)) == str(cli)
    assert selftest.cli_executable(frozen=True, platform="win32", executable=str(cli)) == str(cli)
    # Elsewhere, and from source, the program itself (None: autostart's own default).
    assert selftest.tray_executable(frozen=True, platform="linux", executable=str(cli)) is None
    assert selftest.tray_executable(frozen=False, platform="win32", executable=str(cli)) is None
    assert selftest.cli_executable(frozen=False) is None
    mac = tmp_path / "Orchestray"
    assert selftest.cli_executable(frozen=True, platform="darwin", executable=str(mac)) == str(mac)


# --- the real command -----------------------------------------------------------------------------------


@pytest.mark.skipif(not LINUX, reason="DISPLAY decides about a display on Linux only")
def test_self_test_without_a_display_reports_it_and_passes(tmp_path: Path) -> None:
    done = orchestray(headless_env(tmp_path), "self-test")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True and report["failed"] == []
    backend = report["checks"]["tray_backend"]
    assert backend["ok"] is False and backend["required"] is False
    assert backend["skipped"] == "no display: the tray needs a graphical session (DISPLAY is not set)"
    assert "pystray" in backend["error"]
    bundled = report["checks"]["tray_backends_bundled"]
    assert bundled["ok"] and {"_appindicator", "_gtk", "_xorg"} <= set(bundled["detail"]["pystray_modules"])
    assert bundled["detail"]["gtk_typelib"] == "3.0"
    plyer = report["checks"]["notifications"]["detail"]["plyer"]
    assert plyer["module"] == "plyer.platforms.linux.notification" and plyer["implementation"]
    buttons = report["checks"]["notification_buttons"]
    assert buttons["ok"] and buttons["required"]
    assert buttons["detail"]["modules"][-1] == "desktop_notifier.backends.dbus"
    assert report["checks"]["registry"]["detail"]["path"] == str(tmp_path / "registry")
    assert done.stderr == ""


def test_self_test_alias_writes_the_report_file(tmp_path: Path) -> None:
    report_file = tmp_path / "out" / "report.json"
    report_file.parent.mkdir()
    done = orchestray(headless_env(tmp_path), "--self-test", "--report", str(report_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"orchestray: self-test passed; report in {report_file}"]
    report = json.loads(report_file.read_text())
    assert report["passed"] is True
    assert sorted(os.listdir(report_file.parent)) == ["report.json"]  # no temp file left behind


def test_self_test_registry_dir_option(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.json").write_text("{}")
    done = orchestray(headless_env(tmp_path), "self-test", "--registry-dir", str(tmp_path / "elsewhere"))
    report = json.loads(done.stdout)
    assert report["checks"]["registry"]["detail"]["path"] == str(tmp_path / "elsewhere")
    assert report["checks"]["registry"]["detail"]["entries"] == 1


def test_self_test_report_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    done = orchestray(headless_env(tmp_path), "self-test", "--report", str(tmp_path / "missing" / "r.json"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("orchestray: cannot write the report: ")
    assert lines[0].endswith(str(tmp_path / "missing" / "r.json"))


# --- orchestray autostart -------------------------------------------------------------------------------


@pytest.mark.skipif(not LINUX, reason="the XDG backend; the others are unit-tested in test_autostart.py")
def test_autostart_on_status_off(tmp_path: Path) -> None:
    env = headless_env(tmp_path)
    desktop_file = tmp_path / "xdg-config" / "autostart" / "orchestray.desktop"

    def run(action: str) -> List[str]:
        done = orchestray(env, "autostart", action)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout.splitlines()

    assert run("status") == [f"start at login: off ({desktop_file})"]
    assert run("on") == [f"start at login: on ({desktop_file})"]
    text = desktop_file.read_text()
    assert f"Exec={autostart.desktop_exec(autostart.launch_command())}" in text
    assert run("status") == [f"start at login: on ({desktop_file})"]
    assert run("on") == [f"start at login: on ({desktop_file})"]  # idempotent
    assert run("off") == [f"start at login: off ({desktop_file})"]
    assert not desktop_file.exists()
    assert run("off") == [f"start at login: off ({desktop_file})"]


@pytest.mark.skipif(not LINUX, reason="the XDG backend")
def test_autostart_refuses_a_foreign_file_in_one_line(tmp_path: Path) -> None:
    env = headless_env(tmp_path)
    desktop_file = tmp_path / "xdg-config" / "autostart" / "orchestray.desktop"
    desktop_file.parent.mkdir(parents=True)
    desktop_file.write_text("[Desktop Entry]\nType=Application\nExec=something-else\n")
    done = orchestray(env, "autostart", "on")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"orchestray: {desktop_file} exists and was not written by Orchestray; leaving it alone"
    ]
    assert "something-else" in desktop_file.read_text()


def test_autostart_bad_action_is_usage_error(tmp_path: Path) -> None:
    done = orchestray(headless_env(tmp_path), "autostart", "maybe")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
