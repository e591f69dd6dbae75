"""Install, remove and inspect Orchestray's Claude Code hooks in ``settings.json``.

``settings.json`` belongs to the user and to Claude Code, which rewrites it too (``/permissions``, ``/model``).
So every change here is a careful read-modify-write:

* **Only our hooks are touched.** Everything else (other keys, other events, other groups, other hooks in a
  group, the order of keys) comes back exactly as it was parsed. The file is re-rendered with the indentation,
  line endings, final newline and UTF-8 BOM it had, so a file written with ``indent=2`` (as Claude Code writes
  it) comes back byte-identical after ``install`` + ``uninstall``.
* **Our hooks are recognised by the shape of their command**, never by an extra JSON key (Claude Code
  validates settings and might reject or drop unknown keys). A hook is ours when it is ``"type": "command"``
  and its command, split like a shell would, ends with ``hook <subcommand>`` (one of ``HOOK_EVENTS``'
  subcommands) preceded either by ``<interpreter> [-options] -m tray`` (any interpreter path, so a moved
  virtualenv or a Python upgrade is still recognised) or by a single program named ``orchestray`` or
  ``orchestray.exe`` (the PyInstaller build or the pip console script). A command the user customised
  (extra words after the subcommand) is theirs.
  ``install`` refuses to write a command it would not itself recognise, so uninstall can always find it.
* **Refuse rather than guess.** A file that is not UTF-8 JSON, whose top level is not an object, whose
  ``"hooks"`` is not an object or whose event value is not a list raises :class:`SettingsError` (one line,
  naming the file and, for syntax errors, the line and column) and the file is not touched at all. An empty
  (or all-whitespace) file holds no settings, so it is treated as ``{}``. ``NaN``/``Infinity`` are refused
  because Claude Code's JSON parser refuses them.
* **Safe writes.** A timestamped backup of the old bytes is written beside the given path first (the few most
  recent are kept), then a temporary file in the target's folder is written, fsynced and moved over the
  target with ``os.replace``, keeping the file's mode (new files get ``0600``: settings may hold tokens in
  ``env``). A symlinked ``settings.json`` stays a link: the file it points to is replaced. If the file changed
  between our read and our replace (Claude Code wrote it), the whole operation is redone from the new content.
* **Idempotent.** When nothing would change the file is not written at all (same bytes, same mtime).

Known normalisation: an empty ``"hooks": {}`` or an empty event list that existed before ``install`` is gone
after ``uninstall`` (it became empty because of us and nothing records that it was there before); Claude Code
treats both exactly like an absent key.

This module is stdlib-only (the hook path must stay light) and never imports the tray.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from tray.core.fsutil import fsync_directory

# The one table to extend: Claude Code hook event -> `orchestray hook <subcommand>`.
# `Stop` fires after every answer of the model (not at the end of a session) and `Notification` when Claude
# Code waits for the user: both only mark session activity and must never deregister. Only `SessionEnd` does.
HOOK_EVENTS: Mapping[str, str] = {
    "SessionStart": "session-start",
    "UserPromptSubmit": "prompt",
    "SessionEnd": "session-end",
    "Stop": "stop",
    "Notification": "notification",
}
HOOK_SUBCOMMANDS = frozenset(HOOK_EVENTS.values())
# Seconds; Claude Code kills a hook after this. Ours take milliseconds; 10 s only bounds a stuck disk.
HOOK_TIMEOUT_SECONDS = 10

BACKUP_INFIX = ".orchestray-backup-"
BACKUPS_KEPT = 5
NEW_FILE_MODE = 0o600
MAX_SETTINGS_BYTES = 16 * 1024 * 1024
_WRITE_ATTEMPTS = 3
_TEMP_SUFFIX = ".orchestray-tmp"

SHIM_NAME = "registry.py"
SHIM_MARKER = "# orchestray-registry-shim"

CommandPrefix = Union[str, Sequence[str], None]


class SettingsError(Exception):
    """The settings file cannot be used as it is (bad JSON, wrong shape, unreadable); nothing was written.

    ``str(error)`` is one line that names the file; the CLI prints it and exits 2.
    """

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


# --------------------------------------------------------------------------------------------------------
# Commands: building them for this platform, and recognising ours whatever interpreter wrote them.
# --------------------------------------------------------------------------------------------------------


def hook_script() -> str:
    """The absolute path of ``tray/hook.py``, the script the hooks run (it finds its own package)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hook.py")


