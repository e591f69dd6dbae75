"""Which process is Claude Code, seen from a hook or a command it runs.

The hook runs as `/bin/sh -c "<command>"` under Claude Code (on Windows through Git Bash, `bash.exe -c`, or
PowerShell), so the PID to register is not our parent but the nearest ancestor that is Claude Code: an
executable named `claude`, a `node` running Claude Code's CLI, or the native installer's binary.

The native installer keeps each release as `~/.local/share/claude/versions/2.1.332` (a file named after its
version) and points `~/.local/bin/claude` at it. macOS names a process after the file it runs, links resolved,
so there Claude Code's process is called `2.1.332`, not `claude`; it is recognised by its program's path
(`.../claude/versions/<version>`) or by the name it was started as (`argv[0]`).
"""

from __future__ import annotations

import os
import re
from typing import List, Optional

import psutil

CLAUDE_NAMES = ("claude", "claude.exe")
NODE_NAMES = ("node", "node.exe")
SHELL_NAMES = (
    "sh",
    "bash",
    "dash",
    "zsh",
    "fish",
    "ksh",
    "sh.exe",  # Git Bash: Claude Code runs hooks through it on Windows (2.1.47+)
    "bash.exe",
    "cmd.exe",
    "powershell.exe",
    "pwsh",
    "pwsh.exe",
)
MAX_DEPTH = 16
#: The file name of a native-installer release (`2.1.332`); only inside a `claude/versions` folder.
VERSION_NAME = re.compile(r"^\d+\.\d+\.\d+(?:[-+][\w.]+)?(?:\.exe)?$", re.IGNORECASE)


def _parts(path: str) -> List[str]:
    return [part.lower() for part in re.split(r"[\\/]+", path) if part]


def is_native_release(path: str) -> bool:
    """True for `.../claude/versions/2.1.332` (any separator): the native installer's Claude Code binary."""
    parts = _parts(path)
    return len(parts) >= 3 and parts[-3] == "claude" and parts[-2] == "versions" and bool(VERSION_NAME.match(parts[-1]))


def _is_claude(process: psutil.Process) -> bool:
    try:
        name = process.name().lower()
        if name in CLAUDE_NAMES:
            return True
        if name in NODE_NAMES:
            return any("claude" in part.lower() for part in process.cmdline()[1:3])
        if not VERSION_NAME.match(name):
            return False
        # The native installer's release file (macOS names the process after it): its path, else its argv[0].
        argv = process.cmdline()
        if argv and (is_native_release(argv[0]) or _parts(argv[0])[-1:] in (["claude"], ["claude.exe"])):
            return True
        return is_native_release(process.exe())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return False


def _is_transient_shell(process: psutil.Process) -> bool:
    """A shell started to run one command (`sh -c ...`), as Claude Code does for hooks."""
    try:
        if process.name().lower() not in SHELL_NAMES:
            return False
        args = [a.lower() for a in process.cmdline()[1:]]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(a in ("-c", "/c", "-command") or (a.startswith("-") and "c" in a[1:] and len(a) < 5) for a in args)


def ancestors(pid: Optional[int] = None) -> List[psutil.Process]:
    """Our parent, grandparent, ... (nearest first), at most MAX_DEPTH of them."""
    found: List[psutil.Process] = []
    try:
        current = psutil.Process(os.getpid() if pid is None else pid).parent()
        while current is not None and len(found) < MAX_DEPTH:
            found.append(current)
            current = current.parent()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return found


def session_pid(pid: Optional[int] = None) -> int:
    """The PID a registration should carry: Claude Code's, else the process that asked for it.

    Outside Claude Code, a command typed in an interactive shell registers that shell (it lives as long as the
    user's session); a command run through `sh -c` registers the program that ran that shell.
    """
    chain = ancestors(pid)
    for process in chain:
        if _is_claude(process):
            return process.pid
    if not chain:
        return os.getppid()
    index = 0
    # Skip every shell started for one command: Git Bash's `bin\bash.exe -c` runs `usr\bin\bash.exe -c`.
    while index < len(chain) - 1 and _is_transient_shell(chain[index]):
        index += 1
    return chain[index].pid
