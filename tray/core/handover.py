"""HANDOVER.md: the note an orchestrator writes before it hands over, from the protocol's template.

Orchestray creates it (never over an existing file: `traffic.create_file`), says how old it is, and whether it
is fresh: written since the vacating session started, so it is that session's handover and not an old one.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from typing import Optional

from tray.core.traffic import create_file

HANDOVER_FILE = "HANDOVER.md"

TEMPLATE = """# Handover — {project} — {date}

## Completed This Session
- [x] Task 1 (file: path/to/file.py, commit: abc123)

## Current State
Brief description of where things stand.

## Next Tasks (ordered)
1. Highest priority next step

## Key Decisions Made
- Decision 1: reason

## Open Questions / Blockers
- Question or blocker to resolve

## Files Touched
- path/to/file.py — what changed
"""


def template(project: str, when: Optional[float] = None) -> str:
    date = time.strftime("%Y-%m-%d", time.localtime(time.time() if when is None else when))
    return TEMPLATE.format(project=" ".join(project.split()) or "project", date=date)


def create(root: str, project: str, when: Optional[float] = None) -> str:
    """Create HANDOVER.md from the template in `root`; its path. Raises `AlreadyThere` if one exists."""
    path = os.path.join(root, HANDOVER_FILE)
    create_file(path, template(project, when))
    return path


@dataclass(frozen=True)
class Handover:
    path: str
    modified: Optional[float]  # None: there is no regular file HANDOVER.md

    @property
    def exists(self) -> bool:
        return self.modified is not None

    def fresh(self, since: float) -> bool:
        """Written at or after `since` (the session's start): this session's handover, not an older one."""
        return self.modified is not None and self.modified >= since


def look(root: str) -> Handover:
    """HANDOVER.md in `root` and when it was last written; a link, FIFO or folder of that name counts as none."""
    path = os.path.join(root, HANDOVER_FILE)
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return Handover(path, None)
    return Handover(path, info.st_mtime if stat.S_ISREG(info.st_mode) else None)
