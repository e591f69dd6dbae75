"""A view for the tray's controller that records every menu it is shown and every notice, as a person would have
seen them: the tests of other sources (tests/e2e/test_sources_*.py) read what the user sees from it."""

from __future__ import annotations

from typing import Any, List, Tuple

from tray.app import menu as m


def flatten(items: Tuple[m.MenuItem, ...]) -> List[m.MenuItem]:
    """Every item of a menu, submenus included, top to bottom."""
    return [found for item in items for found in (item, *flatten(item.children))]


class MenuView:
    def __init__(self) -> None:
        self.shown: List[Tuple[str, int, str, Tuple[m.MenuItem, ...]]] = []
        self.notes: List[Tuple[str, str, Tuple[Any, ...]]] = []

    def show(self, state: str, count: int, title: str, menu: Tuple[m.MenuItem, ...]) -> None:
        self.shown.append((state, count, title, menu))

    def notify(self, title: str, body: str, buttons: Tuple[Any, ...] = (), on_click: Any = None) -> bool:
        self.notes.append((title, body, tuple(buttons)))
        return True

    def stop(self) -> None:
        pass

    def top(self) -> List[str]:
        """The top-level lines of the menu shown last (separators left out)."""
        return [item.text for item in self.shown[-1][3] if not item.separator] if self.shown else []

    def item(self, start: str) -> m.MenuItem:
        """The first item, at any depth of the menu shown last, whose text starts with `start`."""
        found = [item for item in flatten(self.shown[-1][3]) if item.text.startswith(start)] if self.shown else []
        assert found, f"no menu item starts with {start!r}: {self.top()}"
        return found[0]

    def ever(self, start: str) -> bool:
        """Has any menu shown so far had a top-level line starting with `start`?"""
        return any(item.text.startswith(start) for shown in list(self.shown) for item in shown[3])
