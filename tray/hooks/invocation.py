"""How Claude Code runs our hooks: the hook entries we write, recognising ours, and running them as it would.

A hook entry in ``settings.json`` comes in two forms:

* **exec form** (Claude Code 2.1.139 and later): ``{"command": PROGRAM, "args": [...]}``; Claude Code spawns the
  program with exactly those arguments, no shell. Nothing to quote, on every system; a missing program is a
  failed spawn, which Claude Code reports as a non-blocking hook error. Used whenever the installed Claude Code
  supports it (``hooks install --form auto`` asks ``claude --version``).
* **shell form** (``{"command": "LINE"}``): Claude Code runs ``/bin/sh -c LINE`` on POSIX and, on Windows
  (2.1.47 and later), Git Bash. So on both every word is single-quoted the POSIX way (single quotes are literal
  in ``sh`` and ``bash``: backslashes, ``$``, backticks, spaces and non-ASCII pass unchanged), and on Windows
  backslashes become forward slashes first (Git Bash accepts ``C:/…``; Python too). Without Git Bash, Claude
  Code older than 2.1.139 falls back to PowerShell, which the shell form does not serve: there, exec form.

A hook is ours when it is ``"type": "command"`` and its words (exec form: ``command`` + ``args``; shell form:
the line split like a shell would, POSIX rules and then Windows double-quote rules) end with ``hook SUB`` (a
subcommand of ``events.HOOK_EVENTS``) preceded by one of: ``<interpreter> [-options] -c <bootstrap>
[<folder>]`` (the bootstrap of ``tray/platform/launch.py``, recognised by its mark), ``<interpreter>
[-options] -m tray``, ``<interpreter> [-options] <…>/tray/hook.py`` (what earlier versions wrote), or a single
program named ``orchestray[.exe]`` or ``orchestray-hook[.exe]`` (the frozen builds). A command the user
customised (extra words after the subcommand) is theirs.

Running a hook as Claude Code would (:func:`probe`) is how ``hooks status`` proves that each installed command
still works: it sets ``events.PROBE_ENV`` and expects the hook's one-line JSON answer and exit status 0.

One module just past 400 lines: writing, recognising and running hook entries is one vocabulary (the two forms,
the words that make a hook ours), and splitting it would put the writer and the recogniser out of step.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from tray.hooks.events import HOOK_EVENTS, PROBE_ENV, SUBCOMMANDS
from tray.platform.launch import FROZEN_HOOK_PROGRAM_NAMES, HOOK_BOOTSTRAP_MARK

FORM_EXEC = "exec"
FORM_SHELL = "shell"
FORMS = (FORM_EXEC, FORM_SHELL)
#: The first Claude Code release with exec-form hooks (``args``).
EXEC_FORM_SINCE = (2, 1, 139)
#: Seconds; Claude Code kills a hook after this. Ours take milliseconds; 10 s only bounds a stuck disk.
HOOK_TIMEOUT_SECONDS = 10
PROBE_TIMEOUT_SECONDS = 30.0

CommandPrefix = Union[str, Sequence[str], None]


class CommandError(ValueError):
    """A command we were asked to write is not one we would recognise as ours again."""


# --------------------------------------------------------------------------------------------------------
# Quoting and splitting
# --------------------------------------------------------------------------------------------------------


def _single_quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def quote_command(words: Sequence[str], windows: Optional[bool] = None) -> str:
    """Join argv words into a shell command line for the shell Claude Code runs hooks with.

    POSIX: ``shlex.quote`` (``/bin/sh -c``). Windows (Git Bash): every word single-quoted, backslashes turned
    into forward slashes (see the module docstring).
    """
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return " ".join(shlex.quote(word) for word in words)
    return " ".join(_single_quote(word.replace("\\", "/")) for word in words)


def split_command(command: str, windows: Optional[bool] = None) -> List[str]:
    """Split a command line into words the way this platform's hook shell would (best effort, never raises)."""
    if windows is None:
        windows = os.name == "nt"
    words = _split_posix(command)
    if words is not None and (not windows or "'" in command):
        return words
    return _split_windows(command) if windows else (words if words is not None else command.split())


def _split_posix(command: str) -> Optional[List[str]]:
    try:
        return shlex.split(command, posix=True)
    except ValueError:  # unbalanced quotes
        return None


