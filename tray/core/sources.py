"""Other places whose sessions the tray shows: a WSL distribution, an SSH host, a container.

A source is named by a spec, `ssh:HOST`, `wsl:DISTRO` or `docker:CONTAINER`, and carries the command that runs
Orchestray over there (`orchestray` unless the user gives another: many remote non-interactive shells have no
`~/.local/bin` on their PATH). This module is pure: it parses and checks specs and commands, and builds the
*remote* argument lists of the Orchestray commands the tray runs there (status, promote, clean, vacate,
handover). Wrapping those in `ssh`/`wsl.exe`/`docker exec` is `tray/platform/transport.py`'s.

Every remote argument is built from checked values only: session ids must match the registry's own pattern,
and a path is passed as one `--cwd=PATH` argument (never as a word an option parser could take for an option).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from tray.core.entry import check_session_id
from tray.core.enums import StrEnum


class SourceKind(StrEnum):
    SSH = "ssh"
    WSL = "wsl"
    DOCKER = "docker"


class BadSource(ValueError):
    """A source spec or command we will not use (one line, for the user)."""


#: A host as ssh takes it (an alias of ~/.ssh/config, a name, `user@host`, an address, `[v6]`): never starting
#: with `-`, which ssh would read as an option.
_TARGETS = {
    SourceKind.SSH: re.compile(r"^[A-Za-z0-9_\[][A-Za-z0-9_.@%:+\[\]-]{0,252}$"),
    SourceKind.WSL: re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    SourceKind.DOCKER: re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"),
}
DEFAULT_COMMAND: Tuple[str, ...] = ("orchestray",)
MAX_COMMAND_LENGTH = 1024
MAX_SOURCES = 32
MAX_REMOTE_PATH = 4096


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    target: str  # the host, distribution or container
    command: Tuple[str, ...] = DEFAULT_COMMAND  # how Orchestray is run over there

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def name(self) -> str:
        """What the menu and the notices call it: the host, distribution or container as the user wrote it."""
        return self.target

    def to_config(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"spec": self.spec}
        if self.command != DEFAULT_COMMAND:
            data["command"] = shlex.join(self.command)
        return data


def parse_spec(text: str) -> Tuple[SourceKind, str]:
    """`ssh:devbox` -> (SSH, "devbox"); raises BadSource with the reason."""
    kind_text, colon, target = text.strip().partition(":")
    if not colon:
        raise BadSource(f"{text!r} is not a source: use ssh:HOST, wsl:DISTRO or docker:CONTAINER")
    try:
        kind = SourceKind(kind_text.lower())
    except ValueError:
        raise BadSource(f"{kind_text!r} is not a kind of source: use ssh, wsl or docker") from None
    if not _TARGETS[kind].match(target):
        raise BadSource(f"{target!r} is not a usable {kind} name (letters, digits, '.', '_', '-'; not starting "
                        "with '-')")
    return kind, target


def parse_command(text: str) -> Tuple[str, ...]:
    """The remote command as an argument list (shell-style words, like git's GIT_SSH_COMMAND)."""
    if len(text) > MAX_COMMAND_LENGTH or "\x00" in text or "\n" in text or "\r" in text:
        raise BadSource("the command is too long or holds a line break")
    try:
        words = tuple(shlex.split(text))
    except ValueError as error:
        raise BadSource(f"the command {text!r} cannot be split into words: {error}") from None
    if not words or words[0].startswith("-"):
        raise BadSource(f"the command {text!r} must start with the program to run")
    return words


def make_source(spec: str, command: str = "") -> Source:
    kind, target = parse_spec(spec)
    return Source(kind, target, parse_command(command) if command else DEFAULT_COMMAND)


def from_config(value: object) -> Tuple[List[Source], List[str]]:
    """The sources stored in config.json (a list of {"spec", "command"}), and one line per one we skipped."""
    sources: List[Source] = []
    problems: List[str] = []
    if not isinstance(value, list):
        return [], ["sources is not a list"]
    for item in value[:MAX_SOURCES]:
        if isinstance(item, str):
            item = {"spec": item}
        if not isinstance(item, dict) or not isinstance(item.get("spec"), str):
            problems.append(f"source {str(item)[:60]!r} has no spec")
            continue
        command = item.get("command", "")
        if not isinstance(command, str):
            problems.append(f"source {item['spec'][:60]!r}: command is not a string")
            continue
        try:
            source = make_source(item["spec"], command)
        except BadSource as bad:
            problems.append(str(bad))
            continue
        if any(known.spec == source.spec for known in sources):
            problems.append(f"source {source.spec} is listed twice; the first one is used")
            continue
        sources.append(source)
    if len(value) > MAX_SOURCES:
        problems.append(f"more than {MAX_SOURCES} sources; the rest are ignored")
    return sources, problems


# --- the Orchestray commands run over there (the remote argv; the transport wraps it) -------------------


def status_args(source: Source) -> List[str]:
    return [*source.command, "status", "--json"]


def watch_args(source: Source, heartbeat: float) -> List[str]:
    """The long-lived form: one status line per change, and a heartbeat line every `heartbeat` seconds."""
    return [*source.command, "watch", "--json", f"--heartbeat={heartbeat:g}"]


def promote_args(source: Source, session_id: str, force: bool) -> List[str]:
    return [*source.command, "promote", check_session_id(session_id), *(["--force"] if force else [])]


def vacate_args(source: Source, session_id: str) -> List[str]:
    return [*source.command, "vacate", f"--session-id={check_session_id(session_id)}"]


def clean_args(source: Source) -> List[str]:
    return [*source.command, "clean"]


def handover_args(source: Source, root: str, text: bool) -> List[str]:
    """Where the project's HANDOVER.md is over there (its path), or with `text` its content."""
    return [*source.command, "handover", f"--cwd={check_remote_path(root)}", *(["--print"] if text else [])]


def check_remote_path(path: str) -> str:
    """A path from the other side, to send back there as one argument: absolute, one line, bounded."""
    if (not isinstance(path, str) or not path or len(path) > MAX_REMOTE_PATH
            or any(ch in path for ch in "\x00\r\n") or not (path.startswith("/") or re.match(r"^[A-Za-z]:", path))):
        raise BadSource(f"not a usable remote path: {str(path)[:60]!r}")
    return path


def describe(sources: Sequence[Source]) -> List[str]:
    """`orchestray sources list`'s lines."""
    return [f"{s.spec}\t{shlex.join(s.command)}" for s in sources]
