"""Windows and macOS rules reached on Linux (issue 17 items 6, 9 and 10, and the native binary's name).

* Item 6: a program running from a macOS App Translocation path is refused as a login item, with one line.
* Item 9: Git Bash's `bash.exe` / `sh.exe` are skipped like `sh` when finding the process a registration
  belongs to. Real processes: a real bash and sh started under those names (a symlink named `bash.exe`).
* Item 10: hooks never share the tray's rotating log: they append to `hooks.log`, which is never rolled over
  while open (a rename fails on Windows while another process holds the file).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tray import cli
from tray.core import ancestry
from tray.core import log as tray_log
from tray.platform import autostart

REPO = Path(__file__).resolve().parents[2]
TRANSLOCATED = (
    "/private/var/folders/x1/abcd1234/T/AppTranslocation/6F3A1C2E-0000-4B5B-9C1D-2A4B6C8D0E1F/d/"
    "Orchestray.app/Contents/MacOS/Orchestray"
)


# --- item 6: App Translocation ---------------------------------------------------------------------------


def test_launch_agent_refuses_a_translocated_program(tmp_path: Path) -> None:
    agent = autostart.LaunchAgentAutostart(home=tmp_path)
    with pytest.raises(autostart.AppTranslocated) as refused:
        agent.enable([TRANSLOCATED, "tray"])
    message = str(refused.value)
    assert "\n" not in message and "App Translocation" in message and "/Applications" in message
    assert not agent.path.exists() and not agent.is_enabled()


def test_launch_agent_takes_an_installed_program(tmp_path: Path) -> None:
    agent = autostart.LaunchAgentAutostart(home=tmp_path)
    agent.enable(["/Applications/Orchestray.app/Contents/MacOS/Orchestray", "tray"])
    assert agent.is_enabled()


def test_autostart_on_from_a_translocated_app_says_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`orchestray autostart on` as the frozen macOS app started from Downloads would run it."""
    agent = autostart.LaunchAgentAutostart(home=tmp_path)
    monkeypatch.setattr(autostart, "for_platform", lambda *a, **k: agent)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", TRANSLOCATED)
    code = cli.main(["autostart", "on"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_REFUSED
    assert err.count("\n") == 1 and err.startswith("orchestray: ") and "App Translocation" in err
    assert not agent.path.exists()


# --- item 9: Git Bash shells in the ancestry ---------------------------------------------------------------

REPORT = "from tray.core.ancestry import session_pid; print(session_pid())"


@pytest.mark.skipif(os.name != "posix" or not (shutil.which("bash") and shutil.which("sh")),
                    reason="POSIX bash and sh, started under Windows names through symlinks")
@pytest.mark.parametrize("names", [("bash.exe",), ("sh.exe",), ("bash.exe", "bash.exe")])
def test_git_bash_shells_are_skipped(tmp_path: Path, names: tuple) -> None:
    """`bash.exe -c` (and Git Bash's launcher `bash.exe` starting `usr\\bin\\bash.exe -c`) between us and the
    program that ran the hook: the registration belongs to that program (this test), not to a shell.

    Each shell runs one more command after ours (`; exit $?`), so it stays our parent instead of exec'ing."""
    for name in set(names):
        (tmp_path / name).symlink_to(shutil.which("bash" if name.startswith("bash") else "sh"))
    argv = [sys.executable, "-c", REPORT]
    for name in reversed(names):
        argv = [str(tmp_path / name), "-c", shlex.join(argv) + "; exit $?"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == os.getpid()


#: A program between Claude Code and the hook that is not a shell (a wrapper such as `uv run`, or the venv
#: launcher `python.exe` on Windows): the registration must skip it only because Claude Code is found above it.
WRAPPER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("sh"),
                    reason="Linux names a process after the file it runs, as macOS does")
@pytest.mark.parametrize(("folder", "argv0", "is_claude"), [
    (".local/share/claude/versions", "path", True),  # started by its path (the desktop app, an editor)
    (".local/share/claude/versions", "claude", True),  # started as `claude` through ~/.local/bin/claude
    ("Downloads/tools", "path", False),  # a program named like a version elsewhere is not Claude Code
])
def test_the_native_installers_claude_named_after_its_version_is_found(
    tmp_path: Path, folder: str, argv0: str, is_claude: bool
) -> None:
    """Risk to settle from issue 17: the native installer's Claude Code runs from `.../claude/versions/2.1.332`,
    and macOS names the process `2.1.332`. A real process of that name (a copy of `sh`) runs a hook through
    `sh -c` and a wrapper; the registration must name it, not the wrapper."""
    program = tmp_path / folder / "2.1.332"
    program.parent.mkdir(parents=True)
    shutil.copy2(os.path.realpath(shutil.which("sh") or "sh"), program)
    hook = [sys.executable, "-c", WRAPPER, sys.executable, "-c", REPORT]
    inner = shlex.join(["sh", "-c", shlex.join(hook) + "; exit $?"]) + "; exit $?"
    argv = [str(program) if argv0 == "path" else "claude", "-c", inner]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(argv, executable=str(program), env=env, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == 0
    registered = int(out.strip())
    # Claude Code's process; otherwise the nearest program that is not a shell, the wrapper
    assert (registered == process.pid) is is_claude


def test_shell_names_cover_windows_shells() -> None:
    for name in ("bash.exe", "sh.exe", "cmd.exe", "powershell.exe", "pwsh.exe"):
        assert name in ancestry.SHELL_NAMES


# --- risk: a console window for each hook ------------------------------------------------------------------

#: Records every attempt to start a program (Python's audit events) into $AUDIT_LOG.
AUDIT_SITECUSTOMIZE = """
import os, sys
_SPAWNS = ("subprocess.Popen", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "os.fork", "os.forkpty",
           "os.startfile", "os.popen", "_winapi.CreateProcess")
def _audit(event, args, _path=os.environ.get("AUDIT_LOG")):
    if _path and event in _SPAWNS:
        with open(_path, "a", encoding="utf-8") as log:
            log.write(event + " " + repr(args)[:300] + chr(10))
sys.addaudithook(_audit)
"""


def test_no_hook_starts_a_program(tmp_path: Path) -> None:
    """Risk to settle from issue 17: a console window flashing for each hook. Claude Code starts hooks hidden
    (its spawn asks for `windowsHide`, i.e. no console window); a console program the hook started in turn, from
    a process without a console, would open a window of its own. So no hook may start any program: every event,
    as the installed command runs it, with Python's audit hooks recording any process creation."""
    from tray.hooks.events import HOOK_EVENTS
    from tray.platform import launch

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE, encoding="utf-8")
    audit, registry, project = tmp_path / "audit.log", tmp_path / "registry", tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "ORCHESTRAY_"))}
    env.update(PYTHONPATH=str(site), AUDIT_LOG=str(audit), ORCHESTRAY_REGISTRY_DIR=str(registry),
               ORCHESTRAY_LOG_DIR=str(tmp_path / "log"))
    session = "5d0c3a52-9a0e-4c55-8f0e-2b7a1d7c9e11"
    starts_one = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'])"
    control = subprocess.run([sys.executable, "-c", starts_one], env=env, timeout=60)
    assert control.returncode == 0 and "subprocess.Popen" in audit.read_text(encoding="utf-8")  # it records
    audit.unlink()
    for event, sub in HOOK_EVENTS.items():
        data = {"session_id": session, "cwd": str(project), "hook_event_name": event, "transcript_path": "/x.jsonl",
                "prompt": "hi", "source": "startup", "reason": "other", "message": "m"}
        done = subprocess.run([*launch.hook_prefix(), "hook", sub], input=json.dumps(data).encode(), env=env,
                              cwd=str(project), capture_output=True, timeout=60)
        assert done.returncode == 0, (event, done.stderr)
        if event == "SessionStart":
            assert (registry / f"{session}.json").is_file()  # the hooks did their work
    assert not (registry / f"{session}.json").exists()  # SessionEnd deregistered
    assert not audit.exists(), audit.read_text(encoding="utf-8")


