"""Install, remove and inspect Orchestray's Claude Code hooks in ``settings.json``: the operations.

``settings.json`` belongs to the user and to Claude Code, which rewrites it too (``/permissions``, ``/model``).
So every change is a careful read-modify-write, built from one module per concern:

* ``events``: the table of the events we handle; ``invocation``: the hook entries we write (exec or shell
  form), recognising ours, running them as Claude Code would; ``jsonfile``: parsing and a re-rendering that
  keeps the file's layout; ``plan``: what install and uninstall change in the parsed data; ``files``: safe
  reads and compare-and-swap writes through ``core/fsutil``; ``backup``; ``shim``: ``registry.py``.
* **Refuse rather than guess**: a file that is not UTF-8 JSON of the expected shape, not a regular file, or
  read-only raises :class:`SettingsError` (one line, naming the file) and is not touched at all.
* **Safe writes**: a timestamped backup of the old bytes first, then the one atomic writer; the file keeps its
  mode (new files get ``0600``: settings may hold tokens in ``env``); a symlinked ``settings.json`` stays a
  link. If the file changed between our read and our replace (Claude Code wrote it), the whole operation is
  redone from the new content. Temp files a killed run left beside it are removed first.
* **Idempotent**: when nothing would change the file is not written at all (same bytes, same mtime).
* **Uninstall gives the file back**: the same bytes as before install; a file that held nothing but our hooks
  (install created it) is removed.

This package is stdlib-only on the hook path and never imports the tray.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from tray.core.fsutil import unlink
from tray.hooks import files
from tray.hooks.backup import BACKUP_INFIX, BACKUPS_KEPT, unlink_quietly, write_backup
from tray.hooks.backup import list_backups as _list_backups
from tray.hooks.events import HOOK_EVENTS, events_for
from tray.hooks.files import MAX_SETTINGS_BYTES, NEW_FILE_MODE, Conflict
from tray.hooks.invocation import (
    FORM_EXEC,
    FORM_SHELL,
    HOOK_TIMEOUT_SECONDS,
    CommandError,
    CommandPrefix,
    claude_code_version,
    describe,
    detect_form,
    form_for,
    hook_entries,
    hook_subcommand,
    orchestray_subcommand,
    probe,
    quote_command,
    split_command,
)
from tray.hooks.jsonfile import SettingsError, check_structure, parse_settings, render
from tray.hooks.plan import InstallPlan, group_hooks, plan_install, plan_uninstall
from tray.hooks.shim import SHIM_MARKER, SHIM_NAME, ShimResult, remove_registry_shim, write_registry_shim
from tray.hooks.status import HookStatus, StatusReport, hooks_problems, program_exists, status
from tray.platform import launch

__all__ = [
    "BACKUP_INFIX", "BACKUPS_KEPT", "HookStatus", "hooks_problems", "importable_warning", "program_exists",
    "FORM_EXEC", "FORM_SHELL", "HOOK_EVENTS", "HOOK_TIMEOUT_SECONDS",
    "MAX_SETTINGS_BYTES", "NEW_FILE_MODE", "SHIM_MARKER", "SHIM_NAME", "InstallPlan", "InstallResult",
    "SettingsError", "ShimResult", "StatusReport", "UninstallResult", "check_structure", "default_command_prefix",
    "claude_code_version", "detect_form", "events_for", "form_for", "hook_commands", "hook_subcommand", "install",
    "list_backups", "orchestray_subcommand",
    "parse_settings", "plan_install", "plan_uninstall", "quote_command", "remove_registry_shim", "split_command",
    "status", "uninstall", "write_registry_shim",
]

_WRITE_ATTEMPTS = 3


def default_command_prefix() -> List[str]:
    """The argv words that run the hooks here (see ``tray/platform/launch.py``)."""
    try:
        return launch.hook_prefix()
    except RuntimeError as error:
        raise SettingsError(str(error)) from None


def hook_commands(command_prefix: CommandPrefix = None, windows: Optional[bool] = None) -> Dict[str, str]:
    """Event -> the shell-form command line ``install --form shell`` writes for it."""
    prefix = default_command_prefix() if command_prefix is None else command_prefix
    try:
        return {event: entry["command"] for event, entry in hook_entries(prefix, FORM_SHELL, windows).items()}
    except CommandError as error:
        raise SettingsError(str(error)) from None


def importable_warning(command_prefix: Sequence[str]) -> Optional[str]:
    """A warning when ``<python> -m tray`` would fail from another folder, else None.

    Hooks run in the project's folder with Claude Code's environment, so an Orchestray that is only reachable
    through ``PYTHONPATH`` or the current folder would do nothing on every prompt. Checked with ``find_spec``
    (nothing is imported) from the filesystem root without ``PYTHONPATH``.
    """
    if len(command_prefix) < 3 or list(command_prefix[-2:]) != ["-m", "tray"]:
        return None
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    check = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('tray') else 1)"
    try:
        completed = subprocess.run(
            [*command_prefix[:-2], "-c", check],
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
# Read, plan, back up, write
# --------------------------------------------------------------------------------------------------------


def list_backups(settings_path: Optional[str] = None) -> List[str]:
    """Orchestray's backups of ``settings_path``, oldest first (they sit beside the path as given)."""
    return _list_backups(files.resolve(files.settings_file(settings_path))[0])