def _split_windows(command: str) -> List[str]:
    """Double quotes group, backslashes are literal (commands earlier versions wrote on Windows)."""
    words: List[str] = []
    current: List[str] = []
    quoted = False
    in_word = False
    for char in command:
        if char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


# --------------------------------------------------------------------------------------------------------
# Recognising ours
# --------------------------------------------------------------------------------------------------------


def program_name(word: str) -> str:
    """The lower-case file name of a program path, without ``.exe``."""
    name = re.split(r"[\\/]", word)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _options(words: Sequence[str]) -> bool:
    return all(word.startswith("-") and word != "-c" for word in words)


def match_words(words: Sequence[str]) -> Optional[str]:
    """The ``hook`` subcommand if ``words`` (a whole argv) is one of our hook commands, else None."""
    if len(words) < 3 or words[-2] != "hook" or words[-1] not in SUBCOMMANDS:
        return None
    prefix = list(words[:-2])
    if len(prefix) == 1 and program_name(prefix[0]) in FROZEN_HOOK_PROGRAM_NAMES:
        return words[-1]
    # `<interpreter> [-options…] -c <bootstrap> [<folder>]`
    if "-c" in prefix:
        at = prefix.index("-c")
        rest = prefix[at + 1 :]
        if at >= 1 and _options(prefix[1:at]) and 1 <= len(rest) <= 2 and HOOK_BOOTSTRAP_MARK in rest[0]:
            return words[-1]
        return None
    # `<interpreter> [-options…] -m tray`: every word between the interpreter and `-m` must be an option, so a
    # compound command such as `echo; python -m tray hook prompt` is not mistaken for ours.
    if len(prefix) >= 3 and prefix[-2:] == ["-m", "tray"] and _options(prefix[1:-2]):
        return words[-1]
    # `<interpreter> [-options…] <…>/tray/hook.py`: the script earlier versions wrote.
    is_script = len(prefix) >= 2 and [p.lower() for p in re.split(r"[\\/]", prefix[-1])[-2:]] == ["tray", "hook.py"]
    if is_script and _options(prefix[1:-1]):
        return words[-1]
    return None


def orchestray_subcommand(command: Any) -> Optional[str]:
    """The ``hook`` subcommand if the shell command line ``command`` is one of ours, else None.

    Both splitting rules are tried, so a settings file written on Windows is still understood elsewhere and
    the other way round (an unquoted ``C:\\x\\orchestray.exe`` loses its backslashes under POSIX rules).
    """
    if not isinstance(command, str):
        return None
    for words in (_split_posix(command), _split_windows(command)):
        if words:
            sub = match_words(words)
            if sub is not None:
                return sub
    return None


def entry_words(hook: Any) -> Optional[List[str]]:
    """The argv an exec-form entry runs (``command`` + ``args``), or None for a shell-form or foreign entry."""
    if not isinstance(hook, dict) or hook.get("type") != "command":
        return None
    command, args = hook.get("command"), hook.get("args")
    if isinstance(command, str) and isinstance(args, list) and all(isinstance(a, str) for a in args):
        return [command, *args]
    return None


def hook_subcommand(hook: Any) -> Optional[str]:
    """The ``hook`` subcommand of a settings.json hook entry that is ours (either form), else None."""
    if not isinstance(hook, dict) or hook.get("type") != "command":
        return None
    if "args" in hook:
        words = entry_words(hook)
        return match_words(words) if words is not None else None
    return orchestray_subcommand(hook.get("command"))


def hook_words(hook: Mapping[str, Any], windows: Optional[bool] = None) -> List[str]:
    """The argv an entry of ours runs, in either form (shell form split like this platform's hook shell)."""
    words = entry_words(hook)
    if words is not None:
        return words
    return split_command(str(hook.get("command", "")), windows)


def describe(hook: Mapping[str, Any]) -> str:
    """One line for a hook entry: its words quoted for reading, our bootstrap shown as ``<bootstrap>``."""
    words = entry_words(hook)
    if words is None:
        command = str(hook.get("command", ""))
        if HOOK_BOOTSTRAP_MARK not in command:
            return command
        words = split_command(command)
    shown = ["<bootstrap>" if HOOK_BOOTSTRAP_MARK in word else shlex.quote(word) for word in words]
    return ("exec: " if "args" in hook else "") + " ".join(shown)


