"""What the focus modules share: the result type and the process facts (a boundary tests replace).

A module of its own so that the platform steps (focus_x11, focus_macos, focus_windows) and the walk in
:mod:`tray.platform.focus` import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import psutil


@dataclass(frozen=True)
class FocusResult:
    ok: bool
    message: str  # what was raised, or why nothing was


class Processes:
    """The process facts the walk needs; tests pass their own."""

    def parent(self, pid: int) -> Optional[int]:
        try:
            parent = psutil.Process(pid).ppid()
        except (psutil.Error, OSError):
            return None
        return parent if parent and parent != pid else None

    def name(self, pid: int) -> str:
        try:
            return psutil.Process(pid).name()
        except (psutil.Error, OSError):
            return ""

    def environ(self, pid: int) -> Dict[str, str]:
        try:
            return dict(psutil.Process(pid).environ())
        except (psutil.Error, OSError):
            return {}

    def executable(self, pid: int) -> str:
        try:
            return psutil.Process(pid).exe() or ""
        except (psutil.Error, OSError):
            return ""

    def terminal(self, pid: int) -> str:
        try:
            return psutil.Process(pid).terminal() or ""
        except (psutil.Error, OSError, AttributeError):  # no terminal() on Windows
            return ""


def nearest_window(ancestors: Sequence[int], owned: Mapping[int, List[int]],
                   processes: Processes) -> Union[None, FocusResult, Tuple[int, int, str]]:
    """The one window of the nearest ancestor that shows any: `(window, pid, name)`; a refusal when that
    ancestor shows several (raising a guess could raise the wrong one); None when no ancestor shows one."""
    for pid in ancestors:
        windows = owned.get(pid)
        if not windows:
            continue
        name = processes.name(pid) or f"pid {pid}"
        if len(windows) > 1:
            return FocusResult(False, f"{name} (pid {pid}) shows {len(windows)} windows; cannot tell which one")
        return windows[0], pid, name
    return None
