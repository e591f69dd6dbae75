"""Start a new worker: the user's terminal running `claude --worktree [NAME] [--tmux]` in the project's root.

The protocol's worktree pattern gives each session its own branch and `.claude/` folder; the new session then
registers itself as a worker through the hooks. Everything is an argument list, never a shell string built
from data: the project root becomes the child's working directory (and, for terminals that ignore it, their
own working-directory option), and the worktree name is checked to be a plain git-branch-like name (no
leading `-`, no spaces, quotes, `;` or `$`), since Windows Terminal splits its command line on `;` itself.

Which terminal: Linux and other Unixes `$TERMINAL` (a program name, split like a shell would only because the
user wrote it), then Debian's `x-terminal-emulator`, then a known list, each with the option that takes the
rest of the argv as the command; macOS Terminal.app through `osascript` with the arguments passed as `argv`
and quoted by AppleScript's `quoted form of`; Windows Terminal (`wt.exe`), else a new console window.

The platform, `which` and `Popen` are parameters, so the macOS and Windows branches run in tests on Linux.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from tray.platform.opener import platform_kind

#: A worktree name: what `git branch` accepts in practice, without anything a command line could misread.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")

#: Known terminals (in order of preference) and the argv prefix after which the command's argv follows.
#: `{cwd}` stands for the project root, for terminals that would otherwise open in their own folder.
KNOWN_TERMINALS: Sequence[Sequence[str]] = (
    ("gnome-terminal", "--working-directory={cwd}", "--"),
    ("konsole", "--workdir", "{cwd}", "-e"),
    ("xfce4-terminal", "--working-directory={cwd}", "-x"),
    ("mate-terminal", "--working-directory={cwd}", "-x"),
    ("terminator", "--working-directory={cwd}", "-x"),
    ("kitty", "--directory", "{cwd}"),
    ("alacritty", "--working-directory", "{cwd}", "-e"),
    ("wezterm", "start", "--cwd", "{cwd}", "--"),
    ("foot", "--working-directory={cwd}"),
    ("xterm", "-e"),
    ("urxvt", "-e"),
)

#: Terminal.app: a new window that changes to the root and runs the command; AppleScript quotes each argument.
OSASCRIPT = (
    "on run argv",
    'set command to "cd " & quoted form of (item 1 of argv) & " &&"',
    "repeat with i from 2 to count of argv",
    'set command to command & " " & quoted form of (item i of argv)',
    "end repeat",
    'tell application "Terminal"',
    "activate",
    "do script command",
    "end tell",
    "end run",
)

CREATE_NEW_CONSOLE = 0x00000010


class SpawnRefused(Exception):
    """A worker cannot be started (bad name, no claude, no terminal): one line for the user."""


class BadName(SpawnRefused):
    """The worktree name is not one we pass on."""


@dataclass(frozen=True)
class Plan:
    """How to start the terminal: its argv, working directory, and Windows creation flags."""

    argv: List[str]
    cwd: str
    creationflags: int = 0
    terminal: str = ""
    env: Dict[str, str] = field(default_factory=dict)


def claude_command(claude: str, name: Optional[str] = None, tmux: bool = False) -> List[str]:
    """`claude --worktree [NAME] [--tmux]`, the name checked (see the module docstring)."""
    argv = [claude, "--worktree"]
    if name:
        if not NAME_PATTERN.fullmatch(name) or ".." in name or name.endswith((".lock", "/", ".")):
            raise BadName(f"not a usable worktree name: {name!r} (letters, digits, '.', '_', '-', '/')")
        argv.append(name)
    if tmux:
        argv.append("--tmux")
    return argv


def _fill(prefix: Sequence[str], cwd: str) -> List[str]:
    return [part.replace("{cwd}", cwd) for part in prefix]


def unix_terminal(command: List[str], cwd: str, environ: Mapping[str, str],
                  which: Callable[[str], Optional[str]]) -> List[str]:
    """The argv that runs `command` in a new terminal window on Linux and other Unixes."""
    chosen = environ.get("TERMINAL", "").strip()
    if chosen:
        words = shlex.split(chosen)
        if words and which(words[0]):
            base = os.path.basename(words[0])
            for known in KNOWN_TERMINALS:
                if known[0] == base and len(words) == 1:
                    return [words[0], *_fill(known[1:], cwd), *command]
            return [*words, "-e", *command]  # the convention most terminals follow
    if which("x-terminal-emulator"):
        return ["x-terminal-emulator", "-e", *command]  # Debian policy: -e takes the rest as the command's argv
    for known in KNOWN_TERMINALS:
        if which(known[0]):
            return [known[0], *_fill(known[1:], cwd), *command]
    raise SpawnRefused("no terminal found: set $TERMINAL (for example TERMINAL=xterm)")


def plan(root: str, name: Optional[str] = None, tmux: bool = False, *, platform: Optional[str] = None,
         environ: Optional[Mapping[str, str]] = None,
         which: Callable[[str], Optional[str]] = shutil.which) -> Plan:
    """How a new worker in `root` would be started on `platform`; raises SpawnRefused with the reason."""
    env = dict(os.environ if environ is None else environ)
    if not os.path.isdir(root):
        raise SpawnRefused(f"the project folder {root} does not exist")
    kind = platform_kind(platform)
    claude = which("claude")
    if not claude and kind == "macos":
        claude = "claude"  # an app started from Finder has a short PATH; Terminal's login shell has the user's
    if not claude:
        raise SpawnRefused("claude is not on PATH: install Claude Code first")
    command = claude_command(claude, name, tmux)
    if kind == "macos":
        argv = ["osascript"]
        for line in OSASCRIPT:
            argv += ["-e", line]
        return Plan(argv + [root, *command], root, terminal="Terminal.app", env=env)
    if kind == "windows":
        terminal = which("wt.exe") or which("wt")
        if terminal:
            return Plan([terminal, "-d", root, *command], root, terminal="Windows Terminal", env=env)
        return Plan(command, root, creationflags=CREATE_NEW_CONSOLE, terminal="a new console", env=env)
    argv = unix_terminal(command, root, env, which)
    return Plan(argv, root, terminal=os.path.basename(argv[0]), env=env)


def spawn(root: str, name: Optional[str] = None, tmux: bool = False, *, platform: Optional[str] = None,
          environ: Optional[Mapping[str, str]] = None, which: Callable[[str], Optional[str]] = shutil.which,
          popen: Callable[..., Any] = subprocess.Popen) -> Plan:
    """Start the terminal and return at once (it is reaped in the background); the plan that was run."""
    from tray.platform.opener import child_env

    chosen = plan(root, name, tmux, platform=platform, environ=environ, which=which)
    env = child_env(chosen.env)
    env.pop("CLAUDE_CODE_SESSION_ID", None)  # a new session, not the one that may have asked for it
    options: Dict[str, Any] = {"cwd": chosen.cwd, "env": env, "shell": False, "stdin": subprocess.DEVNULL,
                               "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "close_fds": True}
    if chosen.creationflags:
        options["creationflags"] = chosen.creationflags
    elif platform_kind(platform) != "windows":
        options["start_new_session"] = True
    try:
        process = popen(chosen.argv, **options)
    except OSError as error:
        raise SpawnRefused(f"cannot start {chosen.terminal}: {error.strerror or error}") from error
    wait = getattr(process, "wait", None)
    if callable(wait):
        threading.Thread(target=wait, name="spawn-reaper", daemon=True).start()
    return chosen
