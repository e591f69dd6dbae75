"""`.github/workflows/build.yml`, which nothing here can run: parsed, and every command it runs checked.

The workflow is the only proof on real Windows and macOS machines, so a typo in it would go unnoticed until it
ran there. These tests parse it with a YAML parser, check each platform does what issue 17 asks (hooks under Git
Bash and PowerShell, /bin/sh on macOS, a real Claude Code session, a tray screenshot, the whole suite), and check
that every `packaging/ci_checks.py` call parses with that script's own argument parser and every file a step
names exists.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "build.yml"


def load() -> Dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps(job: str) -> List[Dict[str, Any]]:
    return load()["jobs"][job]["steps"]


def runs(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def ci_checks_parser() -> Any:
    spec = importlib.util.spec_from_file_location("ci_checks_under_test", REPO / "packaging" / "ci_checks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def ci_checks_calls(job: str) -> List[List[str]]:
    calls = []
    for line in runs(job).splitlines():
        line = line.strip()
        if "packaging/ci_checks.py" in line:
            words = shlex.split(line)
            calls.append(words[words.index("packaging/ci_checks.py") + 1 :])
    return calls


def test_the_workflow_parses_and_runs_on_push_and_pull_requests() -> None:
    data = load()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers)
    assert set(data["jobs"]) == {"windows", "macos", "linux"}
    for name, job in data["jobs"].items():
        assert job["timeout-minutes"] <= 60, name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), step  # each step does exactly one thing
            assert step.get("name") or step.get("uses"), step


def test_runners() -> None:
    jobs = load()["jobs"]
    assert jobs["windows"]["runs-on"] == "windows-latest"
    assert jobs["windows"]["defaults"]["run"]["shell"] == "pwsh"
    assert "macos-latest" in [entry["runner"] for entry in jobs["macos"]["strategy"]["matrix"]["include"]]


@pytest.mark.parametrize("job", ["windows", "macos", "linux"])
def test_every_ci_checks_call_parses(job: str) -> None:
    parser = ci_checks_parser()
    calls = ci_checks_calls(job)
    assert calls, job
    for words in calls:
        args = parser.parse_args(words)  # SystemExit (a failed test) on a bad call
        command = args.tray if args.check == "screenshot" else args.cli
        assert command[:1] == ["--"] and len(command) > 1, words


def test_windows_proves_hooks_under_git_bash_and_powershell_and_a_real_session() -> None:
    calls = [" ".join(c) for c in ci_checks_calls("windows")]
    assert any("hooks" in c and "--shell bash" in c and "python -m tray" in c for c in calls)  # the pip install
    assert any("hooks" in c and "--shell bash" in c and "orchestray.exe" in c for c in calls)  # the frozen app
    assert any("hooks" in c and "--form exec" in c for c in calls)
    assert any(c.startswith("no-git-bash") and "orchestray.exe" in c for c in calls)  # PowerShell, no Git Bash
    assert any(c.startswith("no-git-bash") and "python -m tray" in c for c in calls)
    no_git_bash = next(s for s in steps("windows") if "no-git-bash" in s.get("run", ""))
    assert "continue-on-error" not in no_git_bash  # required
    assert any(c.startswith("claude --npm-prefix") for c in calls)
    assert any(c.startswith("screenshot") and "OrchestrayTray.exe" in c for c in calls)
    assert "@anthropic-ai/claude-code@" in runs("windows")


def test_macos_proves_hooks_under_sh_and_a_real_session() -> None:
    calls = [" ".join(c) for c in ci_checks_calls("macos")]
    assert any("hooks" in c and "--shell sh" in c and "Contents/MacOS/Orchestray" in c for c in calls)
    assert any("hooks" in c and "--shell sh" in c and "python -m tray" in c for c in calls)
    assert any(c.startswith("claude --npm-prefix") for c in calls)
    assert any(c.startswith("screenshot") for c in calls)


def test_macos_checks_login_items_switched_off_as_system_settings_does() -> None:
    """Issue 17's risk: a login item switched off in System Settings while its file stays. launchd keeps it in its
    disabled list; `autostart status` must say off, and an explicit `autostart on` switch it back on."""
    step = next(s for s in steps("macos") if "launchctl disable" in s.get("run", ""))["run"]
    lines = [line.strip() for line in step.splitlines() if line.strip()]
    disable = next(i for i, line in enumerate(lines) if line.startswith("launchctl disable"))
    assert '"$app" autostart on' in lines[disable - 2] and '"$app" autostart status' in lines[disable + 1]
    assert 'grep -q "switched off in System Settings"' in step
    assert lines[-2].startswith('"$app" autostart off')  # the runner is left as it was


@pytest.mark.parametrize("job", ["windows", "macos"])
def test_the_whole_suite_runs_last_and_artifacts_are_kept_even_on_failure(job: str) -> None:
    job_steps = steps(job)
    assert job_steps[-1]["run"].startswith("python -m pytest")
    upload = next(step for step in job_steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert ".png" in upload["with"]["path"] and ".zip" in upload["with"]["path"]


@pytest.mark.parametrize("job", ["windows", "macos", "linux"])
def test_every_file_a_step_names_exists(job: str) -> None:
    named = set(re.findall(r"(?:packaging|scripts|tests|bench)/[\w./-]+\.(?:py|sh|spec)", runs(job)))
    assert named
    for path in sorted(named):
        assert (REPO / path).is_file(), f"{job} runs {path}, which does not exist"


def test_pins_match_the_rest_of_the_repository() -> None:
    env = load()["env"]
    support = (REPO / "tests" / "support" / "real_claude.py").read_text(encoding="utf-8")  # POSIX-only to import
    assert f'\nPINNED_VERSION = "{env["CLAUDE_CODE_VERSION"]}"\n' in support
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"\nCLAUDE_CODE_VERSION={env['CLAUDE_CODE_VERSION']}\n" in ci_run
    build_script = (REPO / "packaging" / "build-linux.sh").read_text(encoding="utf-8")
    assert f"PYINSTALLER_VERSION=${{PYINSTALLER_VERSION:-{env['PYINSTALLER_VERSION']}}}" in build_script
    assert f"HOOKS_CONTRIB_VERSION=${{HOOKS_CONTRIB_VERSION:-{env['HOOKS_CONTRIB_VERSION']}}}" in build_script


# --- the whole suite must load on Windows (the last step of the windows job) -------------------------------

#: Modules Windows' Python does not have, and POSIX-only names of `os` and `signal`.
POSIX_MODULES = {"fcntl", "termios", "resource", "pty", "pwd", "grp", "tty", "posix", "syslog", "crypt"}
POSIX_NAMES = {
    "os": {"getuid", "geteuid", "getgid", "getegid", "mkfifo", "setsid", "killpg", "fork", "forkpty", "WNOHANG",
           "O_NONBLOCK", "O_NOFOLLOW", "O_DIRECTORY", "openpty", "getpgid", "sched_getaffinity", "sync"},
    "signal": {"SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGXFSZ", "SIGCHLD", "SIGPIPE", "SIGQUIT",
               "SIGSTOP", "SIGCONT", "SIGTSTP", "SIGWINCH", "alarm", "setitimer", "pthread_kill", "SIG_BLOCK"},
}


def _run_at_import(tree: ast.Module) -> List[ast.AST]:
    """The nodes Python evaluates when it imports the module: its statements, a function's decorators and
    defaults (not its body), a class's decorators, bases and body; an `if`/`try` block is taken as a guard."""
    todo: List[ast.AST] = list(tree.body)
    found: List[ast.AST] = []
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend([*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)])
        elif isinstance(node, ast.ClassDef):
            todo.extend([*node.decorator_list, *node.bases, *node.body])
        elif isinstance(node, (ast.If, ast.Try, ast.IfExp)):
            continue
        elif isinstance(node, ast.BoolOp) and any(
            isinstance(v, ast.UnaryOp) and isinstance(v.operand, ast.Call) and getattr(v.operand.func, "id", "")
            == "hasattr" or isinstance(v, ast.Call) and getattr(v.func, "id", "") == "hasattr" for v in node.values
        ):
            continue  # `not hasattr(os, "setuid") or os.geteuid() ...`: guarded where it is written
        else:
            found.append(node)
            todo.extend(ast.iter_child_nodes(node))
    return found


