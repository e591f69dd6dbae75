"""Is the process that registered an entry still running?

A PID alone is not enough: PIDs are reused. An entry is alive only when its PID runs, is not a zombie, and the
process was created no later than the entry's `startedAt` (plus a tolerance for clock rounding and for the
time between a process's start and its registration being written).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

import psutil

# startedAt has whole seconds and is written after the process started; a later creation time than this
# margin means the PID now belongs to somebody else.
REUSE_TOLERANCE_SECONDS = 5.0


def process_create_time(pid: int) -> Optional[float]:
    """The creation time of a running process, `inf` when the OS will not say, None when there is none."""
    if pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process.create_time()
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        # The process exists but belongs to someone else (or is protected): count it as running since
        # registration, the safe answer for a tool that must never delete a live session's entry.
        return float("-inf")


def pid_gone(pid: int) -> bool:
    """True only when the OS says that no process has this PID: one `kill(pid, 0)`, no `/proc` reads.

    The cheap first question for the many entries of sessions that crashed long ago (psutil needs several file
    reads and an exception to say the same). False means "ask psutil": the PID runs, is a zombie, belongs to
    another user, or this platform has no such probe (on Windows, signal 0 is CTRL_C_EVENT: never sent).
    """
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False
    return False


class LivenessProbe:
    """Liveness answers for one snapshot: each PID is asked once even if many entries name it."""

    def __init__(self, tolerance: float = REUSE_TOLERANCE_SECONDS,
                 known: Optional[Mapping[int, float]] = None) -> None:
        """`known` holds creation times of processes known to be running right now without asking the OS:
        the tray's change watcher holds a handle on each live session's process and is told when one ends
        (a Linux pidfd names one process, never a later one with the same PID). The reuse check still applies.
        """
        self.tolerance = tolerance
        self._created: Dict[int, Optional[float]] = dict(known or {})

    def alive(self, pid: int, started_ts: float) -> bool:
        if pid not in self._created:
            self._created[pid] = process_create_time(pid)
        created = self._created[pid]
        return created is not None and created <= started_ts + self.tolerance

    def alive_fast(self, pid: int, started_ts: float) -> bool:
        """The same answer as `alive`, but a PID that no process has is settled with one system call.

        Used by `build_snapshot`, where most PIDs of a long-lived registry are gone. Still a fresh question
        to the OS for every snapshot: nothing is carried over between probes.
        """
        if pid not in self._created and pid_gone(pid):
            self._created[pid] = None
        return self.alive(pid, started_ts)
