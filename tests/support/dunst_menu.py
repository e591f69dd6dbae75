"""dunst's context menu, driven by a test: the actions a person would see listed, and picking one of them.

dunst shows a notification's actions (buttons, and the "default" action a click on the body invokes) in a
context menu that it hands to a ``dmenu``-style program: one ``#label (summary) [id,action]`` line per entry on
stdin (the last line without a newline); the line printed back is the entry picked, nothing picks none. Here
that program is a script (:attr:`ContextMenu.script`, given to ``start_desktop(dunst_settings={"dmenu": ...})``)
that keeps what was offered and picks the entry whose text contains the words asked for, as a person would
click it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, NamedTuple

#: One line of dunst's context menu (dunst 1.9: ``#%s (%s) [%d,%s]``; URLs look different and are not ours).
_LINE = re.compile(r"^#(?P<label>.*) \((?P<summary>.*)\) \[(?P<id>\d+),(?P<action>[^\]]*)\]$")
#: Words no entry contains: asked for, nothing is picked.
NOTHING = "\x01pick nothing\x01"


class Entry(NamedTuple):
    label: str
    summary: str
    notification: int
    action: str  # our button's identifier, or "default" for the click on the body


def entries(text: str) -> List[Entry]:
    """The entries of one context menu (what dunst wrote to the dmenu program), in dunst's order."""
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            raise AssertionError(f"not a context-menu line of dunst's: {line!r}")
        found.append(Entry(match["label"], match["summary"], int(match["id"]), match["action"]))
    return found


class ContextMenu:
    """The dmenu program for one desktop, in ``folder``: :meth:`open` opens the menu (and picks an entry),
    :meth:`offered` says what the last menu listed, :attr:`history` holds every menu's lines."""

    def __init__(self, folder: Path) -> None:
        self.script = folder / "pick.sh"
        self.want = folder / "want.txt"
        self.last = folder / "menu.txt"
        self.history = folder / "picks.log"
        self.want.write_text(NOTHING)
        # The whole menu is written to a file of its own and renamed, so a reader never sees half of it.
        self.script.write_text(
            "#!/bin/sh\n"
            f'cat > "{self.last}.part"\n'
            f'cat "{self.last}.part" >> "{self.history}" && echo >> "{self.history}"\n'
            f'mv "{self.last}.part" "{self.last}"\n'
            f'grep -m1 -F -- "$(cat "{self.want}")" "{self.last}"\n'
            "exit 0\n"
        )
        self.script.chmod(0o755)

    def open(self, desktop: Any, label: str = NOTHING) -> None:
        """``dunstctl context``: dunst lists every shown notification's actions; the entry whose text contains
        ``label`` is picked (none by default). dunst runs the program in the background: see :meth:`offered`."""
        self.want.write_text(label)
        self.last.unlink(missing_ok=True)
        desktop.run(["dunstctl", "context"], timeout=20)

    def offered(self, desktop: Any, timeout: float = 15.0) -> List[Entry]:
        """What the menu opened last listed, once the program has read all of it."""
        desktop.wait_for(self.last.exists, timeout=timeout)
        return entries(self.last.read_text())

    def everything_offered(self) -> str:
        """Every menu's lines so far (for a failure's explanation, and for "was it ever offered")."""
        return self.history.read_text() if self.history.exists() else ""
