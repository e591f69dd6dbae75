"""The hook entries we write and how they run: exec/shell form, Windows quoting under a real bash, the events
table, the stdin deadline on both code paths, and settings.json files that must not hang or be overwritten."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Set

import pytest

from tray.cli import build_parser
from tray.hooks import handlers
from tray.hooks import settings as hs
from tray.hooks.events import EVENT_OF, HOOK_EVENTS, SUBCOMMANDS
from tray.hooks.invocation import (
    FORM_EXEC,
    FORM_SHELL,
    claude_program,
    detect_form,
    form_for,
    hook_entries,
    hook_entry,
    hook_subcommand,
    parse_version,
    quote_command,
)
from tray.platform import launch

REPO = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX files (FIFOs, modes, signals)")

# Windows-style paths as a pip install on Windows has them: spaces, backslashes, non-ASCII, and characters
# that mean something to bash ($, backtick, quotes, &, parentheses, %, !).
WINDOWS_PYTHON = "C:\\Users\\Jöhn O'Brien\\AppData\\Local\\Programs\\Python\\Python312 (x86)\\python.exe"
WINDOWS_ROOT = "C:\\Users\\Jöhn O'Brien\\$HOME `id` & 100%!\\日本\\Lib\\site-packages"


# ------------------------------------------------------------------------------------------- the one table


def test_one_table_of_events_feeds_the_handlers_the_cli_the_installer_and_the_readme() -> None:
    assert handlers.EVENTS == SUBCOMMANDS and set(handlers.HANDLERS) == set(SUBCOMMANDS)
    assert all(EVENT_OF[sub] == event for event, sub in HOOK_EVENTS.items())
    hook_action = next(a for a in build_parser()._subparsers._group_actions[0].choices["hook"]._actions  # type: ignore[union-attr]
                       if a.dest == "event")
    assert list(hook_action.choices) == list(SUBCOMMANDS)
    assert list(hook_entries(launch.hook_prefix(), FORM_EXEC)) == list(HOOK_EVENTS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Claude Code hooks") :]
    rows = re.findall(r"^\| `(\w+)` \| `hook ([\w-]+)` \|", section, re.M)
    assert dict(rows) == dict(HOOK_EVENTS)


def test_the_events_module_imports_nothing() -> None:
    source = (REPO / "tray" / "hooks" / "events.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s", source, re.M)


# ------------------------------------------------------------------------------------------- forms


def test_exec_form_is_used_from_the_version_that_has_it() -> None:
    assert parse_version("2.1.332 (Claude Code)") == (2, 1, 332)
    assert form_for((2, 1, 332)) == FORM_EXEC and form_for((2, 1, 139)) == FORM_EXEC
    assert form_for((2, 1, 138)) == FORM_SHELL and form_for(None) == FORM_SHELL


def test_both_forms_of_our_entry_are_recognised_and_customised_ones_are_not() -> None:
    prefix = launch.hook_prefix()
    for form in (FORM_EXEC, FORM_SHELL):
        entry = hook_entry(prefix, "prompt", form)
        assert hook_subcommand(entry) == "prompt"
    exec_entry = hook_entry(prefix, "stop", FORM_EXEC)
    assert exec_entry["command"] == prefix[0] and exec_entry["args"][-2:] == ["hook", "stop"]
    assert hook_subcommand(dict(exec_entry, args=[*exec_entry["args"], "--verbose"])) is None
    assert hook_subcommand(dict(exec_entry, args=["-c", "print(1)", "hook", "stop"])) is None
    assert hook_subcommand({"type": "command", "command": "python3", "args": ["x.py", "hook", "stop"]}) is None


@posix_only
def test_switching_forms_replaces_in_place(tmp_path: Path) -> None:
    path = str(tmp_path / "settings.json")
    hs.install(path, form=FORM_SHELL, check_import=False)
    shell = json.loads(Path(path).read_text())
    result = hs.install(path, form=FORM_EXEC, check_import=False)
    assert set(result.updated) == set(HOOK_EVENTS) and not result.added
    data = json.loads(Path(path).read_text())
    for event in HOOK_EVENTS:
        (group,) = data["hooks"][event]
        (hook,) = group["hooks"]
        assert hook["command"] == sys.executable and "args" in hook
    hs.install(path, form=FORM_SHELL, check_import=False)
    assert json.loads(Path(path).read_text()) == shell  # `args` goes with the form


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_frozen_hook_commands_name_a_frozen_program_and_are_ours(tmp_path: Path, platform: str) -> None:
    exe = ".exe" if platform == "win32" else ""
    cli = tmp_path / f"orchestray{exe}"
    cli.write_bytes(b"")
    assert launch.hook_prefix(frozen=True, executable=str(cli), platform=platform) == [str(cli)]
    assert launch.cli_command(frozen=True, executable=str(cli)) == [str(cli)]
    for program in (cli, tmp_path / f"orchestray-hook{exe}"):  # the small hook program is recognised too
        for form in (FORM_EXEC, FORM_SHELL):
            entry = hook_entry([str(program)], "prompt", form, windows=platform == "win32")
            assert hook_subcommand(entry) == "prompt"


# ------------------------------------------------------------------- Windows quoting under a real bash


def _recorder(at: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    at.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        "open(sys.argv[0] + '.argv', 'w', encoding='utf-8').write(json.dumps(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    at.chmod(0o755)


@needs_bash
@posix_only  # a Linux stand-in for Git Bash; on Windows, build.yml runs the installed hooks under Git Bash itself
@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_windows_command_line_gives_exactly_the_intended_argv_under_bash(tmp_path: Path, sub: str) -> None:
    """Git Bash runs the line; the program (a Windows path, made relative here) is an argv recorder."""
    words = [WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP, WINDOWS_ROOT]
    entry = hook_entry(words, sub, FORM_SHELL, windows=True)
    command = entry["command"]
    # forward slashes only (the one backslash left is bash's own escape of a quote: '\'')
    assert "\\" not in command.replace("'\\''", "")
    # `C:/Users/...` is a relative path on Linux: put the recorder there, under the test's working folder.
    program = tmp_path / WINDOWS_PYTHON.replace("\\", "/")
    _recorder(program)
    done = subprocess.run([BASH, "-c", command], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    recorded = json.loads(Path(str(program) + ".argv").read_text(encoding="utf-8"))
    intended = [word.replace("\\", "/") for word in [*words[1:], "hook", sub]]
    assert recorded == intended
    assert recorded[1] == launch.HOOK_BOOTSTRAP  # the program text arrives untouched


def test_windows_exec_form_keeps_the_native_paths() -> None:
    entry = hook_entry([WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP, WINDOWS_ROOT], "prompt", FORM_EXEC, windows=True)
    assert entry["command"] == WINDOWS_PYTHON
    assert entry["args"] == ["-c", launch.HOOK_BOOTSTRAP, WINDOWS_ROOT, "hook", "prompt"]


def test_the_bootstrap_has_nothing_a_shell_would_touch() -> None:
    assert not set("'\"\\$`%!&|;<>") & set(launch.HOOK_BOOTSTRAP)


@needs_bash
def test_posix_quoting_survives_the_same_hostile_path(tmp_path: Path) -> None:
    program = tmp_path / "it's a $HOME `dir` & 100%!" / "日本" / "python"
    _recorder(program)
    words = [str(program), "-c", launch.HOOK_BOOTSTRAP, WINDOWS_ROOT, "hook", "prompt"]
    for shell in ("/bin/sh", BASH):
        done = subprocess.run([shell, "-c", quote_command(words, windows=False)], capture_output=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(Path(str(program) + ".argv").read_text(encoding="utf-8")) == words[1:]


# --------------------------------------------------------------------------------- the stdin deadline


@pytest.mark.parametrize("posix", [True, False], ids=["select", "reader-thread"])
def test_stdin_left_open_is_read_until_the_deadline_on_both_paths(posix: bool) -> None:
    """Claude Code may leave stdin open: the hook must stop waiting (POSIX: select; Windows: a reader thread)."""
    if posix and os.name != "posix":
        pytest.skip("select on pipes is POSIX only")
    read_end, write_end = os.pipe()
    payload = json.dumps({"session_id": "abc", "prompt": "héllo"}).encode()
    os.write(write_end, payload)  # and the write end stays open
    got: List[str] = []
    with open(read_end, "rb", closefd=True) as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8")  # type: ignore[arg-type]
        worker = threading.Thread(target=lambda: got.append(handlers.read_stdin(stream, posix=posix)), daemon=True)
        worker.start()
        worker.join(30 * handlers.STDIN_DEADLINE_SECONDS)  # generous: the point is that it returns at all
        finished = not worker.is_alive()
        os.close(write_end)
        worker.join(30)
    assert finished, "read_stdin waited for an end of input that never came"
    assert got == [payload.decode()]


def test_reader_thread_reads_a_closed_stdin_whole() -> None:
    big = b"x" * (handlers.MAX_STDIN_BYTES + 5000)
    assert handlers.read_stdin(io.TextIOWrapper(io.BytesIO(big)), posix=False) == "x" * handlers.MAX_STDIN_BYTES


# ------------------------------------------------------------------------- settings.json that is hostile


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tray", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


@posix_only
@pytest.mark.parametrize("action", ["install", "status", "uninstall"])
def test_a_fifo_as_settings_json_is_refused_without_hanging(tmp_path: Path, action: str) -> None:
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)
    done = _cli("hooks", action, "--settings", str(fifo))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"orchestray: {fifo}: is not a regular file (a FIFO or a device?); "
                                                "not reading it"]
    assert os.listdir(tmp_path) == ["settings.json"]


@posix_only
def test_a_read_only_settings_json_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = b'{\n  "model": "opus"\n}\n'
    path.write_bytes(original)
    path.chmod(0o444)
    done = _cli("hooks", "install", "--settings", str(path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is read-only; not changing it" in done.stderr
    assert path.read_bytes() == original and (path.stat().st_mode & 0o777) == 0o444
    assert os.listdir(tmp_path) == ["settings.json"]  # no backup, no temp file


WRITER = """
import os, sys, time
from tray.core import fsutil
def stall(temp):
    print("ready", flush=True)
    time.sleep(600)