# --------------------------------------------------------------------------------------------------------
# Building ours
# --------------------------------------------------------------------------------------------------------


def hook_entry(
    prefix: Union[str, Sequence[str]],
    subcommand: str,
    form: str = FORM_SHELL,
    windows: Optional[bool] = None,
    timeout: int = HOOK_TIMEOUT_SECONDS,
) -> Dict[str, Any]:
    """The settings.json entry that runs ``hook SUB`` after ``prefix``; raises :class:`CommandError` when it
    would not be recognised as ours (uninstall could not find it again).

    ``prefix``: argv words; or a string used verbatim as an already-quoted shell fragment (shell form only).
    """
    if form not in FORMS:
        raise CommandError(f"unknown hook form {form!r}")
    if isinstance(prefix, str):
        if form == FORM_EXEC:
            raise CommandError("an exec-form hook needs the program and its arguments as separate words")
        entry: Dict[str, Any] = {"type": "command", "command": f"{prefix.strip()} hook {subcommand}"}
    elif form == FORM_EXEC:
        entry = {"type": "command", "command": prefix[0], "args": [*prefix[1:], "hook", subcommand]}
    else:
        entry = {"type": "command", "command": quote_command([*prefix, "hook", subcommand], windows=windows)}
    entry["timeout"] = timeout
    if hook_subcommand(entry) != subcommand:
        raise CommandError(
            f"refusing to install {describe(entry)!r}: it does not look like an Orchestray command "
            "(`<python> -c <bootstrap>`, `<python> -m tray hook …` or `orchestray hook …`), so uninstall could "
            "not find it again"
        )
    return entry


def hook_entries(
    prefix: Union[str, Sequence[str]],
    form: str = FORM_SHELL,
    windows: Optional[bool] = None,
    timeout: int = HOOK_TIMEOUT_SECONDS,
) -> Dict[str, Dict[str, Any]]:
    """Event -> the entry ``install`` writes for it, for every event of the table."""
    return {event: hook_entry(prefix, sub, form, windows, timeout) for event, sub in HOOK_EVENTS.items()}


# --------------------------------------------------------------------------------------------------------
# Which form the installed Claude Code understands
# --------------------------------------------------------------------------------------------------------


