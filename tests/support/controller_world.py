"""Made-up sessions at a fixed time, and a view that records what the tray's controller says, for the unit tests
of notices, menus, TRAFFIC.md, task lists and teams.

The sessions are never alive processes (their liveness is given); the ids differ in their first 8 characters,
the part the tray shows, so each short id names one session.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple

from tray.core.entry import new_entry
from tray.core.projects import Project
from tray.core.snapshot import Session
from tray.platform.notify import Button

NOW = 1_800_000_000.0
ALPHA = Project(key="/p/alpha", root="/p/alpha", name="alpha")
ORCH = "7c1e2a90-aaaa-4bbb-8ccc-000000000001"
W_OLD = "3e8a6c55-aaaa-4bbb-8ccc-000000000002"
W_NEW = "9b4f0d11-aaaa-4bbb-8ccc-000000000003"


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def session(sid: str, role: str, alive: bool = True, age: float = 60, cwd: str = "/p/alpha",
            project: Project = ALPHA) -> Session:
    """Session ``sid`` in ``role``, started ``age`` seconds before NOW, with a PID derived from its id."""
    return Session(new_entry(sid, 4000 + len(sid) + sum(map(ord, sid)), cwd, role, started_at=_iso(NOW - age)),
                   alive, project)


class RecordingView:
    """Records every show (state, count, title, menu) and every notice's (title, body); ``noted`` is set by the
    first notice, for a test that waits on another thread's notice."""

    def __init__(self) -> None:
        self.shown: List[Tuple[str, int, str, Any]] = []
        self.notes: List[Tuple[str, str]] = []
        self.noted = threading.Event()

    def show(self, state: str, count: int, title: str, menu: Any) -> None:
        self.shown.append((state, count, title, menu))

    def notify(self, title: str, body: str, buttons: Sequence[Button] = (),
               on_click: Optional[Callable[[], None]] = None) -> bool:
        self.notes.append((title, body))
        self.noted.set()
        return True

    def stop(self) -> None:
        pass


class ButtonView:
    """Records notices with their buttons, the way a person would see them."""

    def __init__(self) -> None:
        self.notes: List[Tuple[str, str, Tuple[Button, ...], Any]] = []

    def show(self, *args: Any) -> None:
        pass

    def notify(self, title: str, body: str, buttons: Sequence[Button] = (),
               on_click: Optional[Callable[[], None]] = None) -> bool:
        self.notes.append((title, body, tuple(buttons), on_click))
        return True

    def stop(self) -> None:
        pass

    def press(self, index: int, label: str) -> None:
        (button,) = [b for b in self.notes[index][2] if b.label.startswith(label)]
        button.run()
