"""Windows: raise the console window of the session, or the Windows Terminal window that hosts it.

A classic console (conhost) has a visible window of its own: ``AttachConsole`` to the session, read
``GetConsoleWindow``, detach. Under Windows Terminal that window is ConPTY's hidden pseudo-window, whose root
owner (``GetAncestor(GA_ROOTOWNER)``) is the terminal window showing that tab. Failing both, the nearest ancestor
that owns exactly one visible top-level window is raised (several: refused, it cannot be told which).

All Win32 calls go through :class:`Win32`, a small boundary that tests replace with a fake; the real one uses
ctypes and exists only on Windows.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from tray.platform.focus_base import FocusResult, Processes, nearest_window

SW_RESTORE = 9
GA_ROOTOWNER = 3


class Win32:  # pragma: no cover - needs Windows; the logic above it is tested with a fake
    """The Win32 calls, through ctypes."""

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes

        self.ctypes = ctypes
        self.wintypes = wintypes
        self.user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        self.user32.GetAncestor.restype = wintypes.HWND
        self.kernel32.GetConsoleWindow.restype = wintypes.HWND

    def top_windows(self) -> List[int]:
        found: List[int] = []
        # WINFUNCTYPE exists only on Windows.
        proc = self.ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
            self.wintypes.BOOL, self.wintypes.HWND, self.wintypes.LPARAM)

        def collect(hwnd: int, _lparam: int) -> bool:
            found.append(int(hwnd or 0))
            return True

        self.user32.EnumWindows(proc(collect), 0)
        return found

    def window_pid(self, hwnd: int) -> int:
        pid = self.wintypes.DWORD()
        self.user32.GetWindowThreadProcessId(self.wintypes.HWND(hwnd), self.ctypes.byref(pid))
        return int(pid.value)

    def is_visible(self, hwnd: int) -> bool:
        return bool(self.user32.IsWindowVisible(self.wintypes.HWND(hwnd)))

    def console_window_of(self, pid: int) -> int:
        self.kernel32.FreeConsole()  # the tray has none; AttachConsole fails while attached to another
        if not self.kernel32.AttachConsole(self.wintypes.DWORD(pid)):
            return 0
        try:
            return int(self.kernel32.GetConsoleWindow() or 0)
        finally:
            self.kernel32.FreeConsole()

    def root_owner(self, hwnd: int) -> int:
        return int(self.user32.GetAncestor(self.wintypes.HWND(hwnd), GA_ROOTOWNER) or 0)

    def bring_to_front(self, hwnd: int) -> bool:
        handle = self.wintypes.HWND(hwnd)
        if self.user32.IsIconic(handle):
            self.user32.ShowWindow(handle, SW_RESTORE)
        return bool(self.user32.SetForegroundWindow(handle))


def raise_console(ancestors: Sequence[int], processes: Processes, win32: Win32 | None = None) -> FocusResult:
    api = win32 if win32 is not None else Win32()
    session = ancestors[0]
    console = api.console_window_of(session)
    candidates = []
    if console:
        if api.is_visible(console):
            candidates.append((console, "its console window"))
        owner = api.root_owner(console)
        if owner and owner != console and api.is_visible(owner):
            candidates.append((owner, f"the {processes.name(api.window_pid(owner)) or 'terminal'} window of its tab"))
    if not candidates:
        owned: Dict[int, List[int]] = {}
        for hwnd in api.top_windows():
            if api.is_visible(hwnd):
                owned.setdefault(api.window_pid(hwnd), []).append(hwnd)
        found = nearest_window(ancestors, owned, processes)
        if isinstance(found, FocusResult):
            return found
        if found is not None:
            hwnd, pid, name = found
            candidates.append((hwnd, f"{name} (pid {pid})"))
    if not candidates:
        return FocusResult(False, "no console or terminal window found among its parent processes")
    hwnd, what = candidates[0]
    if not api.bring_to_front(hwnd):
        return FocusResult(False, f"Windows did not let {what} come to the front")
    return FocusResult(True, f"raised {what}")
