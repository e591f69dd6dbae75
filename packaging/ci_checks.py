"""Checks that prove an installed Orchestray on the machine at hand, as a person and Claude Code would use it.

`.github/workflows/build.yml` runs these on Windows and macOS (nothing else here can); the Linux test suite runs
them too (tests/e2e/test_ci_checks.py), so each stays runnable and honest on a machine we do have.

    python packaging/ci_checks.py hooks [--form auto|exec|shell] [--shell auto|sh|bash|powershell] -- ORCHESTRAY...
    python packaging/ci_checks.py no-git-bash -- ORCHESTRAY...
    python packaging/ci_checks.py claude (--claude BIN | --npm-prefix DIR) -- ORCHESTRAY...
    python packaging/ci_checks.py screenshot --out FILE.png -- TRAY_PROGRAM...

``ORCHESTRAY...`` is the argv of the ``orchestray`` command line under test: ``python -m tray`` for a pip install, or
the frozen program (``dist/Orchestray/orchestray.exe``, ``.../Orchestray.app/Contents/MacOS/Orchestray``,
``dist/orchestray/orchestray``). Every check works in a private temporary folder (registry, logs, settings.json)
and ends every process it starts by PID.

* ``hooks``: ``hooks install --settings`` into a fresh settings.json, then every installed hook of every event
  is run the way Claude Code runs it, with a real hook payload on stdin: an exec-form entry (``command`` +
  ``args``) as a program with those arguments and no shell; a shell-form entry through ``/bin/sh -c`` (POSIX),
  Git Bash's ``bash.exe -c`` (Windows, ``--shell bash``, Claude Code 2.1.47 and later) or PowerShell's
  ``-Command`` (``--shell powershell``, the fallback without Git Bash). Each must exit 0; SessionStart must
  print the role as context, every other event nothing; the session's registry entry must appear (with this
  process's PID: the shell in between is skipped) and be gone after SessionEnd; the hook log must hold no error.
  The argv for each form is written here from what Claude Code documents, deliberately not taken from
  ``tray.hooks``: the check must not share a mistake with the code it checks.
* ``no-git-bash`` (Windows): Git Bash hidden (PATH, ``ProgramFiles``), shell-form hooks installed and run the
  way Claude Code runs them then, in PowerShell (where a quoted program is a parse error); ``hooks status``
  must agree with what happened: exit 1 saying to install Git for Windows (or update Claude Code for the exec
  form) when they fail, exit 0 when they run.
* ``claude``: the real Claude Code (from ``--claude``, or the npm package installed under ``--npm-prefix``) in
  print mode (``claude -p``: no terminal needed, so the same on Windows, where there is no pseudo-terminal)
  against the stand-in Messages API of tests/support/claude_api.py, with Orchestray's hooks installed in its
  settings.json, installed with that Claude Code first on PATH as for a user (so in the form it understands:
  exec form from 2.1.139, which the check requires). Passes when the model's request carries the SessionStart
  context (the hook ran, registered the session and told it its role), the session's entry names Claude Code's
  own process while the answer is held back (ancestry found the native binary), the answer is printed, the
  entry is gone afterwards (SessionEnd ran) and the hook log holds no error.
* ``screenshot``: starts the tray program, waits (with a deadline) until its log says the tray started, takes
  a screenshot of the whole screen with Pillow's ``ImageGrab`` (Windows, macOS, X11), checks the tray is still
  running, then ends it by PID. The screenshot is for a person to look at (a CI artifact).

Exit status: 0 when every check passed, 1 when one failed (the reason on stderr), 2 on bad usage.

One module past 400 lines because CI on Windows and macOS runs it as one script against the Orchestray it just
installed or built; the three checks share the sandbox, the process handling and the exit-status contract.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
WINDOWS = sys.platform == "win32"
HOOK_TIMEOUT = 60.0
#: Claude Code hook event -> what its stdout must be: "context" (the role, as JSON or text) or "" (nothing).
EVENTS = (
    ("SessionStart", "context"),
    ("UserPromptSubmit", ""),
    ("Stop", ""),
    ("Notification", ""),
    ("SessionEnd", ""),
)
LOG_NAMES = ("hooks.log", "orchestray.log")
#: How Claude Code (2.1.120+) starts PowerShell for a shell-form hook when there is no Git Bash.
POWERSHELL_OPTIONS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command")
#: What `hooks status` must say when a shell-form hook fails under that PowerShell.
POWERSHELL_ADVICE = "install Git for Windows"
#: The first Claude Code with exec-form hooks (program + args, no shell), which `hooks install` must then write.
EXEC_FORM_SINCE = (2, 1, 139)


class CheckFailed(Exception):
    """A check did not pass; the message says what a person would have seen."""


def say(message: str) -> None:
    print(f"ci-checks: {message}", flush=True)


def sandbox(root: Path) -> Dict[str, str]:
    """This process's environment without any surrounding Claude Code session, pointed at private folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "ORCHESTRAY_"))}
    for name in ("registry", "log", "config", "state", "claude"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env.update(
        ORCHESTRAY_REGISTRY_DIR=str(root / "registry"),
        ORCHESTRAY_LOG_DIR=str(root / "log"),
        ORCHESTRAY_CONFIG_DIR=str(root / "config"),
        ORCHESTRAY_STATE_DIR=str(root / "state"),
        CLAUDE_CONFIG_DIR=str(root / "claude"),
        PYTHONIOENCODING="utf-8",
    )
    return env


def log_errors(root: Path) -> List[str]:
    lines: List[str] = []
    for name in LOG_NAMES:
        path = root / "log" / name
        if path.is_file():
            lines += [line for line in path.read_text("utf-8", "replace").splitlines() if " ERROR " in line]
    return lines


# --- hooks ---------------------------------------------------------------------------------------------


def find_git_bash() -> Optional[str]:
    """Git for Windows' bash.exe, where Claude Code looks for it (CLAUDE_CODE_GIT_BASH_PATH, then beside git)."""
    configured = os.environ.get("CLAUDE_CODE_GIT_BASH_PATH")
    if configured and os.path.isfile(configured):
        return configured
    git = shutil.which("git")
    candidates = [os.path.join(os.path.dirname(os.path.dirname(git)), "bin", "bash.exe")] if git else []
    candidates.append(os.path.join(os.environ.get("PROGRAMFILES", r"C:\Program Files"), "Git", "bin", "bash.exe"))
    return next((c for c in candidates if os.path.isfile(c)), None)


def hook_argv(hook: Dict[str, Any], shell: str) -> List[str]:
    """The argv Claude Code starts for one hook entry."""
    command = hook.get("command")
    if not isinstance(command, str) or not command:
        raise CheckFailed(f"a hook entry has no command: {hook}")
    args = hook.get("args")
    if args is not None:  # exec form (Claude Code 2.1.139+): the program and its arguments, no shell
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise CheckFailed(f"exec-form args are not a list of strings: {hook}")
        return [command, *args]
    if shell == "auto":
        shell = "bash" if WINDOWS else "sh"
    if shell == "sh":
        return ["/bin/sh", "-c", command]
    if shell == "bash":
        bash = find_git_bash() if WINDOWS else shutil.which("bash")
        if not bash:
            raise CheckFailed("no Git Bash (bash.exe) found to run a shell-form hook as Claude Code does")
        return [bash, "-c", command]
    if shell == "powershell":
        program = shutil.which("powershell") or shutil.which("pwsh")
        if not program:
            raise CheckFailed("no PowerShell found")
        return [program, *POWERSHELL_OPTIONS, command]
    raise CheckFailed(f"unknown shell {shell!r}")


def payload(event: str, session: str, cwd: Path, transcript: Path) -> bytes:
    """The JSON Claude Code writes on a hook's stdin for ``event`` (compact, non-ASCII unescaped)."""
    data: Dict[str, Any] = {"session_id": session, "transcript_path": str(transcript), "cwd": str(cwd),
                            "hook_event_name": event}
    if event == "SessionStart":
        data["source"] = "startup"
    elif event == "UserPromptSubmit":
        data.update(prompt="Résumé the tests, then fix what fails ✓", prompt_id=str(uuid.uuid4()),
                    permission_mode="default")
    elif event == "Notification":
        data.update(message="Claude needs your permission to use Bash", notification_type="permission_prompt")
    elif event == "SessionEnd":
        data["reason"] = "prompt_input_exit"
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def installed_hooks(settings: Path) -> Dict[str, List[Dict[str, Any]]]:
    data = json.loads(settings.read_text(encoding="utf-8"))
    found: Dict[str, List[Dict[str, Any]]] = {}
    for event, groups in data.get("hooks", {}).items():
        for group in groups:
            found.setdefault(event, []).extend(h for h in group.get("hooks", []) if h.get("type") == "command")
    return found


def check_hooks(cli: Sequence[str], form: str, shell: str, root: Path) -> None:
    env = sandbox(root)
    settings = root / "claude" / "settings.json"
    install = list(cli) + ["hooks", "install", "--settings", str(settings)]
    if form != "auto":
        install += ["--form", form]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(install)} exited {done.returncode}: {done.stderr.strip()}")
    say(f"installed: {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else '(no output)'}")
    hooks = installed_hooks(settings)
    missing = [event for event, _ in EVENTS if not hooks.get(event)]
    if missing:
        raise CheckFailed(f"hooks install wrote no hook for {missing}; settings.json: {settings.read_text()}")
    project = root / "project ünïcode"  # a space and non-ASCII, as real folders have
    project.mkdir(exist_ok=True)
    session = str(uuid.uuid4())
    transcript = root / "claude" / "projects" / "p" / f"{session}.jsonl"
    hook_env = dict(env, CLAUDE_CODE_SESSION_ID=session, CLAUDE_PROJECT_DIR=str(project), CLAUDECODE="1")
    entry_file = root / "registry" / f"{session}.json"
    for event, expected in EVENTS:
        for hook in hooks[event]:
            argv = hook_argv(hook, shell)
            started = time.perf_counter()
            ran = subprocess.run(argv, input=payload(event, session, project, transcript), env=hook_env,
                                 cwd=str(project), capture_output=True, timeout=HOOK_TIMEOUT)
            took = time.perf_counter() - started
            stdout = ran.stdout.decode("utf-8", "replace").strip()
            shown = f"{event} via {argv[0]} ({took * 1000:.0f} ms): exit {ran.returncode}"
            say(f"{shown}, stdout {stdout[:120]!r}")
            if ran.returncode != 0:
                raise CheckFailed(f"{shown}; stderr: {ran.stderr.decode('utf-8', 'replace').strip()[:500]}")
            if expected == "context":
                if "ORCHESTRATOR" not in stdout:
                    raise CheckFailed(f"{shown}: SessionStart did not tell the session its role: {stdout!r}")
                if not entry_file.is_file():
                    raise CheckFailed(f"{shown}: SessionStart printed a role but registered no entry")
                entry = json.loads(entry_file.read_text(encoding="utf-8"))
                if entry.get("pid") != os.getpid() or entry.get("role") != "orchestrator":
                    raise CheckFailed(f"the registered entry is {entry}; expected pid {os.getpid()} (this process, "
                                      "the shell in between skipped) as orchestrator")
            elif stdout:
                raise CheckFailed(f"{shown}: printed {stdout!r}, expected nothing")
    if entry_file.exists():
        raise CheckFailed("SessionEnd left the session's registry entry behind")
    errors = log_errors(root)
    if errors:
        raise CheckFailed("errors were logged: " + " | ".join(errors[:3]))
    say(f"hooks: every event passed ({form} form, shell {shell})")


