"""``orchestray hooks status``: which of our hooks are installed, and does each installed command really run.

A hook whose command no longer runs (the interpreter, the package or the file it names is gone) does nothing
for Orchestray, and before this check could pass for "installed". Each installed command is run the way Claude
Code runs it (``invocation.probe``), asked only to answer; a broken one is one line (``broken_lines``), which
the CLI prints with exit status 1 and the tray shows as a warning with its "Repair Claude Code hooks" item.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from tray.hooks import files
from tray.hooks.events import HOOK_EVENTS
from tray.hooks.invocation import (
    FORM_EXEC,
    FORM_SHELL,
    CommandError,
    CommandPrefix,
    ProbeResult,
    describe,
    entry_words,
    hook_entries,
    hook_subcommand,
    hook_words,
    probe,
)
from tray.hooks.jsonfile import SettingsError
from tray.hooks.plan import group_hooks
from tray.platform import launch

# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HookStatus:
    """One managed event: is our hook there, what it runs, and does it really run."""

    event: str
    subcommand: str
    installed: bool
    command: Optional[str] = None
    program: Optional[str] = None
    program_exists: Optional[bool] = None
    current: bool = False  # runs exactly what `install` would write now (in either form)
    copies: int = 0  # more than 1: duplicates (install removes them)
    form: Optional[str] = None
    problem: Optional[str] = None  # why the installed command does not run (None: it runs, or not checked)

    @property
    def broken(self) -> bool:
        return self.installed and self.problem is not None


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
    def broken(self) -> Tuple[HookStatus, ...]:
        """Installed hooks whose command does not really run (``hooks install`` repairs them)."""
        return tuple(hook for hook in self.hooks if hook.broken)

    @property
    def healthy(self) -> bool:
        """Installed, every command runs, no duplicates: nothing for the user to do."""
        return self.installed and not self.broken and all(h.program_exists and h.copies == 1 for h in self.hooks)

    def broken_lines(self) -> List[str]:
        """One line per broken hook, for the CLI's exit 1 and the tray's warning."""
        return [f"{h.event} hook is broken: {h.problem}; run `orchestray hooks install`" for h in self.broken]

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
            if h.problem is not None:
                notes.append(f"BROKEN: {h.problem}")
            elif not h.program_exists:
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


def _program(words: Sequence[str]) -> Optional[str]:
    if not words:
        return None
    program = words[0]
    if os.path.isabs(program):
        return program
    found = shutil.which(program)
    return os.path.abspath(found) if found else program


def _comparable(words: Optional[Sequence[str]]) -> Optional[List[str]]:
    """Windows shell-form words carry forward slashes where the exec form has backslashes: the same command."""
    if words is None:
        return None
    return [word.replace("\\", "/") for word in words] if os.name == "nt" else list(words)


def program_exists(program: Optional[str]) -> bool:
    """True when ``program`` is an existing, executable regular file."""
    return bool(program) and os.path.isfile(str(program)) and os.access(str(program), os.X_OK)


def status(
    settings_path: Optional[str] = None,
    command_prefix: CommandPrefix = None,
    *,
    check: bool = True,
    prober: Callable[[Dict[str, Any], str], ProbeResult] = probe,
    events: Optional[Sequence[str]] = None,
) -> StatusReport:
    """Report our hooks in ``settings_path`` without changing anything; raises :class:`SettingsError`.

    ``check``: run each installed command the way Claude Code would (``invocation.probe``) to see that it
    really runs; a hook whose program is missing is broken without being run.
    """
    loaded = files.load(settings_path)
    try:
        prefix = launch.hook_prefix() if command_prefix is None else command_prefix
        expected = {event: hook_words(e) for event, e in hook_entries(prefix, FORM_EXEC
                    if not isinstance(prefix, str) else FORM_SHELL).items()}
    except (RuntimeError, CommandError):
        expected = {}
    ours: Dict[str, List[Dict[str, Any]]] = {}
    foreign_by_event: Dict[str, int] = {}
    misplaced: List[Tuple[str, str]] = []
    for event, groups in (loaded.data.get("hooks") or {}).items():
        for group in groups:
            for hook in group_hooks(group) or []:
                sub = hook_subcommand(hook)
                if sub is None:
                    foreign_by_event[event] = foreign_by_event.get(event, 0) + 1
                elif HOOK_EVENTS.get(event) == sub:
                    ours.setdefault(event, []).append(hook)
                else:
                    misplaced.append((event, describe(hook)))
    reports = []
    wanted = list(HOOK_EVENTS) if events is None else list(events)  # the CLI: what this Claude Code knows
    for event, sub in HOOK_EVENTS.items():
        hooks = ours.get(event, [])
        if not hooks and event not in wanted:
            continue  # newer than this Claude Code: install leaves it out on purpose
        if not hooks:
            reports.append(HookStatus(event, sub, installed=False))
            continue
        first = hooks[0]
        words = hook_words(first)
        program = _program(words)
        exists = program_exists(program)
        problem: Optional[str] = None
        if not exists:
            problem = f"MISSING PROGRAM {program}"
        elif check:
            result = prober(first, sub)
            problem = None if result.ok else result.problem
        reports.append(
            HookStatus(
                event,
                sub,
                installed=True,
                command=describe(first),
                program=program,
                program_exists=exists,
                current=_comparable(words) == _comparable(expected.get(event)),
                copies=len(hooks),
                form=FORM_EXEC if entry_words(first) is not None else FORM_SHELL,
                problem=problem,
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


def hooks_problems(settings_path: Optional[str] = None) -> List[str]:
    """One line per installed hook that does not really run (empty when all is well or none is installed);
    what the tray warns about. A settings file we cannot read is one line too."""
    try:
        return status(settings_path).broken_lines()
    except SettingsError as error:
        return [str(error)]
