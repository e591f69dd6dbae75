"""The protocol's ``py ~/.claude/registry.py …`` commands, answered by Orchestray (``--registry-shim``).

``registry.py`` is written beside ``settings.json`` and runs the ``orchestray`` command line (the program that
wrote it; see ``tray/platform/launch.py``). A ``registry.py`` without our marker line is the user's own (the
protocol's original script): it is never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from tray.core.fsutil import unlink
from tray.hooks.files import Conflict, file_mode, read_target, resolve, write_checked
from tray.hooks.jsonfile import SettingsError
from tray.platform.launch import cli_command

SHIM_NAME = "registry.py"
SHIM_MARKER = "# orchestray-registry-shim"

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


def _default_dir() -> str:
    from tray.core.paths import settings_path

    return os.path.dirname(resolve(settings_path())[0])


def registry_shim_text(command_prefix: Optional[Sequence[str]] = None) -> str:
    """The source of ``registry.py`` for ``command_prefix`` (argv words; default: this Orchestray)."""
    words = list(command_prefix) if command_prefix is not None else cli_command()
    return _SHIM_TEMPLATE.format(marker=SHIM_MARKER, command=words)


def write_registry_shim(
    settings_dir: Optional[str] = None, command_prefix: Optional[Sequence[str]] = None
) -> ShimResult:
    """Write ``registry.py`` in ``settings_dir`` (default: beside Claude Code's ``settings.json``)."""
    path, target = resolve(os.path.join(settings_dir or _default_dir(), SHIM_NAME))
    raw = read_target(path, target)
    wanted = registry_shim_text(command_prefix).encode("utf-8")
    if raw is not None and not _is_our_shim(raw):
        raise SettingsError(f"{path}: exists and was not written by Orchestray; not overwriting it", path)
    if raw == wanted:
        return ShimResult(path, False)
    try:
        write_checked(path, target, wanted, raw, file_mode(target, 0o755) if raw is not None else 0o755)
    except Conflict:
        raise SettingsError(f"{path}: changed while Orchestray was writing it; try again", path) from None
    return ShimResult(path, True)


def remove_registry_shim(settings_dir: Optional[str] = None) -> bool:
    """Remove ``registry.py`` if it is ours; True when a file was removed."""
    path, target = resolve(os.path.join(settings_dir or _default_dir(), SHIM_NAME))
    raw = read_target(path, target)
    if raw is None or not _is_our_shim(raw):
        return False
    try:
        unlink(path)  # retried on Windows while another process has the file open
    except OSError as exc:
        raise SettingsError(f"{path}: cannot remove: {exc.strerror or exc}", path) from None
    return True
