"""Installed hook commands can never be turned against the user, whatever happens to the install.

Each hook is run exactly as Claude Code runs it (exec form: the program and its arguments; shell form:
``/bin/sh -c LINE``) with a real hook payload on stdin, from a throw-away install that is then broken the ways
users break theirs: the package uninstalled, an import failing, the interpreter gone, the disk full. The hook
must never exit 2 (a *blocking* error for Claude Code) and never print anything but our own JSON. Then
``orchestray hooks status`` must say which hooks are broken (exit 1, one line each) and ``hooks install`` must
repair them. The same with the real Claude Code client is in ``test_hooks_real_client.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest
from broken_install import ThrowAwayInstall

from tray.hooks import settings as hs
from tray.hooks.events import HOOK_EVENTS
from tray.hooks.invocation import FORM_EXEC, FORM_SHELL, claude_argv, hook_entries

if os.name == "posix":  # not at the top: the whole suite must still load on Windows (build.yml runs it)
    import resource

pytestmark = pytest.mark.skipif(os.name != "posix", reason="runs hooks through /bin/sh as Claude Code on POSIX")

SESSION = "d9c5b1e2-7f3a-4c1e-9b8d-0a1b2c3d4e5f"


@pytest.fixture
def install(tmp_path: Path) -> ThrowAwayInstall:
    return ThrowAwayInstall(tmp_path / "install")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir()
    environ = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        environ.pop(name, None)
    environ.update(
        ORCHESTRAY_REGISTRY_DIR=str(tmp_path / "registry"),
        ORCHESTRAY_LOG_DIR=str(tmp_path / "log"),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        CLAUDE_PROJECT_DIR=str(project),
        CLAUDE_CODE_SESSION_ID=SESSION,
    )
    yield environ


def payload(event: str, cwd: str) -> bytes:
    data = {"session_id": SESSION, "transcript_path": "/nonexistent/t.jsonl", "cwd": cwd, "hook_event_name": event}
    data.update({"SessionStart": {"source": "startup"}, "UserPromptSubmit": {"prompt": "hi"},
                 "SessionEnd": {"reason": "other"}, "Notification": {"message": "m"}}.get(event, {}))
    return json.dumps(data).encode()


def run_as_claude_code(entry: Dict[str, object], event: str, env: Dict[str, str],
                       preexec=None) -> subprocess.CompletedProcess:
    cwd = env["CLAUDE_PROJECT_DIR"]
    try:
        return subprocess.run(claude_argv(entry, windows=False), input=payload(event, cwd), capture_output=True,
                              env=env, cwd=cwd, timeout=120, check=False, preexec_fn=preexec)
    except FileNotFoundError as error:  # exec form, program gone: Claude Code's spawn fails the same way
        return subprocess.CompletedProcess([], 127, b"", str(error).encode())


def assert_harmless(done: subprocess.CompletedProcess, event: str, *, silent: bool) -> None:
    assert done.returncode != 2, f"{event} exited 2 (blocking): {done.stderr!r}"
    if silent:
        assert done.stdout == b"", f"{event} printed {done.stdout!r}"
    elif done.stdout:
        answer = json.loads(done.stdout)
        assert list(answer) == ["hookSpecificOutput"] and answer["hookSpecificOutput"]["hookEventName"] == event


@pytest.mark.parametrize("form", [FORM_EXEC, FORM_SHELL])
def test_a_working_install_registers_and_answers(install: ThrowAwayInstall, env: Dict[str, str], form: str) -> None:
    entries = hook_entries(install.prefix, form, windows=False)
    started = run_as_claude_code(entries["SessionStart"], "SessionStart", env)
    assert started.returncode == 0 and b"Orchestray: you are" in started.stdout, started.stderr
    assert (Path(env["ORCHESTRAY_REGISTRY_DIR"]) / f"{SESSION}.json").is_file()
    for event in HOOK_EVENTS:
        assert_harmless(run_as_claude_code(entries[event], event, env), event, silent=False)


@pytest.mark.parametrize("form", [FORM_EXEC, FORM_SHELL])
@pytest.mark.parametrize("breakage", ["uninstall_package", "break_import", "remove_interpreter"])
def test_a_broken_install_never_blocks_and_stays_silent(
    install: ThrowAwayInstall, env: Dict[str, str], form: str, breakage: str
) -> None:
    entries = hook_entries(install.prefix, form, windows=False)
    getattr(install, breakage)()
    for event in HOOK_EVENTS:
        done = run_as_claude_code(entries[event], event, env)
        assert_harmless(done, event, silent=True)
        if breakage == "remove_interpreter":
            assert done.returncode == 127  # the shell's "not found", or a failed spawn: both non-blocking
        else:
            assert done.returncode == 0  # the bootstrap caught it: not even a "hook failed" line
    assert not (Path(env["ORCHESTRAY_REGISTRY_DIR"]) / f"{SESSION}.json").exists()


def _disk_full() -> None:
    """Every write to a file fails with EFBIG, as on a full disk (ENOSPC) for the files we write."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.mark.parametrize("form", [FORM_EXEC, FORM_SHELL])
