"""macOS: select the Terminal.app tab or the iTerm2 session whose tty is the session's, and bring it forward.

Through ``osascript`` with argv only: the script is a constant and the tty is passed as its argument (``on run
argv``), so nothing from the registry is ever pasted into AppleScript source. Which app to ask is read from the
session's ancestors (``Terminal`` or ``iTerm2``); another terminal is named in the refusal, never guessed.
"""

from __future__ import annotations

import subprocess
from typing import Any, Callable, List, Sequence

from tray.platform.focus_base import FocusResult, Processes

OSASCRIPT = "/usr/bin/osascript"
TIMEOUT = 10.0

#: Process name -> (the app's AppleScript name, the script that finds the tty's tab and selects it).
TERMINAL_SCRIPT = """on run argv
set wanted to item 1 of argv
tell application "Terminal"
repeat with w in windows
repeat with t in tabs of w
if tty of t is wanted then
set selected of t to true
set index of w to 1
activate
return "ok"
end if
end repeat
end repeat
end tell
return "not found"
end run"""

ITERM_SCRIPT = """on run argv
set wanted to item 1 of argv
tell application "iTerm2"
repeat with w in windows
repeat with t in tabs of w
repeat with s in sessions of t
if tty of s is wanted then
select w
tell t to select
tell s to select
activate
return "ok"
end if
end repeat
end repeat
end repeat
end tell
return "not found"
end run"""

APPS = {"Terminal": ("Terminal", TERMINAL_SCRIPT), "iTerm2": ("iTerm2", ITERM_SCRIPT)}


def argv(script: str, tty: str) -> List[str]:
    """One ``-e`` per line (osascript joins them), then the tty as the script's only argument."""
    out = [OSASCRIPT]
    for line in script.splitlines():
        out += ["-e", line]
    return out + [tty]


def raise_tab(
    ancestors: Sequence[int],
    tty: str,
    processes: Processes,
    run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run,
) -> FocusResult:
    if not tty:
        return FocusResult(False, "it has no terminal (tty)")
    names = [processes.name(pid) for pid in ancestors]
    app = next((APPS[name] for name in names if name in APPS), None)
    if app is None:
        outer = names[-1] if names else "?"
        return FocusResult(False, f"not in Terminal or iTerm2 (its outermost process is {outer})")
    title, script = app
    from tray.platform.opener import child_env

    try:
        done = run(argv(script, tty), capture_output=True, text=True, timeout=TIMEOUT, check=False,
                   stdin=subprocess.DEVNULL, env=child_env())
    except (OSError, subprocess.TimeoutExpired) as error:
        return FocusResult(False, f"osascript failed: {error}")
    answer = (done.stdout or "").strip()
    if done.returncode != 0:
        return FocusResult(False, f"{title} refused: {' '.join((done.stderr or '').split())[:160]}")
    if answer != "ok":
        return FocusResult(False, f"{title} has no tab on {tty}")
    return FocusResult(True, f"raised the {title} tab on {tty}")