def default_command_prefix() -> List[str]:
    """The argv words that run the hooks here: the frozen executable, else ``<python> <…>/tray/hook.py``.

    The script rather than ``-m tray`` because the prompt hook runs on every prompt and ``-m`` costs runpy's
    imports (see ``tray/hook.py``); the script also works when Orchestray is not importable from the
    project's folder (a source checkout), since it puts its own package on ``sys.path``.

    ``sys.executable`` is deliberately not resolved through symlinks: a virtualenv's ``bin/python`` is a link
    to the base interpreter, and resolving it would lose the virtualenv (and with it, Orchestray).
    """
    executable = sys.executable
    if not executable:
        raise SettingsError("cannot tell which program runs Orchestray (sys.executable is empty)")
    executable = os.path.abspath(executable)
    if getattr(sys, "frozen", False):
        return [executable]
    return [executable, hook_script()]


def cli_command_prefix() -> List[str]:
    """The argv words of the `orchestray` command line itself: the frozen executable, else `<python> -m tray`."""
    executable = os.path.abspath(sys.executable)
    return [executable] if getattr(sys, "frozen", False) else [executable, "-m", "tray"]


_WINDOWS_NEEDS_QUOTES = re.compile(r'[\s"&|<>^%!()\',;=`$]')


def quote_command(words: Sequence[str], windows: Optional[bool] = None) -> str:
    """Join argv words into a command line for the shell Claude Code runs hooks with.

    POSIX: ``shlex.quote`` (the hook runs as ``/bin/sh -c``). Windows: double quotes, always around the
    program (paths like ``C:\\Program Files\\…``), around other words only when needed; Windows paths cannot
    contain ``"``, and double quotes mean the same in ``cmd`` and in Git Bash for such paths.
    """
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return " ".join(shlex.quote(word) for word in words)
    quoted = []
    for index, word in enumerate(words):
        if index == 0 or not word or _WINDOWS_NEEDS_QUOTES.search(word):
            quoted.append('"' + word.replace('"', '\\"') + '"')
        else:
            quoted.append(word)
    return " ".join(quoted)


def split_command(command: str, windows: Optional[bool] = None) -> List[str]:
    """Split a command line into words the way this platform's hook shell would (best effort, never raises)."""
    if windows is None:
        windows = os.name == "nt"
    if windows:
        return _split_windows(command)
    words = _split_posix(command)
    return words if words is not None else command.split()


def _split_posix(command: str) -> Optional[List[str]]:
    try:
        return shlex.split(command, posix=True)
    except ValueError:  # unbalanced quotes
        return None


def _split_windows(command: str) -> List[str]:
    """Double quotes group, backslashes are literal (what matters for ``"C:\\…\\python.exe" -m tray …``)."""
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


def _program_name(word: str) -> str:
    name = re.split(r"[\\/]", word)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def _match_words(words: Sequence[str]) -> Optional[str]:
    if len(words) < 3 or words[-2] != "hook" or words[-1] not in HOOK_SUBCOMMANDS:
        return None
    prefix = list(words[:-2])
    if len(prefix) == 1 and _program_name(prefix[0]) == "orchestray":
        return words[-1]
    # `<interpreter> [-options…] -m tray`: every word between the interpreter and `-m` must be an option, so a
    # compound command such as `echo; python -m tray hook prompt` is not mistaken for ours.
    if len(prefix) >= 3 and prefix[-2:] == ["-m", "tray"] and all(w.startswith("-") for w in prefix[1:-2]):
        return words[-1]
    # `<interpreter> [-options…] <…>/tray/hook.py`: the fast hook script.
    is_script = len(prefix) >= 2 and [p.lower() for p in re.split(r"[\\/]", prefix[-1])[-2:]] == ["tray", "hook.py"]
    if is_script and all(w.startswith("-") for w in prefix[1:-1]):
        return words[-1]
    return None


def orchestray_subcommand(command: str) -> Optional[str]:
    """The ``hook`` subcommand if ``command`` is one of Orchestray's hook commands, else None.

    Both splitting rules are tried, so a settings file written on Windows is still understood elsewhere and
    the other way round (an unquoted ``C:\\x\\orchestray.exe`` loses its backslashes under POSIX rules).
    """
    if not isinstance(command, str):
        return None
    for words in (_split_posix(command), _split_windows(command)):
        if words:
            sub = _match_words(words)
            if sub is not None:
                return sub
    return None