def test_a_full_disk_never_blocks_and_prints_only_our_json(
    install: ThrowAwayInstall, env: Dict[str, str], form: str
) -> None:
    entries = hook_entries(install.prefix, form, windows=False)
    for event in HOOK_EVENTS:
        done = run_as_claude_code(entries[event], event, env, preexec=_disk_full)
        assert done.returncode == 0, done.stderr
        assert_harmless(done, event, silent=event != "SessionStart")
    assert not (Path(env["ORCHESTRAY_REGISTRY_DIR"]) / f"{SESSION}.json").exists()  # nothing could be written


def test_status_names_each_broken_hook_and_install_repairs(
    install: ThrowAwayInstall, env: Dict[str, str], tmp_path: Path
) -> None:
    settings = tmp_path / "claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{\n  "model": "opus"\n}\n')
    done = install.run("hooks", "install", "--settings", str(settings), env=env)
    assert done.returncode == 0 and not done.stderr, done.stderr
    healthy = install.run("hooks", "status", "--settings", str(settings), env=env)
    assert healthy.returncode == 0 and "state: installed" in healthy.stdout, healthy.stdout + healthy.stderr

    install.uninstall_package()  # `pip uninstall` without `hooks uninstall`
    repo_env = env  # this checkout's own interpreter (Orchestray installed in it); no PYTHONPATH, as for a user
    broken = subprocess.run([sys.executable, "-m", "tray", "hooks", "status", "--settings", str(settings)],
                            env=repo_env, capture_output=True, text=True, timeout=300, check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    lines = broken.stderr.strip().splitlines()
    installed = [event for event in HOOK_EVENTS if event in json.loads(settings.read_text())["hooks"]]
    assert len(lines) == len(installed) >= 5
    for line, event in zip(lines, installed):
        assert line.startswith(f"orchestray: {event} hook is broken: does not run Orchestray")
        assert "ModuleNotFoundError" in line and line.endswith("run `orchestray hooks install`")

    # `hooks install` from a working Orchestray repairs: the commands now point at it, and they run.
    repaired = subprocess.run([sys.executable, "-m", "tray", "hooks", "install", "--settings", str(settings)],
                              env=repo_env, capture_output=True, text=True, timeout=300, check=False)
    assert repaired.returncode == 0, repaired.stderr
    assert set(json.loads(repaired.stdout and settings.read_text())["hooks"]) == set(installed)
    again = subprocess.run([sys.executable, "-m", "tray", "hooks", "status", "--settings", str(settings)],
                           env=repo_env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "state: installed" in again.stdout, again.stdout + again.stderr
    assert hs.status(str(settings), events=hs.events_for(hs.claude_code_version())).healthy