def without_git_bash(env: Dict[str, str], root: Path) -> Dict[str, str]:
    """``env`` as on a Windows machine without Git for Windows: no folder holding git on PATH, and the
    places Claude Code (and ``hooks status``) look for Git Bash pointed at an empty folder."""
    nowhere = root / "no-git"
    nowhere.mkdir(exist_ok=True)
    folders = [f for f in env.get("PATH", "").split(os.pathsep)
               if f and not any(os.path.isfile(os.path.join(f, n)) for n in ("git.exe", "git", "bash.exe"))]
    hidden = dict(env, PATH=os.pathsep.join(folders), ProgramFiles=str(nowhere), LOCALAPPDATA=str(nowhere))
    hidden["ProgramFiles(x86)"] = str(nowhere)
    hidden.pop("CLAUDE_CODE_GIT_BASH_PATH", None)
    return hidden


def check_no_git_bash(cli: Sequence[str], root: Path) -> None:
    """Shell-form hooks on Windows without Git Bash: Claude Code runs them in PowerShell. Whatever PowerShell
    makes of them, ``hooks status`` must agree: ok when every hook runs there, else exit 1 with the advice."""
    env = without_git_bash(sandbox(root), root)
    settings = root / "claude" / "settings.json"
    install = list(cli) + ["hooks", "install", "--settings", str(settings), "--form", "shell"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(install)} exited {done.returncode}: {done.stderr.strip()}")
    hooks = installed_hooks(settings)
    project = root / "project"
    project.mkdir(exist_ok=True)
    session = str(uuid.uuid4())
    transcript = root / "claude" / f"{session}.jsonl"
    failed = []
    for event, _ in EVENTS:
        for hook in hooks.get(event, []):
            argv = hook_argv(hook, "powershell")
            ran = subprocess.run(argv, input=payload(event, session, project, transcript), env=env,
                                 cwd=str(project), capture_output=True, timeout=HOOK_TIMEOUT)
            err = " ".join(ran.stderr.decode("utf-8", "replace").split())[:200]
            say(f"{event} under {os.path.basename(argv[0])}: exit {ran.returncode} {err}")
            if ran.returncode != 0:
                failed.append(event)
    status = subprocess.run(list(cli) + ["hooks", "status", "--settings", str(settings)], env=env,
                            capture_output=True, text=True, timeout=300)
    said = (status.stdout + status.stderr).strip()
    say(f"hooks status exited {status.returncode}: {said[-600:]}")
    if failed and (status.returncode != 1 or POWERSHELL_ADVICE not in said):
        raise CheckFailed(f"{failed} fail under PowerShell, yet hooks status exited {status.returncode} without "
                          f"saying to {POWERSHELL_ADVICE}")
    if not failed and status.returncode != 0:
        raise CheckFailed(f"every hook runs under PowerShell, yet hooks status exited {status.returncode}")
    say("no-git-bash: hooks status " + ("names the hooks PowerShell cannot run, and what to do" if failed
                                        else "agrees: PowerShell runs every hook"))


