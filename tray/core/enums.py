"""`StrEnum`: closed sets of names (project states, event and action kinds) whose members are plain strings.

Each member *is* its value: it compares equal to it, hashes like it (so a dict keyed by members finds a plain
string, and the other way round), prints and formats as it, and `json` writes it as it. So `status --json`, log
lines, config values and tests that use the literal strings keep working, while the code and mypy get a closed
set of names instead of loose constants. (`enum.StrEnum` of Python 3.11 prints the same way but hashes by name;
we also support 3.9.)
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A str-valued Enum whose members behave as their values (see the module docstring)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    __hash__ = str.__hash__