fsutil.atomic_write_bytes(sys.argv[1], b"{}", before_replace=stall)
"""


def kill_a_writer_mid_write(path: Path) -> None:
    """Start the settings writer (WRITER) on `path` and SIGKILL it once its temporary file is there."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=60)


@posix_only
def test_temp_files_of_a_killed_install_are_removed_by_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"model": "opus"}\n')
    kill_a_writer_mid_write(path)
    leftovers = [name for name in os.listdir(tmp_path) if name != "settings.json"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".settings.json.")  # what the kill left behind
    old = tmp_path / ".settings.json.k3x9_q2a.orchestray-tmp"  # an earlier version's, an hour old
    old.write_bytes(b"{")
    os.utime(old, (os.path.getmtime(path) - 3600,) * 2)
    done = _cli("hooks", "install", "--settings", str(path), "--form", "shell")
    assert done.returncode == 0, done.stderr
    names = os.listdir(tmp_path)
    assert not [n for n in names if n.startswith(".settings.json.")], names
    assert json.loads(path.read_text())["model"] == "opus"


@posix_only
def test_a_settings_file_with_a_long_name_gets_backups_and_temp_clean_up_within_the_name_limit(
    tmp_path: Path,
) -> None:
    """The names we derive from the file's (backups, temp files) stay within 255 bytes, and a killed writer's
    temp file of such a file is still found and removed by the next run."""
    path = tmp_path / ("s" * 240 + ".json")
    path.write_bytes(b'{"model": "opus"}\n')
    kill_a_writer_mid_write(path)
    [temp] = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    for _ in range(2):  # the second run backs up the first one's file: two backups, one naming rule
        done = _cli("hooks", "install", "--settings", str(path), "--form", "shell")
        assert done.returncode == 0, done.stderr
        _cli("hooks", "uninstall", "--settings", str(path), "--form", "shell")
    names = os.listdir(tmp_path)
    assert temp not in names and not [n for n in names if n.endswith(".tmp")], names
    backups = [n for n in names if ".orchestray-backup-" in n]
    assert len(backups) >= 2 and all(len(os.fsencode(n)) <= 255 for n in names), names
    assert json.loads(path.read_text()) == {"model": "opus"}


