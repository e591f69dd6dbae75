"""Opening a tray menu, timed from outside as a person gets it: a real right-button press on the icon (XTest) to
the menu's window mapped on the screen (MapNotify on the root window), then Escape and its unmapping; and a
tray's tooltip (the icon window's name on the gtk backend) followed until it says something.

python-xlib (pystray's own dependency on Linux) talks to the X server directly, so no `xdotool` process starts
inside a timed step. Used by `bench/events.py`.
"""

from __future__ import annotations

import select
import time
from typing import Any, Callable, Optional


class MenuOpener:
    def __init__(self, display_name: str) -> None:
        from Xlib import X, display

        self.X = X
        self.display = display.Display(display_name)
        self.root = self.display.screen().root
        self.root.change_attributes(event_mask=X.SubstructureNotifyMask)  # menus are children of the root
        self.display.sync()

    def _drain(self) -> None:
        while self.display.pending_events():
            self.display.next_event()

    def _until(self, predicate: Callable[[Any], bool], timeout: float) -> Optional[float]:
        """perf_counter() when an event for which `predicate` holds arrived; None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            while self.display.pending_events():
                event = self.display.next_event()
                if predicate(event):
                    return time.perf_counter()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self.display], [], [], left)

    def open_and_close(self, x: int, y: int, timeout: float = 10.0) -> Optional[float]:
        """Right-click at (x, y); milliseconds until a popup window is mapped; then Escape, and wait for it to go.
        None when no menu came within `timeout` seconds."""
        from Xlib import XK
        from Xlib.ext import xtest

        X = self.X
        xtest.fake_input(self.display, X.MotionNotify, x=x, y=y)
        self.display.sync()
        self._drain()
        popup = []

        def mapped(event: Any) -> bool:
            if event.type == X.MapNotify and event.override:
                popup.append(event.window.id)
                return True
            return False

        started = time.perf_counter()
        xtest.fake_input(self.display, X.ButtonPress, 3)
        xtest.fake_input(self.display, X.ButtonRelease, 3)
        self.display.flush()
        shown = self._until(mapped, timeout)
        if shown is None:
            return None
        escape = self.display.keysym_to_keycode(XK.string_to_keysym("Escape"))
        xtest.fake_input(self.display, X.KeyPress, escape)
        xtest.fake_input(self.display, X.KeyRelease, escape)
        self.display.flush()
        gone = self._until(lambda event: event.type == X.UnmapNotify and event.window.id == popup[0], timeout)
        if gone is None:
            raise RuntimeError("the menu did not close on Escape")
        return (shown - started) * 1000

    def window_name(self, window_id: int) -> str:
        window = self.display.create_resource_object("window", window_id)
        value = window.get_full_property(self.display.intern_atom("_NET_WM_NAME"), 0)
        if value is not None:
            raw = value.value
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return str(window.get_wm_name() or "")

    def wait_for_name(self, window_id: int, predicate: Callable[[str], bool], timeout: float = 10.0) -> Optional[float]:
        """perf_counter() once the window's name satisfies `predicate` (followed by PropertyNotify events)."""
        window = self.display.create_resource_object("window", window_id)
        window.change_attributes(event_mask=self.X.PropertyChangeMask)
        self.display.sync()
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.window_name(window_id)):
                return time.perf_counter()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._until(lambda event: event.type == self.X.PropertyNotify and event.window.id == window_id, left)

    def close(self) -> None:
        self.display.close()