# --- the real Claude Code ------------------------------------------------------------------------------


def find_claude(npm_prefix: Path) -> str:
    """The native binary of the npm package installed under ``npm_prefix``, else its ``.bin`` launcher."""
    native = sorted(glob.glob(str(npm_prefix / "node_modules" / "@anthropic-ai" / "claude-code-*" / "claude*")))
    native = [path for path in native if os.path.basename(path) in ("claude", "claude.exe")]
    if native:
        return native[0]
    for name in ("claude.cmd", "claude.exe", "claude"):
        launcher = npm_prefix / "node_modules" / ".bin" / name
        if launcher.is_file():
            return str(launcher)
    raise CheckFailed(f"no Claude Code under {npm_prefix}: npm install --prefix {npm_prefix} @anthropic-ai/claude-code")


def write_client_state(home: Path, config_dir: Path, project: Path, api_key: str) -> None:
    """A user who onboarded, approved the key and trusted ``project``: no dialog before the answer."""
    trusted = {p: {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True, "allowedTools": []}
               for p in {str(project), os.path.realpath(project)}}
    state = {"hasCompletedOnboarding": True, "projects": trusted,
             "customApiKeyResponses": {"approved": [api_key[-20:], api_key], "rejected": []}}
    for folder in (home, config_dir):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".claude.json").write_text(json.dumps(state), encoding="utf-8")


