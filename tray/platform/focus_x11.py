"""X11: activate the top-level window of the nearest ancestor, the EWMH way (`_NET_ACTIVE_WINDOW`).

Only windows the window manager lists in `_NET_CLIENT_LIST` count (managed top-levels), matched by their
`_NET_WM_PID`. A process that owns several of them (a terminal server such as gnome-terminal-server) is refused:
which of its windows shows the session cannot be told from here, and raising a wrong one is worse than none.
Success is what the window manager reports back (`_NET_ACTIVE_WINDOW` on the root), not that a message was sent.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence

from tray.platform.focus_base import FocusResult, Processes, nearest_window

#: How long the window manager may take to make the window active (seconds; generous for a loaded machine).
ACTIVATE_TIMEOUT = 5.0
#: Source indication 2: a pager or a user action (window managers may ignore source 1 from an app).
SOURCE_PAGER = 2


def _prop(display: Any, window: Any, name: str) -> Optional[List[int]]:
    from Xlib import X

    try:
        prop = window.get_full_property(display.intern_atom(name), X.AnyPropertyType)
    except Exception:  # noqa: BLE001 - BadWindow: the window went away meanwhile
        return None
    return list(prop.value) if prop is not None and len(prop.value) else None


def _has_ewmh_wm(display: Any) -> bool:
    """A running EWMH window manager: `_NET_SUPPORTING_WM_CHECK` names a window that still exists."""
    root = display.screen().root
    check = _prop(display, root, "_NET_SUPPORTING_WM_CHECK")
    if not check:
        return False
    child = display.create_resource_object("window", check[0])
    return _prop(display, child, "_NET_SUPPORTING_WM_CHECK") == check  # a killed WM leaves a stale root property


def windows_by_pid(display: Any) -> Dict[int, List[int]]:
    root = display.screen().root
    found: Dict[int, List[int]] = {}
    for wid in _prop(display, root, "_NET_CLIENT_LIST") or []:
        pid = _prop(display, display.create_resource_object("window", wid), "_NET_WM_PID")
        if pid:
            found.setdefault(pid[0], []).append(wid)
    return found


def active_window(display: Any) -> Optional[int]:
    value = _prop(display, display.screen().root, "_NET_ACTIVE_WINDOW")
    return value[0] if value else None


def activate(display: Any, wid: int) -> None:
    from Xlib import X, protocol

    root = display.screen().root
    window = display.create_resource_object("window", wid)
    event = protocol.event.ClientMessage(
        window=window,
        client_type=display.intern_atom("_NET_ACTIVE_WINDOW"),
        data=(32, [SOURCE_PAGER, X.CurrentTime, 0, 0, 0]),
    )
    root.send_event(event, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
    display.flush()


def raise_window(ancestors: Sequence[int], processes: Processes, display_name: Optional[str] = None) -> FocusResult:
    from Xlib import display as xdisplay

    try:
        display = xdisplay.Display(display_name)
    except Exception as error:  # noqa: BLE001 - DisplayNameError, ConnectionClosedError...
        return FocusResult(False, f"cannot open the X display: {error}")
    try:
        if not _has_ewmh_wm(display):
            return FocusResult(False, "no EWMH window manager is running")
        found = nearest_window(ancestors, windows_by_pid(display), processes)
        if isinstance(found, FocusResult):
            return found
        if found is not None:
            wid, pid, name = found
            activate(display, wid)
            deadline = time.monotonic() + ACTIVATE_TIMEOUT
            while active_window(display) != wid:
                if time.monotonic() >= deadline:
                    return FocusResult(False, f"the window manager did not activate {name}'s window")
                time.sleep(0.02)
            return FocusResult(True, f"raised {name} (pid {pid}, window 0x{wid:x})")
        return FocusResult(False, "no terminal window found among its parent processes (ssh, or another display?)")
    finally:
        display.close()