def _only_ours(data: Dict[str, Any]) -> bool:
    """True when ``data`` holds nothing but ``"hooks"`` with groups of ours (what install writes in a new file)."""
    if list(data) != ["hooks"] or not isinstance(data["hooks"], dict) or not data["hooks"]:
        return False
    for groups in data["hooks"].values():
        for group in groups:
            members = group_hooks(group)
            if not members or set(group) - {"matcher", "hooks"} or group.get("matcher") not in ("", None):
                return False
            if any(hook_subcommand(hook) is None for hook in members):
                return False
    return True


def _modify(
    settings_path: Optional[str],
    planner: Callable[[Dict[str, Any]], Tuple[Dict[str, Any], bool]],
    create: bool,
    remove_if_only_ours: bool = False,
) -> Tuple[files.Loaded, bool, Optional[str], bool]:
    """Read, plan, back up, write; redone from the new content when the file changed under us.

    Returns (what was read last, changed, backup, removed).
    """
    loaded = files.load(settings_path)
    files.remove_stale_temps(loaded.target)
    for _ in range(_WRITE_ATTEMPTS):
        new_data, changed = planner(loaded.data)
        if not changed or (not loaded.exists and not create):
            return loaded, False, None, False
        if loaded.exists:
            files.check_writable(loaded.path, loaded.target)
        if remove_if_only_ours and not new_data and _only_ours(loaded.data) and os.path.isfile(_created_marker(loaded)):
            # Nothing of the user's in it (install created it): no backup to keep, the file goes.
            try:
                _remove_if_unchanged(loaded)
            except Conflict:
                loaded = files.load(settings_path)
                continue
            return loaded, True, None, True
        backup = write_backup(loaded.path, loaded.raw, loaded.mode) if loaded.exists else None
        try:
            raw = render(new_data, loaded.style)
            files.write_checked(loaded.path, loaded.target, raw, loaded.raw if loaded.exists else None, loaded.mode)
        except Conflict:
            if backup:
                unlink_quietly(backup)
            loaded = files.load(settings_path)
            continue
        except BaseException:
            # e.g. a link into a read-only store (home-manager): nothing changed, so no backup is left behind
            if backup:
                unlink_quietly(backup)
            raise
        if not loaded.exists:
            _mark_created(loaded)
        elif remove_if_only_ours:
            unlink_quietly(_created_marker(loaded))  # what is left is the user's now
        return loaded, True, backup, False
    raise SettingsError(
        f"{loaded.path}: the file kept changing while Orchestray was updating it; nothing was changed, try again",
        loaded.path,
    )


CREATED_SUFFIX = ".orchestray-created"


def _created_marker(loaded: files.Loaded) -> str:
    """Beside the path as given (like the backups): says that ``install`` created this settings file."""
    return loaded.path + CREATED_SUFFIX