def _our_subcommand(hook: Any) -> Optional[str]:
    if not isinstance(hook, dict) or hook.get("type") != "command":
        return None
    return orchestray_subcommand(hook.get("command"))  # type: ignore[arg-type]


def hook_commands(command_prefix: CommandPrefix = None, windows: Optional[bool] = None) -> Dict[str, str]:
    """Event -> the exact command string ``install`` writes for it.

    ``command_prefix``: None for :func:`default_command_prefix`; a sequence of argv words (quoted here); or a
    string used verbatim as an already-quoted shell fragment. The result must be recognisable as ours.
    """
    if command_prefix is None:
        command_prefix = default_command_prefix()
    commands = {}
    for event, sub in HOOK_EVENTS.items():
        if isinstance(command_prefix, str):
            command = f"{command_prefix.strip()} hook {sub}"
        else:
            command = quote_command([*command_prefix, "hook", sub], windows=windows)
        if orchestray_subcommand(command) != sub:
            raise SettingsError(
                f"refusing to install {command!r}: it does not look like an Orchestray command "
                "(`<python> -m tray hook …` or `orchestray hook …`), so uninstall could not find it again"
            )
        commands[event] = command
    return commands


def command_program(command: str) -> Optional[str]:
    """The program a hook command runs, as an absolute path when it can be found (PATH is searched)."""
    words = split_command(command)
    if not words:
        return None
    program = words[0]
    if os.path.isabs(program):
        return program
    found = shutil.which(program)
    return os.path.abspath(found) if found else program


def program_exists(program: Optional[str]) -> bool:
    """True when ``program`` is an existing, executable regular file."""
    return bool(program) and os.path.isfile(program) and os.access(program, os.X_OK)  # type: ignore[arg-type]


def importable_warning(command_prefix: Sequence[str]) -> Optional[str]:
    """A warning when ``<python> -m tray`` would fail from another folder, else None.

    Hooks run in the project's folder with Claude Code's environment, so an Orchestray that is only reachable
    through ``PYTHONPATH`` or the current folder (a source checkout) would fail silently on every prompt.
    Checked with ``find_spec`` (nothing is imported) from the filesystem root without ``PYTHONPATH``.
    """
    if len(command_prefix) < 3 or list(command_prefix[-2:]) != ["-m", "tray"]:
        return None
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('tray') else 1)"
    try:
        completed = subprocess.run(
            [*command_prefix[:-2], "-c", probe],
            cwd=os.path.abspath(os.sep),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not check that {command_prefix[0]} can run Orchestray: {exc}"
    if completed.returncode != 0:
        return (
            f"{command_prefix[0]} cannot import Orchestray outside this folder (not installed for that "
            "interpreter?): the hooks would do nothing. Install it (pip install .) and run `hooks install` "
            "again from the installed command."
        )
    return None


# --------------------------------------------------------------------------------------------------------
# Parsing and rendering, keeping the file's own formatting.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How the file was formatted, so that re-rendering it produces the smallest possible diff."""

    indent: Union[int, str] = 2
    newline: str = "\n"
    final_newline: bool = True
    bom: bool = False


def _detect_style(text: str, bom: bool) -> _Style:
    if not text.strip():
        return _Style(bom=bom)
    newline = "\r\n" if "\r\n" in text else "\n"
    indent: Union[int, str] = 2
    for line in text.splitlines()[1:]:
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)]
        if lead and body:
            if set(lead) == {" "}:
                indent = len(lead)
            elif set(lead) == {"\t"}:
                indent = "\t"
            break
    return _Style(indent=indent, newline=newline, final_newline=text.endswith("\n"), bom=bom)


def _render(data: Any, style: _Style) -> bytes:
    try:
        text = json.dumps(data, indent=style.indent, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: keep it escaped
        text = json.dumps(data, indent=style.indent, ensure_ascii=True)
    if style.final_newline:
        text += "\n"
    if style.newline != "\n":
        text = text.replace("\n", style.newline)
    raw = text.encode("utf-8")
    return codecs.BOM_UTF8 + raw if style.bom else raw


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def parse_settings(raw: bytes, path: str = "settings.json") -> Tuple[Dict[str, Any], _Style]:
    """Parse the bytes of a settings file and check the parts we depend on, or raise :class:`SettingsError`."""
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        text = raw[len(codecs.BOM_UTF8) :].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})", path) from None
    style = _detect_style(text, bom)
    if not text.strip():
        return {}, style
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path
        ) from None
    except RecursionError:
        raise SettingsError(f"{path}: not usable JSON: nested too deeply", path) from None
    except ValueError as exc:
        raise SettingsError(f"{path}: not valid JSON: {exc}", path) from None
    check_structure(data, path)
    return data, style