def test_a_fresh_temp_file_of_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    from tray.hooks.files import remove_stale_temps

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        temp = tmp_path / f".settings.json.{live.pid}-0badc0de.tmp"
        temp.write_bytes(b"{}")
        assert remove_stale_temps(str(tmp_path / "settings.json")) == 0 and temp.exists()
    finally:
        live.kill()
        live.wait(timeout=60)
    assert remove_stale_temps(str(tmp_path / "settings.json")) == 1 and not temp.exists()


# ----------------------------------------------------------------------------- the file's own layout


TABBED_INLINE = (
    '{\n\t"model": "opus",\n\t"permissions": { "allow": ["Bash(ls:*)", "Read(~/x)"], "deny": [] },\n'
    '\t"hooks": {\n\t\t"Stop": [\n\t\t\t{ "matcher": "", "hooks": [ { "type": "command", "command": "say done" } ] }'
    '\n\t\t],\n\t\t"PreToolUse": [{"matcher":"Bash","hooks":[{"type":"command","command":"check.sh","timeout":5}]}]\n'
    "\t},\n\t\"n\": 1.50,\n\t\"e\": \"caf\\u00e9\"\n}\n"
)


@pytest.mark.parametrize("form", [FORM_EXEC, FORM_SHELL])
def test_tabs_inline_objects_and_key_order_survive_install_and_uninstall(tmp_path: Path, form: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(TABBED_INLINE, encoding="utf-8")
    hs.install(str(path), form=form, check_import=False)
    text = path.read_text(encoding="utf-8")
    # What did not change is the exact text it was: inline objects on their line, tabs, number spellings.
    for line in TABBED_INLINE.splitlines()[1:4] + TABBED_INLINE.splitlines()[5:7]:
        assert line in text
    assert '\t"n": 1.50,' in text and '"e": "caf\\u00e9"' in text
    assert not re.search(r"^ +\S", text, re.M)  # nothing indented with spaces in a tab-indented file
    data = json.loads(text)
    assert list(data) == ["model", "permissions", "hooks", "n", "e"]
    assert all(hs.hook_subcommand(g["hooks"][0]) for e in HOOK_EVENTS for g in data["hooks"][e][-1:])
    hs.uninstall(str(path))
    assert path.read_text(encoding="utf-8") == TABBED_INLINE


def test_a_hook_added_inside_an_inline_group_stays_on_its_line(tmp_path: Path) -> None:
    prefix = launch.hook_prefix()
    ours = hook_entry(prefix, "stop", FORM_EXEC)
    mine = {"type": "command", "command": "say done"}
    path = tmp_path / "settings.json"
    path.write_text('{\n  "hooks": {\n    "Stop": [ { "matcher": "", "hooks": [ '
                    + json.dumps(mine) + ", " + json.dumps(dict(ours, timeout=3)) + " ] } ]\n  }\n}\n")
    hs.install(str(path), form=FORM_EXEC, check_import=False)
    lines = path.read_text().splitlines()
    stop_line = next(line for line in lines if '"Stop"' in line)
    assert stop_line.startswith('    "Stop": [ { "matcher": "", "hooks": [ {"type": "command", "command": "say done"}')
    assert json.loads(path.read_text())["hooks"]["Stop"][0]["hooks"][1]["timeout"] == 10  # updated in place


# ------------------------------------------------------------------------------------ no import cycles


def _import_graph() -> Dict[str, Set[str]]:
    """Module -> the tray modules it imports anywhere (also inside functions: a lazy import is still a cycle)."""
    modules = {}
    for path in (REPO / "tray").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    graph[name].add(full if full in modules else node.module)
        graph[name] -= {name, "tray"}
    return graph


def _reaches(graph: Dict[str, Set[str]], start: str, goal: str) -> bool:
    seen: Set[str] = set()
    todo = list(graph[start])
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(graph[current])
    return False


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = _import_graph()
    assert "tray.platform.launch" in graph and "tray.hooks.events" in graph and "tray.core.log" in graph
    cyclic = [m for m in graph if _reaches(graph, m, m)]
    assert cyclic == []
    assert graph["tray.hooks.events"] == set()  # the table imports nothing


@posix_only
@pytest.mark.parametrize(("says", "exit_code", "form"), [
    ("2.1.332 (Claude Code)", 0, FORM_EXEC), ("2.1.139 (Claude Code)", 0, FORM_EXEC),
    ("2.1.138 (Claude Code)", 0, FORM_SHELL), ("garbage", 0, FORM_SHELL), ("2.1.332 (Claude Code)", 1, FORM_SHELL),
])
def test_the_form_follows_what_the_installed_claude_says(tmp_path: Path, says: str, exit_code: int, form: str) -> None:
    program = tmp_path / "claude"
    program.write_text(f"#!/bin/sh\necho '{says}'\nexit {exit_code}\n")
    program.chmod(0o755)
    assert detect_form(str(program)) == form
    assert claude_program({"PATH": str(tmp_path), "HOME": str(tmp_path / "nohome")}) == str(program)
    assert claude_program({"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path / "nohome")}) is None


# ------------------------------------------------------- Windows without Git Bash: Claude Code's PowerShell


def test_windows_shell_form_runs_under_git_bash_when_there_is_one(tmp_path: Path) -> None:
    from tray.hooks.invocation import claude_argv

    bash = tmp_path / "Git" / "bin" / "bash.exe"
    bash.parent.mkdir(parents=True)
    bash.write_bytes(b"")
    entry = hook_entry([WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP, WINDOWS_ROOT], "prompt", FORM_SHELL, windows=True)
    environ = {"CLAUDE_CODE_GIT_BASH_PATH": str(bash), "PATH": str(tmp_path / "none")}
    assert claude_argv(entry, windows=True, environ=environ) == [str(bash), "-c", entry["command"]]
    exec_entry = hook_entry([WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP], "prompt", FORM_EXEC, windows=True)
    assert claude_argv(exec_entry, windows=True, environ={})[0] == WINDOWS_PYTHON  # exec form: no shell at all


def test_windows_shell_form_without_git_bash_runs_under_powershell_as_claude_code_does(tmp_path: Path) -> None:
    """Claude Code 2.1.120+ falls back to PowerShell without Git Bash; `hooks status` must probe it that way
    (where the shell form's quoted program is a parse error), not as a direct spawn that would pass."""
    from tray.hooks.invocation import POWERSHELL_OPTIONS, claude_argv

    entry = hook_entry([WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP], "stop", FORM_SHELL, windows=True)
    nowhere = {"PATH": str(tmp_path / "none"), "SystemRoot": "C:\\Windows", "ProgramFiles": str(tmp_path / "pf")}
    argv = claude_argv(entry, windows=True, environ=nowhere)
    assert argv == ["C:\\Windows/System32/WindowsPowerShell/v1.0/powershell.exe".replace("/", os.sep),
                    *POWERSHELL_OPTIONS, entry["command"]]
    pwsh = tmp_path / "pf" / "PowerShell" / "7" / "pwsh.exe"
    pwsh.parent.mkdir(parents=True)
    pwsh.write_bytes(b"")
    assert claude_argv(entry, windows=True, environ=nowhere)[0] == str(pwsh)  # PowerShell 7 first


@posix_only
def test_a_hook_failing_under_powershell_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tray.hooks import invocation

    shell = tmp_path / "powershell.exe"  # a stand-in that fails as PowerShell does on `'C:/…' 'hook' …`
    shell.write_text("#!/bin/sh\necho \"ParserError: Unexpected token ''hook'' in expression\" >&2\nexit 1\n")
    shell.chmod(0o755)
    monkeypatch.setattr(invocation, "claude_argv", lambda hook: [str(shell), "-Command", hook["command"]])
    entry = hook_entry([WINDOWS_PYTHON, "-c", launch.HOOK_BOOTSTRAP], "stop", FORM_SHELL, windows=True)
    result = invocation.probe(entry, "stop")
    assert not result.ok
    assert "Unexpected token" in result.problem and "install Git for Windows" in result.problem
    assert "2.1.139" in result.problem and "\n" not in result.problem