def test_the_whole_suite_loads_on_windows() -> None:
    """`python -m pytest` on windows-latest imports conftest.py, tests/support and every test module: a POSIX-only
    module or name used at import time (rather than inside the test that is skipped there) fails the whole run
    before a single test. Guards (`if os.name == ...`, `hasattr(...) and ...`) are taken at their word."""
    problems = []
    files = [*(REPO / "tests").rglob("*.py"), *(REPO / "tray").rglob("*.py"), REPO / "packaging" / "ci_checks.py"]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _run_at_import(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = {f"{node.value.id}.{node.attr}"} if node.attr in POSIX_NAMES.get(node.value.id, ()) else set()
            else:
                continue
            bad = {name for name in names if name in POSIX_MODULES or "." in name}
            if bad:
                problems.append(f"{path.relative_to(REPO)}:{node.lineno}: {sorted(bad)}")
    assert problems == [], "used at import time, missing on Windows:\n" + "\n".join(problems)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("job", ["macos", "linux"])
def test_every_bash_step_is_valid_bash(job: str) -> None:
    """The macOS and Linux steps run under bash (`bash -e`): each `run:` block must at least parse as bash
    (`${{ ... }}` expressions are filled in by GitHub before the shell sees the text)."""
    assert load()["jobs"][job].get("defaults", {}).get("run", {}).get("shell", "bash") == "bash"
    for step in steps(job):
        if "run" in step and step.get("shell", "bash") == "bash":
            script = re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])
            done = subprocess.run([shutil.which("bash") or "bash", "-n", "-c", script], capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 0, f"{step.get('name')}: {done.stderr}"