def check_structure(data: Any, path: str = "settings.json") -> None:
    """Refuse the shapes we could not merge into without guessing (see the module docstring)."""
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level is {_kind(data)}, not a JSON object", path)
    if "hooks" not in data:
        return
    hooks = data["hooks"]
    if not isinstance(hooks, dict):
        raise SettingsError(f'{path}: "hooks" is {_kind(hooks)}, not a JSON object', path)
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise SettingsError(f'{path}: "hooks"."{event}" is {_kind(groups)}, not a list', path)


# --------------------------------------------------------------------------------------------------------
# Pure planning on parsed settings (no files): what install and uninstall change.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallPlan:
    """What :func:`plan_install` changed, per event."""

    added: Tuple[str, ...]
    updated: Tuple[str, ...]
    unchanged: Tuple[str, ...]
    duplicates_removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.duplicates_removed)


def _group_hooks(group: Any) -> Optional[List[Any]]:
    """A group's hook list, or None for a group we do not understand (left exactly as it is)."""
    if isinstance(group, dict) and isinstance(group.get("hooks"), list):
        return group["hooks"]
    return None


def plan_install(
    settings: Mapping[str, Any], commands: Mapping[str, str], timeout: int = HOOK_TIMEOUT_SECONDS
) -> Tuple[Dict[str, Any], InstallPlan]:
    """Return a copy of ``settings`` with our hook for each event of ``commands``, and what changed.

    For each event the first hook of ours with the right subcommand is updated in place (a changed
    interpreter path replaces, never duplicates), further copies are removed (and their groups, if that
    emptied them); when there is none, a new group ``{"matcher": "", "hooks": [ours]}`` is appended, so that
    uninstall can drop the whole group and no user group is ever edited.
    """
    check_structure(settings, "settings")
    data: Dict[str, Any] = copy.deepcopy(dict(settings))
    hooks = data.setdefault("hooks", {})
    added: List[str] = []
    updated: List[str] = []
    unchanged: List[str] = []
    duplicates = 0
    for event, command in commands.items():
        sub = orchestray_subcommand(command)
        wanted = {"type": "command", "command": command, "timeout": timeout}
        groups = hooks.get(event)
        found = []
        for group_index, group in enumerate(groups or []):
            members = _group_hooks(group)
            for hook_index, hook in enumerate(members or []):
                if _our_subcommand(hook) == sub:
                    found.append((group_index, hook_index))
        if not found:
            if groups is None:
                groups = hooks[event] = []
            groups.append({"matcher": "", "hooks": [wanted]})
            added.append(event)
            continue
        first_group, first_hook = found[0]
        hook = groups[first_group]["hooks"][first_hook]
        before = dict(hook)
        hook.update(wanted)
        (updated if hook != before else unchanged).append(event)
        emptied = set()
        for group_index, hook_index in reversed(found[1:]):
            members = groups[group_index]["hooks"]
            del members[hook_index]
            duplicates += 1
            if not members:
                emptied.add(group_index)
        for group_index in sorted(emptied, reverse=True):
            del groups[group_index]
    return data, InstallPlan(tuple(added), tuple(updated), tuple(unchanged), duplicates)


def plan_uninstall(settings: Mapping[str, Any]) -> Tuple[Dict[str, Any], Tuple[str, ...]]:
    """Return a copy of ``settings`` without any hook of ours, and the event of each hook removed.

    Ours are removed from every event (also events a later version may no longer manage). A group, an event
    list, or ``"hooks"`` itself is removed only when it was non-empty and became empty because of us.
    """
    check_structure(settings, "settings")
    data: Dict[str, Any] = copy.deepcopy(dict(settings))
    hooks = data.get("hooks")
    if not hooks:
        return data, ()
    removed: List[str] = []
    for event in list(hooks):
        groups = hooks[event]
        if not groups:
            continue
        kept_groups = []
        for group in groups:
            members = _group_hooks(group)
            if members:
                kept = [hook for hook in members if _our_subcommand(hook) is None]
                if len(kept) != len(members):
                    removed.extend([event] * (len(members) - len(kept)))
                    if not kept:
                        continue
                    group["hooks"] = kept
            kept_groups.append(group)
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if removed and not hooks:
        del data["hooks"]
    return data, tuple(removed)