def _mark_created(loaded: files.Loaded) -> None:
    try:
        # O_NONBLOCK: a FIFO planted at the marker's name fails (ENXIO) instead of waiting for a reader.
        fd = os.open(_created_marker(loaded), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0), 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("written by `orchestray hooks install`, which created this settings file; "
                         "`hooks uninstall` removes the file again if nothing else is in it\n")
    except OSError:
        pass  # without the marker, uninstall leaves a file with `{}`: harmless


def _remove_if_unchanged(loaded: files.Loaded) -> None:
    """Remove the settings file (through a link: the link, then nothing is left dangling) if still as read."""
    if files.read_target(loaded.path, loaded.target) != loaded.raw:
        raise Conflict()
    try:
        unlink(loaded.target)  # retried on Windows while another process has the file open
        if loaded.path != loaded.target and os.path.islink(loaded.path):
            unlink(loaded.path)
        unlink_quietly(_created_marker(loaded))
    except OSError as exc:
        raise SettingsError(f"{loaded.path}: cannot remove: {exc.strerror or exc}", loaded.path) from None


# --------------------------------------------------------------------------------------------------------
# The public operations
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
    form: str = FORM_SHELL

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
    file_removed: bool = False

    @property
    def message(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return f"no Orchestray hooks in {self.settings_path}"
        text = f"removed {len(self.removed)} Orchestray hook(s) from {self.settings_path}"
        if self.file_removed:
            text += " (nothing else was in it: the file is gone)"
        if self.backup_path:
            text += f"; backup: {self.backup_path}"
        return text


def install(
    settings_path: Optional[str] = None,
    command_prefix: CommandPrefix = None,
    *,
    form: str = FORM_SHELL,
    timeout: int = HOOK_TIMEOUT_SECONDS,
    check_import: bool = True,
    windows: Optional[bool] = None,
    events: Optional[Sequence[str]] = None,
) -> InstallResult:
    """Merge Orchestray's hooks into ``settings_path`` (default: Claude Code's user settings).

    ``command_prefix``: argv words before ``hook SUB`` (default: ``launch.hook_prefix()``), or a string used
    verbatim as a shell fragment. ``form``: ``exec`` or ``shell`` (see ``invocation``; the CLI detects it).
    ``check_import``: with the default prefix, warn (in ``warnings``, nothing is refused) when the installed
    prompt hook does not really run. ``events``: the events to write (default: every event of the table); the
    CLI gives ``events_for(<the installed Claude Code's version>)``, because an older Claude Code skips a whole
    settings.json that names an event it does not know. Raises :class:`SettingsError` for a file it must not
    touch.
    """
    prefix = default_command_prefix() if command_prefix is None else command_prefix
    try:
        wanted = list(HOOK_EVENTS) if events is None else list(events)
        entries = {e: v for e, v in hook_entries(prefix, form, windows, timeout).items() if e in wanted}
    except CommandError as error:
        raise SettingsError(str(error)) from None
    holder: Dict[str, InstallPlan] = {}

    def planner(data: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        new_data, plan = plan_install(data, entries, timeout)
        holder["plan"] = plan
        return new_data, plan.changed

    loaded, changed, backup, _ = _modify(settings_path, planner, create=True)
    plan = holder["plan"]
    warnings: List[str] = []
    if check_import and command_prefix is None:
        result = probe(entries["UserPromptSubmit"], HOOK_EVENTS["UserPromptSubmit"])
        if not result.ok:
            warnings.append(f"the installed hook command does not run here: {result.problem}")
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
        commands={event: describe(entry) for event, entry in entries.items()},
        warnings=tuple(warnings),
        form=form,
    )


def uninstall(settings_path: Optional[str] = None) -> UninstallResult:
    """Remove exactly Orchestray's hooks from ``settings_path``; a missing file is left missing, and a file
    that held nothing but our hooks is removed."""
    holder: Dict[str, Tuple[str, ...]] = {"removed": ()}

    def planner(data: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        new_data, removed = plan_uninstall(data)
        holder["removed"] = removed
        return new_data, bool(removed)

    loaded, changed, backup, file_removed = _modify(settings_path, planner, create=False, remove_if_only_ours=True)
    return UninstallResult(
        settings_path=loaded.path,
        written_path=loaded.target,
        changed=changed,
        backup_path=backup,
        removed=holder["removed"] if changed else (),
        file_removed=file_removed,
    )
