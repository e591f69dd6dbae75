"""The frozen Linux build (issue #5), used as a person would use it (``slow``).

``packaging/build-linux.sh`` builds ``dist/orchestray/orchestray``; these tests run that binary: its self-test
without and with a real desktop, the real-desktop tray menu test of tests/desktop/test_tray_desktop.py, Claude
Code's hooks through a fake Claude Code, ``hook prompt`` with garbage on stdin, and ``autostart``. The binary is
``$ORCHESTRAY_FROZEN`` (CI sets it: a missing binary then fails the test), else ``dist/orchestray/orchestray`` if
it was built; without either these tests skip. The specs themselves are checked in tests/unit/test_packaging.py.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional
from xml.etree import ElementTree

import pytest
from desktop import FOCUS_PACKAGES, FOCUS_TOOLS, require_desktop, require_tools
from hook_sandbox import start_fake_claude
from tray_under_test import TRAY_CMD_ENV

from tray import __version__
from tray.platform import autostart

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FROZEN_ENV = "ORCHESTRAY_FROZEN"
DEFAULT_FROZEN = REPO / "dist" / "orchestray" / "orchestray"
LINUX = sys.platform.startswith("linux")


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
def test_frozen_version(frozen: Path, tmp_path: Path) -> None:
    """The frozen app answers --version (how fast: bench/bench.py, "Frozen app start")."""
    done = run_frozen(frozen, sandbox_env(tmp_path), "--version")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, f"orchestray {__version__}", "")


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
    assert checks["hooks"]["detail"]["command_prefix"] == [str(frozen.parent / "orchestray-hook")]
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
    # trayer is an XEmbed host with no StatusNotifierWatcher: the frozen app picks the gtk backend, as the tray does.
    assert backend["detail"]["backend"] == "gtk" and backend["detail"]["has_menu"]
    assert "no StatusNotifierWatcher" in backend["detail"]["choice"]
    assert report["checks"]["notifications"]["detail"]["sent"]["delivered"] is True
    received = desktop.wait_for(
        lambda: [n for n in desktop.notifications() if n["summary"] == "Orchestray self-test"], timeout=10
    )
    assert len(received) == 1


def run_desktop_tests(frozen: Path, tmp_path: Path, *tests: str) -> None:
    """Run these tests of tests/desktop (``file.py::name``) in a pytest of their own, with ORCHESTRAY_TRAY_CMD
    pointing them at the frozen app; each must pass, a skip counts as a failure here. (Their own module is
    never imported here: test modules do not import each other.)"""
    report = tmp_path / "desktop-tests.xml"
    env = {**os.environ, TRAY_CMD_ENV: shlex.quote(str(frozen))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'runs'}",
         f"--junitxml={report}", *(str(TESTS / "desktop" / test) for test in tests)],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
    )
    outcomes = {}
    if report.exists():
        for case in ElementTree.parse(report).iter("testcase"):
            bad = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            module = (case.get("classname") or "").split(".")[-1]  # tests.desktop.test_x: a module-level test
            outcomes[f"{module}.py::{case.get('name')}"] = bad[0] if bad else "passed"
    expected = {test.split("/")[-1]: "passed" for test in tests}
    assert done.returncode == 0 and outcomes == expected, f"{outcomes}\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"


@pytest.mark.slow
@pytest.mark.desktop
def test_frozen_tray_menu_on_a_real_desktop(frozen: Path, tmp_path: Path) -> None:
    """The whole menu scenario of tests/desktop/test_tray_desktop.py (promote, notify, clean, quit), run frozen."""
    require_desktop()
    run_desktop_tests(frozen, tmp_path, "test_tray_desktop.py::test_tray_menu_promote_notify_clean_quit")


@pytest.mark.slow
@pytest.mark.desktop
def test_frozen_tray_on_a_status_notifier_desktop(frozen: Path, tmp_path: Path) -> None:
    """tests/desktop/test_tray_sni.py's scenario, run frozen: the bundle asks the bus (Gio), loads the appindicator
    backend, and the SNI host draws its icon and the menu it exports (promote, quit)."""
    require_desktop("sni")
    run_desktop_tests(frozen, tmp_path, "test_tray_sni.py::test_sni_desktop_menu_as_exported_promote_and_quit")


@pytest.mark.slow
@pytest.mark.desktop
def test_frozen_notification_buttons_and_focus(frozen: Path, tmp_path: Path) -> None:
    """desktop-notifier and "Focus terminal" in the frozen app (their modules are picked at run time, so a
    missing hidden import would only show here): the scenarios of tests/desktop/test_actions_desktop.py."""
    require_desktop()
    require_tools(FOCUS_TOOLS, FOCUS_PACKAGES)
    run_desktop_tests(frozen, tmp_path,
                      "test_actions_desktop.py::test_promote_picked_in_dunst_and_one_notice_per_death",
                      "test_actions_desktop.py::test_focus_terminal_raises_the_right_xterm_and_tmux_pane")


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
    done = run_frozen(frozen, env, "hooks", "install", "--settings", str(settings_file), "--form", "shell")
    assert done.returncode == 0, done.stderr
    commands = [hook["command"] for groups in json.loads(settings_file.read_text())["hooks"].values()
                for group in groups for hook in group["hooks"]]
    # The hooks run the small hook program beside the main one (issue 13), not the main program.
    assert commands and all(shlex.split(c)[:2] == [str(frozen.parent / "orchestray-hook"), "hook"] for c in commands)

    project = tmp_path / "project"
    project.mkdir()
    claude = start_fake_claude(tmp_path, settings_file, env, project)
    try:
        started = claude.start("frozen-1", project)
        assert [h["exit_code"] for h in started["hooks"]] == [0]
        assert "ORCHESTRATOR" in started["context"][0]
        entry = json.loads((tmp_path / "registry" / "frozen-1.json").read_text())
        assert entry["pid"] == claude.pid and entry["role"] == "orchestrator"
        prompt = claude.prompt("frozen-1", "hello")
        assert prompt["hooks"][0]["exit_code"] == 0 and prompt["hooks"][0]["stdout"] == ""
        claude.end("frozen-1")
        assert not (tmp_path / "registry" / "frozen-1.json").exists()
    finally:
        claude.kill()


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