def check_live_entry(registry: Path, started_pid: int) -> None:
    """One entry, an orchestrator, whose PID is Claude Code's own process: the one we started, or (an npm
    launcher such as ``claude.cmd``) a descendant of it whose program is named ``claude``."""
    import psutil

    entries = [json.loads(p.read_text(encoding="utf-8")) for p in registry.glob("*.json")]
    if len(entries) != 1 or entries[0].get("role") != "orchestrator":
        raise CheckFailed(f"expected one orchestrator entry while the session runs, found {entries}")
    pid = entries[0].get("pid")
    started = psutil.Process(started_pid)
    claude_processes = {started_pid} | {p.pid for p in started.children(recursive=True)
                                        if p.name().lower() in ("claude", "claude.exe")}
    if pid not in claude_processes:
        try:
            name = psutil.Process(pid).name()
        except (psutil.Error, TypeError, ValueError):
            name = "gone"
        raise CheckFailed(f"the entry names pid {pid} ({name}), not Claude Code's process {sorted(claude_processes)}")
    say(f"while the session ran, its entry named Claude Code's process (pid {pid}, {started.name()})")


def check_claude(cli: Sequence[str], claude: str, root: Path) -> None:
    sys.path.insert(0, str(REPO / "tests" / "support"))
    try:
        from claude_api import Slow, StandInAPI  # the stand-in Messages API the Linux tests use
    except ImportError as error:
        raise CheckFailed(f"tests/support/claude_api.py is needed for the stand-in API: {error}") from None
    env = sandbox(root)
    home, config_dir, project = root / "home", root / "claude", root / "project"
    project.mkdir(exist_ok=True)
    api_key = "sk-ant-dummy"
    write_client_state(home, config_dir, project, api_key)
    # This Claude Code first on PATH, as for a user: `hooks install` asks it which hook form it understands.
    env["PATH"] = os.pathsep.join([os.path.dirname(os.path.abspath(claude)), env.get("PATH", "")])
    version = subprocess.run([claude, "--version"], capture_output=True, text=True, timeout=120, env=env)
    say(f"Claude Code {version.stdout.strip() or version.stderr.strip()}")
    done = subprocess.run(list(cli) + ["hooks", "install"], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(f"hooks install exited {done.returncode}: {done.stderr.strip()}")
    settings = config_dir / "settings.json"
    hooks = [hook for found in installed_hooks(settings).values() for hook in found] if settings.is_file() else []
    forms = sorted({"exec" if "args" in hook else "shell" for hook in hooks})
    say(f"hooks installed in {' and '.join(forms) or 'no'} form")
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", version.stdout)
    if hooks and match and tuple(int(n) for n in match.groups()) >= EXEC_FORM_SINCE and forms != ["exec"]:
        raise CheckFailed(f"this Claude Code has exec-form hooks, yet hooks install wrote {forms} form")
    with StandInAPI() as api:
        answer = api.when("orchestray-ci", Slow(text="ORCHESTRAY-CI-ANSWER", limit=120.0))
        env.update(HOME=str(home), USERPROFILE=str(home), ANTHROPIC_API_KEY=api_key, ANTHROPIC_BASE_URL=api.url,
                   DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1",
                   DISABLE_ERROR_REPORTING="1", TERM="dumb")
        started = time.perf_counter()
        session = subprocess.Popen([claude, "-p", "say orchestray-ci please"], cwd=str(project), env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            # The answer waits while we look: the session is live, so its entry must name Claude Code's process.
            request = api.wait_for(lambda r: r.kind == "main" and "orchestray-ci" in r.last_user_text, 240.0,
                                   "the prompt")
            if "ORCHESTRATOR" not in json.dumps(request.body):
                raise CheckFailed("the model's request does not carry the SessionStart context (role): "
                                  "hooks did not run")
            check_live_entry(root / "registry", session.pid)
            answer.release()
            stdout, stderr = session.communicate(timeout=240)
        finally:
            answer.release()
            if session.poll() is None:
                session.kill()
                session.communicate(timeout=30)
        took = time.perf_counter() - started
        say(f"claude -p exited {session.returncode} after {took:.1f} s: {stdout.strip()[:200]!r}")
        if session.returncode != 0 or "ORCHESTRAY-CI-ANSWER" not in stdout:
            raise CheckFailed(f"claude -p failed (exit {session.returncode}): {stderr.strip()[-800:]}")
    leftovers = sorted(p.name for p in (root / "registry").glob("*.json"))
    if leftovers:
        raise CheckFailed(f"the session's entry is still registered after it ended: {leftovers}")
    errors = log_errors(root)
    if errors:
        raise CheckFailed("errors were logged: " + " | ".join(errors[:3]))
    say("claude: a real session registered as orchestrator, answered and deregistered")


# --- the tray and a screenshot -------------------------------------------------------------------------


def check_screenshot(tray: Sequence[str], out: Path, root: Path, deadline: float) -> None:
    env = sandbox(root)
    log = root / "log" / "orchestray.log"
    process = subprocess.Popen(list(tray), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        limit = time.monotonic() + deadline
        while True:
            if process.poll() is not None:
                stderr = process.communicate(timeout=30)[1].decode("utf-8", "replace")
                raise CheckFailed(f"the tray exited {process.returncode}: {stderr[-800:]}")
            if log.is_file() and "tray starting" in log.read_text("utf-8", "replace"):
                break
            if time.monotonic() > limit:
                raise CheckFailed(f"the tray did not log 'tray starting' within {deadline:.0f} s")
            time.sleep(0.2)
        from PIL import ImageGrab

        image = ImageGrab.grab(all_screens=True) if WINDOWS else ImageGrab.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out)
        if process.poll() is not None:
            raise CheckFailed(f"the tray exited {process.returncode} while the screenshot was taken")
        say(f"screenshot {out} ({image.size[0]}x{image.size[1]}); the tray was running: "
            f"{[line for line in log.read_text('utf-8', 'replace').splitlines() if 'tray starting' in line][-1]}")
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# --- command line --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ci_checks.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="check", required=True)
    hooks = sub.add_parser("hooks", help="install the hooks and run each as Claude Code would")
    hooks.add_argument("--form", choices=("auto", "exec", "shell"), default="auto")
    hooks.add_argument("--shell", choices=("auto", "sh", "bash", "powershell"), default="auto")
    hooks.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the argv of the orchestray command line")
    nobash = sub.add_parser("no-git-bash", help="Windows without Git Bash: shell-form hooks under PowerShell, "
                            "and hooks status must agree")
    nobash.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the argv of the orchestray command line")
    claude = sub.add_parser("claude", help="one real Claude Code session against the stand-in API")
    where = claude.add_mutually_exclusive_group(required=True)
    where.add_argument("--claude", help="the claude program")
    where.add_argument("--npm-prefix", help="the folder given to npm install --prefix")
    claude.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the argv of the orchestray command line")
    shot = sub.add_parser("screenshot", help="start the tray, screenshot the screen, stop it")
    shot.add_argument("--out", required=True)
    shot.add_argument("--deadline", type=float, default=120.0, help="seconds to wait for the tray to start")
    shot.add_argument("tray", nargs=argparse.REMAINDER, help="-- then the argv that starts the tray")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.tray if args.check == "screenshot" else args.cli
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        parser.error("give the program after --")
    root = Path(tempfile.mkdtemp(prefix="orchestray-ci-"))
    try:
        if args.check == "hooks":
            check_hooks(command, args.form, args.shell, root)
        elif args.check == "no-git-bash":
            check_no_git_bash(command, root)
        elif args.check == "claude":
            program = args.claude or find_claude(Path(args.npm_prefix).resolve())
            check_claude(command, program, root)
        else:
            check_screenshot(command, Path(args.out).resolve(), root, args.deadline)
    except CheckFailed as failed:
        print(f"ci-checks: FAILED: {failed}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