# --------------------------------------------------------------------------------------------------------
# Files: reading, backups and the atomic replace.
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    path: str  # as given (absolute); may be a symlink
    target: str  # the file actually read and written
    exists: bool
    raw: bytes
    data: Dict[str, Any]
    style: _Style
    mode: int


def _resolve(settings_path: Optional[str]) -> Tuple[str, str]:
    if settings_path is None:
        from tray.core.paths import settings_path as default_settings_path

        settings_path = default_settings_path()
    path = os.path.abspath(os.path.expanduser(settings_path))
    return path, os.path.realpath(path)


def _read_target(path: str, target: str) -> Optional[bytes]:
    try:
        with open(target, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SettingsError(f"{path}: not a regular file", path)
            raw = handle.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SettingsError(f"{path}: is a folder, not a file", path) from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}", path) from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"{path}: too large for a settings file (over {MAX_SETTINGS_BYTES} bytes)", path)
    return raw


def _load(settings_path: Optional[str]) -> _Loaded:
    path, target = _resolve(settings_path)
    raw = _read_target(path, target)
    if raw is None:
        return _Loaded(path, target, False, b"", {}, _Style(), NEW_FILE_MODE)
    data, style = parse_settings(raw, path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = NEW_FILE_MODE
    return _Loaded(path, target, True, raw, data, style, mode)


class _Conflict(Exception):
    """The file changed under us between the read and the replace."""


def _backup_pattern(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(base + BACKUP_INFIX) + r"(\d{8}T\d{12}Z)(?:-(\d+))?$")


def list_backups(settings_path: Optional[str] = None) -> List[str]:
    """Orchestray's backups of ``settings_path``, oldest first (they sit beside the path as given)."""
    path, _ = _resolve(settings_path)
    directory, base = os.path.split(path)
    pattern = _backup_pattern(base)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            found.append(((match.group(1), int(match.group(2) or 0)), os.path.join(directory, name)))
    return [full for _, full in sorted(found)]


def _write_backup(loaded: _Loaded) -> str:
    """Copy the bytes we read beside the given path (not beside a symlink's target, often a dotfiles repo)."""
    directory, base = os.path.split(loaded.path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for attempt in range(1000):
        backup = os.path.join(directory, f"{base}{BACKUP_INFIX}{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            fd = os.open(backup, flags, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SettingsError(f"{loaded.path}: cannot write a backup: {exc.strerror or exc}", loaded.path) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(loaded.raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(backup, loaded.mode)
        except BaseException:
            _unlink_quietly(backup)
            raise
        _prune_backups(loaded.path)
        return backup
    raise SettingsError(f"{loaded.path}: cannot find a free backup name", loaded.path)


def _prune_backups(path: str) -> None:
    for old in list_backups(path)[:-BACKUPS_KEPT]:
        _unlink_quietly(old)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _replace(source: str, target: str) -> None:
    """``os.replace``, retried briefly on Windows where a reader holding the file makes it fail."""
    for attempt in range(20):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 19:
                raise
            time.sleep(0.05)


def _atomic_write(loaded: _Loaded, raw: bytes) -> None:
    directory = os.path.dirname(loaded.target)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            prefix="." + os.path.basename(loaded.target) + ".", suffix=_TEMP_SUFFIX, dir=directory
        )
    except OSError as exc:
        raise SettingsError(f"{loaded.path}: cannot write in {directory}: {exc.strerror or exc}", loaded.path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, loaded.mode)
        _keep_owner(loaded.target, temp)
        if _read_target(loaded.path, loaded.target) != (loaded.raw if loaded.exists else None):
            raise _Conflict()
        _replace(temp, loaded.target)
    except BaseException as exc:
        _unlink_quietly(temp)
        if isinstance(exc, OSError):
            raise SettingsError(f"{loaded.path}: cannot write: {exc.strerror or exc}", loaded.path) from None
        raise
    fsync_directory(directory)


def _keep_owner(target: str, temp: str) -> None:
    """When root edits someone else's settings (sudo), the file must stay theirs."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    try:
        info = os.stat(target)
        os.chown(temp, info.st_uid, info.st_gid)
    except OSError:
        pass


def _modify(
    settings_path: Optional[str], planner: Callable[[Dict[str, Any]], Tuple[Dict[str, Any], bool]], create: bool
) -> Tuple[_Loaded, Dict[str, Any], bool, Optional[str]]:
    """Read, plan, back up, write; redone from the new content when the file changed under us."""
    loaded = _load(settings_path)
    for _ in range(_WRITE_ATTEMPTS):
        new_data, changed = planner(loaded.data)
        if not changed or (not loaded.exists and not create):
            return loaded, new_data, False, None
        backup = _write_backup(loaded) if loaded.exists else None
        try:
            _atomic_write(loaded, _render(new_data, loaded.style))
        except _Conflict:
            if backup:
                _unlink_quietly(backup)
            loaded = _load(settings_path)
            continue
        except BaseException:
            # e.g. a link into a read-only store (home-manager): nothing changed, so no backup is left behind
            if backup:
                _unlink_quietly(backup)
            raise
        return loaded, new_data, True, backup
    raise SettingsError(
        f"{loaded.path}: the file kept changing while Orchestray was updating it; nothing was changed, try again",
        loaded.path,
    )


# --------------------------------------------------------------------------------------------------------
# The public operations.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    """What :func:`install` did. ``changed`` is False (and the file untouched) when all was in place."""

    settings_path: str
    written_path: str
    changed: bool
    created: bool
    backup_path: Optional[str]
    added: Tuple[str, ...]
    updated: Tuple[str, ...]
    unchanged: Tuple[str, ...]
    duplicates_removed: int
    commands: Dict[str, str]
    warnings: Tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return f"Orchestray hooks already installed in {self.settings_path}"
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.updated:
            parts.append("updated " + ", ".join(self.updated))
        if self.duplicates_removed:
            parts.append(f"removed {self.duplicates_removed} duplicate(s)")
        text = f"Orchestray hooks installed in {self.settings_path} ({'; '.join(parts)})"
        if self.backup_path:
            text += f"; backup: {self.backup_path}"
        return text


@dataclass(frozen=True)
class UninstallResult:
    """What :func:`uninstall` did; ``removed`` names the event of each hook removed."""

    settings_path: str
    written_path: str
    changed: bool
    backup_path: Optional[str]
    removed: Tuple[str, ...]

    @property
    def message(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return f"no Orchestray hooks in {self.settings_path}"
        text = f"removed {len(self.removed)} Orchestray hook(s) from {self.settings_path}"
        if self.backup_path:
            text += f"; backup: {self.backup_path}"
        return text


def install(
    settings_path: Optional[str] = None,
    command_prefix: CommandPrefix = None,
    *,
    timeout: int = HOOK_TIMEOUT_SECONDS,
    check_import: bool = True,
) -> InstallResult:
    """Merge Orchestray's hooks into ``settings_path`` (default: Claude Code's user settings).

    ``command_prefix``: see :func:`hook_commands`. ``check_import``: with the default prefix, warn (in
    ``warnings``, nothing is refused) when the interpreter cannot import Orchestray from another folder.
    Raises :class:`SettingsError` for a file it must not touch.
    """
    commands = hook_commands(command_prefix)
    holder: Dict[str, InstallPlan] = {}

    def planner(data: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        new_data, plan = plan_install(data, commands, timeout)
        holder["plan"] = plan
        return new_data, plan.changed

    loaded, _, changed, backup = _modify(settings_path, planner, create=True)
    plan = holder["plan"]
    warnings: List[str] = []
    if check_import and command_prefix is None and not getattr(sys, "frozen", False):
        warning = importable_warning(default_command_prefix())
        if warning:
            warnings.append(warning)
    return InstallResult(
        settings_path=loaded.path,
        written_path=loaded.target,
        changed=changed,
        created=changed and not loaded.exists,
        backup_path=backup,
        added=plan.added,
        updated=plan.updated,
        unchanged=plan.unchanged,
        duplicates_removed=plan.duplicates_removed,
        commands=dict(commands),
        warnings=tuple(warnings),
    )


def uninstall(settings_path: Optional[str] = None) -> UninstallResult:
    """Remove exactly Orchestray's hooks from ``settings_path``; a missing file is left missing."""
    holder: Dict[str, Tuple[str, ...]] = {"removed": ()}

    def planner(data: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        new_data, removed = plan_uninstall(data)
        holder["removed"] = removed
        return new_data, bool(removed)

    loaded, _, changed, backup = _modify(settings_path, planner, create=False)
    return UninstallResult(
        settings_path=loaded.path,
        written_path=loaded.target,
        changed=changed,
        backup_path=backup,
        removed=holder["removed"] if changed else (),
    )


@dataclass(frozen=True)
class HookStatus:
    """One managed event: is our hook there, what it runs, and does that program still exist."""

    event: str
    subcommand: str
    installed: bool
    command: Optional[str] = None
    program: Optional[str] = None
    program_exists: Optional[bool] = None
    current: bool = False  # the command is exactly what `install` would write now
    copies: int = 0  # more than 1: duplicates (install removes them)


@dataclass(frozen=True)
class StatusReport:
    """The state of Orchestray's hooks in one settings file."""

    settings_path: str
    written_path: str
    exists: bool
    hooks: Tuple[HookStatus, ...]
    foreign_hooks: int
    foreign_by_event: Dict[str, int] = field(default_factory=dict)
    misplaced: Tuple[Tuple[str, str], ...] = ()  # (event, command) of ours under an event we do not manage

    @property
    def installed(self) -> bool:
        return all(hook.installed for hook in self.hooks)

    @property
    def partially_installed(self) -> bool:
        return any(hook.installed for hook in self.hooks) and not self.installed

    @property
    def healthy(self) -> bool:
        """Installed, every program exists, no duplicates: nothing for the user to do."""
        return self.installed and all(h.program_exists and h.copies == 1 for h in self.hooks)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "settings": self.settings_path,
            "file": self.written_path,
            "exists": self.exists,
            "installed": self.installed,
            "healthy": self.healthy,
            "hooks": [
                {
                    "event": h.event,
                    "subcommand": h.subcommand,
                    "installed": h.installed,
                    "command": h.command,
                    "program": h.program,
                    "programExists": h.program_exists,
                    "current": h.current,
                    "copies": h.copies,
                }
                for h in self.hooks
            ],
            "foreignHooks": self.foreign_hooks,
            "foreignByEvent": dict(self.foreign_by_event),
            "misplaced": [{"event": e, "command": c} for e, c in self.misplaced],
        }

    def format(self) -> str:
        """Human-readable lines for ``orchestray hooks status``."""
        if not self.exists:
            return f"{self.settings_path}: no such file; Orchestray hooks not installed"
        header = f"{self.settings_path}:"
        if self.written_path != self.settings_path:
            header += f" (-> {self.written_path})"
        lines = [header]
        for h in self.hooks:
            if not h.installed:
                lines.append(f"  {h.event:<17} not installed")
                continue
            notes = []
            if not h.program_exists:
                notes.append(f"MISSING PROGRAM {h.program}")
            if not h.current:
                notes.append("other interpreter; `hooks install` updates it")
            if h.copies > 1:
                notes.append(f"{h.copies} copies")
            lines.append(f"  {h.event:<17} {h.command}" + (f"  [{'; '.join(notes)}]" if notes else ""))
        for event, command in self.misplaced:
            lines.append(f"  {event:<17} {command}  [Orchestray hook under an unmanaged event]")
        lines.append(f"  other hooks: {self.foreign_hooks}")
        if self.healthy:
            lines.append("  state: installed")
        elif self.installed:
            lines.append("  state: installed, needs attention (run `orchestray hooks install` again)")
        else:
            lines.append("  state: " + ("partially installed" if self.partially_installed else "not installed"))
        return "\n".join(lines)


def status(settings_path: Optional[str] = None, command_prefix: CommandPrefix = None) -> StatusReport:
    """Report our hooks in ``settings_path`` without changing anything; raises :class:`SettingsError`."""
    loaded = _load(settings_path)
    try:
        expected = hook_commands(command_prefix)
    except SettingsError:
        expected = {}
    hooks_section = loaded.data.get("hooks") or {}
    ours: Dict[str, List[str]] = {}
    foreign_by_event: Dict[str, int] = {}
    misplaced: List[Tuple[str, str]] = []
    for event, groups in hooks_section.items():
        for group in groups:
            for hook in _group_hooks(group) or []:
                sub = _our_subcommand(hook)
                if sub is None:
                    foreign_by_event[event] = foreign_by_event.get(event, 0) + 1
                elif HOOK_EVENTS.get(event) == sub:
                    ours.setdefault(event, []).append(hook["command"])
                else:
                    misplaced.append((event, hook["command"]))
    reports = []
    for event, sub in HOOK_EVENTS.items():
        commands = ours.get(event, [])
        if not commands:
            reports.append(HookStatus(event, sub, installed=False))
            continue
        program = command_program(commands[0])
        reports.append(
            HookStatus(
                event,
                sub,
                installed=True,
                command=commands[0],
                program=program,
                program_exists=program_exists(program),
                current=commands[0] == expected.get(event),
                copies=len(commands),
            )
        )
    return StatusReport(
        settings_path=loaded.path,
        written_path=loaded.target,
        exists=loaded.exists,
        hooks=tuple(reports),
        foreign_hooks=sum(foreign_by_event.values()),
        foreign_by_event=foreign_by_event,
        misplaced=tuple(misplaced),
    )


# --------------------------------------------------------------------------------------------------------
# The protocol's `py ~/.claude/registry.py …` commands, answered by Orchestray.
# --------------------------------------------------------------------------------------------------------

_SHIM_TEMPLATE = '''#!/usr/bin/env python3
{marker} (written by Orchestray, which may rewrite or remove it: do not edit)
"""The protocol's manual registry commands, run by Orchestray.

    py ~/.claude/registry.py register|deregister|check|list

Any other `orchestray` command and option works too. COMMAND is the program that ran `orchestray`
when this file was written; run the installer again if that program moved.
"""
import os
import subprocess
import sys

COMMAND = {command!r}

if __name__ == "__main__":
    arguments = COMMAND + sys.argv[1:]
    try:
        if os.name == "posix":
            os.execv(COMMAND[0], arguments)
        sys.exit(subprocess.call(arguments))
    except OSError as error:
        sys.stderr.write("registry.py: cannot run Orchestray (%s): %s\\n" % (COMMAND[0], error))
        sys.exit(2)
'''


@dataclass(frozen=True)
class ShimResult:
    """Where the shim is and whether it was (re)written."""

    path: str
    changed: bool


def _is_our_shim(raw: bytes) -> bool:
    head = raw[:4096].decode("utf-8", "replace")
    return any(line.startswith(SHIM_MARKER) for line in head.splitlines())


def registry_shim_text(command_prefix: Optional[Sequence[str]] = None) -> str:
    """The source of ``registry.py`` for ``command_prefix`` (argv words; default: this Orchestray)."""
    words = list(command_prefix) if command_prefix is not None else cli_command_prefix()
    return _SHIM_TEMPLATE.format(marker=SHIM_MARKER, command=words)


def write_registry_shim(
    settings_dir: Optional[str] = None, command_prefix: Optional[Sequence[str]] = None
) -> ShimResult:
    """Write ``registry.py`` in ``settings_dir`` (default: beside Claude Code's ``settings.json``).

    A ``registry.py`` without our marker line is the user's own (the protocol's original script): it is
    never overwritten, :class:`SettingsError` is raised instead.
    """
    if settings_dir is None:
        settings_dir = os.path.dirname(_resolve(None)[0])
    path, target = _resolve(os.path.join(settings_dir, SHIM_NAME))
    raw = _read_target(path, target)
    wanted = registry_shim_text(command_prefix).encode("utf-8")
    if raw is not None and not _is_our_shim(raw):
        raise SettingsError(f"{path}: exists and was not written by Orchestray; not overwriting it", path)
    if raw == wanted:
        return ShimResult(path, False)
    mode = 0o755
    if raw is not None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:
            pass
    loaded = _Loaded(path, target, raw is not None, raw or b"", {}, _Style(), mode)
    try:
        _atomic_write(loaded, wanted)
    except _Conflict:
        raise SettingsError(f"{path}: changed while Orchestray was writing it; try again", path) from None
    return ShimResult(path, True)


def remove_registry_shim(settings_dir: Optional[str] = None) -> bool:
    """Remove ``registry.py`` if it is ours; True when a file was removed."""
    if settings_dir is None:
        settings_dir = os.path.dirname(_resolve(None)[0])
    path, target = _resolve(os.path.join(settings_dir, SHIM_NAME))
    raw = _read_target(path, target)
    if raw is None or not _is_our_shim(raw):
        return False
    try:
        os.unlink(path)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot remove: {exc.strerror or exc}", path) from None
    return True