# --- item 10: the hooks' own log ---------------------------------------------------------------------------


def _hook(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env.update(PYTHONPATH=str(REPO), ORCHESTRAY_LOG_DIR=str(tmp_path / "log"),
               ORCHESTRAY_REGISTRY_DIR=str(tmp_path / "registry"))
    return subprocess.run([sys.executable, str(REPO / "tray" / "hook.py"), "hook", "prompt"], input=data, env=env,
                          capture_output=True, timeout=60)


def test_hooks_log_to_their_own_file(tmp_path: Path) -> None:
    done = _hook(tmp_path, b"not json {{{")  # logged: the stdin was not JSON
    assert done.returncode == 0 and done.stdout == b""
    logs = tmp_path / "log"
    assert "not JSON" in (logs / tray_log.HOOK_LOG_NAME).read_text(encoding="utf-8")
    assert not (logs / tray_log.LOG_NAME).exists()  # the tray's file is never opened by a hook


def test_the_tray_logs_to_its_rotating_file(tmp_path: Path) -> None:
    code = (
        "import logging; from tray.core import log; log.get_logger('early').info('before the role');"
        "print(log.setup_logging(role=log.TRAY)); log.get_logger('tray').info('tray line');"
        "import logging.handlers;"
        "print(isinstance(logging.getLogger('orchestray').handlers[0], logging.handlers.RotatingFileHandler))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), ORCHESTRAY_LOG_DIR=str(tmp_path / "log"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    path, handler = done.stdout.split()
    assert path == str(tmp_path / "log" / tray_log.LOG_NAME) and handler == "True"
    assert "tray line" in Path(path).read_text(encoding="utf-8")
    assert "tray line" not in (tmp_path / "log" / tray_log.HOOK_LOG_NAME).read_text(encoding="utf-8")


def test_a_big_hooks_log_is_moved_aside_when_opened(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    old = "x" * 100 + "\n"
    (logs / tray_log.HOOK_LOG_NAME).write_text(old * (tray_log.MAX_BYTES // len(old) + 10), encoding="utf-8")
    assert _hook(tmp_path, b"not json {{{").returncode == 0
    assert (logs / (tray_log.HOOK_LOG_NAME + ".1")).read_text(encoding="utf-8").startswith(old)
    fresh = (logs / tray_log.HOOK_LOG_NAME).read_text(encoding="utf-8")
    assert "not JSON" in fresh and old not in fresh


def test_a_held_hooks_log_is_appended_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows: the rename fails while another hook holds the file. The hook must log anyway, by appending."""
    path = tmp_path / tray_log.HOOK_LOG_NAME
    path.write_text("y" * (tray_log.MAX_BYTES + 1), encoding="utf-8")

    def held(*_args: object) -> None:
        raise PermissionError(32, "The process cannot access the file because it is being used by another process")

    monkeypatch.setattr(os, "replace", held)
    handler = tray_log._file_handler(str(path), tray_log.HOOKS)
    try:
        assert not isinstance(handler, logging.handlers.RotatingFileHandler)  # no rollover, ever
        handler.emit(logging.LogRecord("orchestray", logging.INFO, __file__, 1, "appended", None, None))
    finally:
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("y" * 100) and text.rstrip().endswith("appended")
