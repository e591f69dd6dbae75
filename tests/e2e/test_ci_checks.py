"""packaging/ci_checks.py, the checks the Windows and macOS CI runs, run here on Linux against the real thing.

The same script, the same checks: `hooks` installs Orchestray's hooks and runs each as Claude Code would (from
source and, when a frozen build exists, from the frozen program, through `/bin/sh` and `bash`); a hook that
misbehaves must fail it. The real-client check (`claude`) and the screenshot check (`screenshot`, a real desktop)
are in tests/e2e/test_ci_claude.py and tests/desktop/test_ci_screenshot.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "ci_checks.py"
FROZEN = os.environ.get("ORCHESTRAY_FROZEN", "").strip() or str(REPO / "dist" / "orchestray" / "orchestray")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the Windows CI runs the script itself")


def run_check(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_hooks_from_source(shell: str) -> None:
    done = run_check("hooks", "--shell", shell, "--", sys.executable, "-m", "tray")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line for line in done.stdout.splitlines() if " via " in line]
    assert [line.split()[1] for line in ran] == ["SessionStart", "UserPromptSubmit", "Stop", "Notification",
                                                 "SessionEnd"]
    assert "every event passed" in done.stdout


@pytest.mark.slow
def test_hooks_from_the_frozen_program() -> None:
    if not os.path.isfile(FROZEN):
        if os.environ.get("ORCHESTRAY_FROZEN"):
            pytest.fail(f"ORCHESTRAY_FROZEN={FROZEN} but there is no build there")
        pytest.skip("no frozen build: run bash packaging/build-linux.sh")
    done = run_check("hooks", "--", FROZEN)
    assert done.returncode == 0, done.stdout + done.stderr


def fake_orchestray(tmp_path: Path, hook_line: str) -> List[str]:
    """An `orchestray` whose `hooks install --settings F` writes hooks that run ``hook_line``."""
    script = tmp_path / "fake_orchestray.py"
    script.write_text(
        "import json, sys\n"
        "settings = sys.argv[sys.argv.index('--settings') + 1]\n"
        "events = ['SessionStart', 'UserPromptSubmit', 'Stop', 'Notification', 'SessionEnd']\n"
        f"hook = {{'type': 'command', 'command': {hook_line!r}}}\n"
        "json.dump({'hooks': {e: [{'hooks': [hook]}] for e in events}}, open(settings, 'w'))\n"
    )
    return [sys.executable, str(script)]


@pytest.mark.parametrize(
    ("hook_line", "why"),
    [
        ("echo hello", "SessionStart did not tell the session its role"),
        ("exit 2", "exit 2"),
        ("echo '{\"hookSpecificOutput\": {\"additionalContext\": \"ORCHESTRATOR\"}}'", "registered no entry"),
    ],
)
def test_hooks_check_fails_on_a_hook_that_misbehaves(tmp_path: Path, hook_line: str, why: str) -> None:
    done = run_check("hooks", "--", *fake_orchestray(tmp_path, hook_line))
    assert done.returncode == 1
    assert why in done.stderr and done.stderr.startswith("ci-checks: FAILED: ")


def test_usage_errors_exit_2() -> None:
    assert run_check("hooks").returncode == 2
    assert run_check("nonsense").returncode == 2


def load_ci_checks():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_checks_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_live_entry_must_name_claude_codes_process(tmp_path: Path, procs) -> None:
    """What `claude` checks while the answer is held back: the entry names the process we started (or a child
    named claude), never some other live process."""
    import json

    checks = load_ci_checks()
    started, other = procs.spawn(), procs.spawn()
    registry = tmp_path / "registry"
    registry.mkdir()
    entry = registry / "s1.json"
    entry.write_text(json.dumps({"pid": started.pid, "role": "orchestrator", "sessionId": "s1"}))
    checks.check_live_entry(registry, started.pid)
    entry.write_text(json.dumps({"pid": other.pid, "role": "orchestrator", "sessionId": "s1"}))
    with pytest.raises(checks.CheckFailed, match="not Claude Code's process"):
        checks.check_live_entry(registry, started.pid)
    entry.write_text(json.dumps({"pid": started.pid, "role": "worker", "sessionId": "s1"}))
    with pytest.raises(checks.CheckFailed, match="one orchestrator entry"):
        checks.check_live_entry(registry, started.pid)


FAKE_POWERSHELL = {
    # PowerShell's answer to `'C:/…/python.exe' '-c' …`: a quoted string followed by another is a parse error.
    "parse-error": "#!/bin/sh\necho \"ParserError: Unexpected token ''-c'' in expression or statement.\" >&2\nexit 1\n",
    # A PowerShell that would run the line as a POSIX shell does.
    "runs": "#!/bin/sh\nfor last; do :; done\nexec /bin/sh -c \"$last\"\n",
}


@pytest.mark.parametrize(("powershell", "passes"), [("parse-error", False), ("runs", True)])
def test_no_git_bash_check_requires_hooks_status_to_agree_with_powershell(
    tmp_path: Path, powershell: str, passes: bool
) -> None:
    """`no-git-bash`, what windows-latest runs: hooks under Claude Code's PowerShell, and `hooks status` must say
    what happened there. Here `hooks status` probes through /bin/sh (this is not Windows), so it says the hooks
    run: the check must pass against a PowerShell that runs them and fail against one that cannot parse them."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "powershell"
    program.write_text(FAKE_POWERSHELL[powershell])
    program.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env.update(PYTHONPATH=str(REPO), PATH=os.pathsep.join([str(folder), env.get("PATH", "")]))
    done = subprocess.run([sys.executable, str(SCRIPT), "no-git-bash", "--", sys.executable, "-m", "tray"], env=env,
                          capture_output=True, text=True, timeout=300)
    under = [line for line in done.stdout.splitlines() if " under powershell: " in line]
    assert [line.split()[1] for line in under] == ["SessionStart", "UserPromptSubmit", "Stop", "Notification",
                                                   "SessionEnd"]
    if passes:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "agrees: PowerShell runs every hook" in done.stdout
    else:
        assert done.returncode == 1
        assert "fail under PowerShell, yet hooks status exited 0" in done.stderr