def claude_program(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The ``claude`` a user would start: on ``PATH``, else where the native installer puts it."""
    env = os.environ if environ is None else environ
    found = shutil.which("claude", path=env.get("PATH"))
    if found:
        return found
    home = env.get("HOME") or env.get("USERPROFILE") or os.path.expanduser("~")
    for candidate in (
        os.path.join(home, ".local", "bin", "claude"),
        os.path.join(home, ".local", "bin", "claude.exe"),
        os.path.join(home, ".claude", "local", "claude"),
    ):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def parse_version(text: str) -> Optional[Tuple[int, int, int]]:
    """``2.1.332 (Claude Code)`` -> ``(2, 1, 332)``; None when there is no version in it."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def claude_code_version(program: Optional[str] = None, runner: Callable[..., Any] = subprocess.run) -> Optional[
    Tuple[int, int, int]
]:
    """The installed Claude Code's version (``claude --version``), or None when there is none or it cannot say."""
    program = program or claude_program()
    if not program:
        return None
    try:
        done = runner(
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_version(done.stdout or "") if done.returncode == 0 else None


def form_for(version: Optional[Tuple[int, int, int]]) -> str:
    """Exec form when that Claude Code has it; shell form for an older one or when the version is unknown."""
    return FORM_EXEC if version is not None and version >= EXEC_FORM_SINCE else FORM_SHELL


def detect_form(program: Optional[str] = None) -> str:
    """:func:`form_for` the installed Claude Code."""
    return form_for(claude_code_version(program))


# --------------------------------------------------------------------------------------------------------
# Running ours as Claude Code would
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    """Whether one installed hook command really runs; ``problem`` is one line when it does not."""

    ok: bool
    problem: str = ""


def git_bash(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Git Bash on Windows, as Claude Code finds it (``CLAUDE_CODE_GIT_BASH_PATH``, then Git's usual places)."""
    env = os.environ if environ is None else environ
    configured = env.get("CLAUDE_CODE_GIT_BASH_PATH")
    if configured and os.path.isfile(configured):
        return configured
    git = shutil.which("git", path=env.get("PATH"))
    candidates = []
    if git:
        root = os.path.dirname(os.path.dirname(os.path.abspath(git)))
        candidates.append(os.path.join(root, "bin", "bash.exe"))
    for base in (env.get("ProgramFiles"), env.get("ProgramFiles(x86)"), env.get("LOCALAPPDATA")):
        if base:
            candidates.append(os.path.join(base, "Git", "bin", "bash.exe"))
            candidates.append(os.path.join(base, "Programs", "Git", "bin", "bash.exe"))
    return next((path for path in candidates if os.path.isfile(path)), None)


def windows_powershell(environ: Optional[Mapping[str, str]] = None) -> str:
    """The PowerShell Claude Code falls back to without Git Bash: PowerShell 7 where installed, else Windows
    PowerShell (always there)."""
    env = os.environ if environ is None else environ
    for base in (env.get("ProgramFiles"), r"C:\Program Files"):
        for flavour in ("7", "7-preview"):
            if base and os.path.isfile(os.path.join(base, "PowerShell", flavour, "pwsh.exe")):
                return os.path.join(base, "PowerShell", flavour, "pwsh.exe")
    system = env.get("SystemRoot") or r"C:\Windows"
    return os.path.join(system, "System32", "WindowsPowerShell", "v1.0", "powershell.exe")


#: How Claude Code (2.1.120 and later) starts PowerShell for a shell-form hook when there is no Git Bash.
POWERSHELL_OPTIONS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command")
#: What ``hooks status`` adds when a shell-form hook fails under that PowerShell.
POWERSHELL_HINT = (
    "Claude Code runs it with PowerShell as there is no Git Bash: install Git for Windows, or update Claude Code "
    "(2.1.139 or later) and run `orchestray hooks install` again (exec form, no shell)"
)


def claude_argv(
    hook: Mapping[str, Any], windows: Optional[bool] = None, environ: Optional[Mapping[str, str]] = None
) -> List[str]:
    """The argv Claude Code starts for ``hook``: its exec form, else the hook shell with the command line
    (``/bin/sh -c``; on Windows Git Bash's ``bash.exe -c``, or PowerShell when there is no Git Bash)."""
    words = entry_words(hook)
    if words is not None:
        return words
    command = str(hook.get("command", ""))
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return ["/bin/sh", "-c", command]
    bash = git_bash(environ)
    if bash:
        return [bash, "-c", command]
    return [windows_powershell(environ), *POWERSHELL_OPTIONS, command]


def probe(hook: Mapping[str, Any], subcommand: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> ProbeResult:
    """Run an installed hook the way Claude Code would, asking it only to answer (``events.PROBE_ENV``)."""
    import json

    nonce = os.urandom(8).hex()
    # Without the prober's PYTHONPATH: the tray or a shell may have one that Claude Code's hooks will not, and
    # our commands carry their own package folder; one that works only through PYTHONPATH is broken.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env[PROBE_ENV] = nonce
    argv = claude_argv(hook)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=os.path.expanduser("~"),
            check=False,
        )
    except FileNotFoundError:
        return ProbeResult(False, f"cannot start {argv[0]}: no such program")
    except (OSError, subprocess.SubprocessError) as error:
        return ProbeResult(False, f"cannot run it: {error}")
    err = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
    if done.returncode == 2:
        return ProbeResult(False, "exits 2, which BLOCKS Claude Code (erases the prompt)" + (f": {err}" if err else ""))
    hint = f"; {POWERSHELL_HINT}" if program_name(argv[0]) in ("pwsh", "powershell") else ""
    if done.returncode != 0:
        return ProbeResult(False, f"exits {done.returncode}" + (f": {err}" if err else "") + hint)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    try:
        answer = json.loads(lines[0]) if len(lines) == 1 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("orchestrayProbe") != nonce or answer.get("event") != subcommand:
        why = err or ("printed something else" if lines else "no answer")
        return ProbeResult(False, f"does not run Orchestray ({why})" + hint)
    return ProbeResult(True)
