"""A fake Win32 boundary (``ctypes.windll``) under which pystray's real ``_win32.py`` runs on Linux.

`load_win32_backend()` gives ``ctypes`` the few names only Windows has (``WinDLL``, ``WINFUNCTYPE``,
``HRESULT``; undone by ``monkeypatch``) and executes pystray's own ``_util/win32.py`` and ``_win32.py``, so the
code under test is pystray 0.19.5's win32 backend. Every call into ``user32``/``shell32``/``kernel32`` is
recorded; the few whose answers matter are scripted:

* ``TrackPopupMenuEx`` (the menu shown at the cursor) returns ``Win32.choose`` (0: the user dismissed it), the
  1-based id of the item the user picks;
* ``Shell_NotifyIconW`` checks what Windows checks: ``szTip`` is ``WCHAR[128]``, so a tooltip must fit in 127
  UTF-16 units and a NUL (on Windows, ctypes raises past 128 units; on Linux ``c_wchar`` is four bytes, so the
  fake measures the UTF-16 length itself and raises the same ``ValueError``);
* everything that returns a handle returns a non-zero one (pystray's ``errcheck`` raises on zero).
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

TIP_UNITS = 128  # NOTIFYICONDATAW.szTip: WCHAR[128]


@dataclass
class Win32:
    """What the fake Windows saw, and what it answers."""

    calls: List[Tuple[str, Tuple[Any, ...]]] = field(default_factory=list)
    menus: Dict[int, List[Dict[str, Any]]] = field(default_factory=dict)
    tips: List[str] = field(default_factory=list)
    choose: int = 0
    _next: int = 100

    def handle(self) -> int:
        self._next += 1
        return self._next

    def named(self, name: str) -> List[Tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


def _deref(value: Any) -> Any:
    """The structure behind a ``ctypes.byref`` argument."""
    return getattr(value, "_obj", value)


class FakeFunction:
    """A foreign function: settable ``argtypes``/``restype``/``errcheck``; calls recorded and answered."""

    def __init__(self, win32: Win32, name: str) -> None:
        self.win32, self.name = win32, name
        self.argtypes: Any = None
        self.restype: Any = None
        self.errcheck: Optional[Callable[..., Any]] = None

    def __call__(self, *args: Any) -> Any:
        self.win32.calls.append((self.name, args))
        result = self._answer(args)
        if self.errcheck is not None:
            result = self.errcheck(result, self, args)
        return result

    def _answer(self, args: Tuple[Any, ...]) -> Any:
        w = self.win32
        if self.name == "TrackPopupMenuEx":
            return w.choose
        if self.name in ("CreatePopupMenu", "CreateWindowExW", "LoadImageW", "RegisterClassExW",
                         "GetModuleHandleW", "RegisterWindowMessageW"):
            handle = w.handle()
            if self.name == "CreatePopupMenu":
                w.menus[handle] = []
            return handle
        if self.name == "InsertMenuItemW":
            hmenu, _index, _by_position, info = args
            item = _deref(info)
            w.menus.setdefault(hmenu, []).append(
                {"id": item.wID, "text": item.dwTypeData, "state": item.fState, "type": item.fType})
            return 1
        if self.name == "Shell_NotifyIconW":
            data = _deref(args[1])
            tip = data.szTip
            units = len(tip.encode("utf-16-le", "surrogatepass")) // 2
            if units >= TIP_UNITS:  # Windows: ctypes raises past 128 units; 128 leaves no room for the NUL
                raise ValueError(f"string too long ({units} UTF-16 units for WCHAR[{TIP_UNITS}])")
            w.tips.append(tip)
            return 1
        return 1


class FakeDLL:
    def __init__(self, win32: Win32, name: str) -> None:
        self._win32, self._name = win32, name
        self._functions: Dict[str, FakeFunction] = {}

    def __getattr__(self, name: str) -> FakeFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._functions:
            self._functions[name] = FakeFunction(self._win32, name)
        return self._functions[name]


@dataclass
class Win32Backend:
    win32: Win32
    module: types.ModuleType
    pystray: types.SimpleNamespace  # Icon (pystray's win32 Icon), Menu, MenuItem
    constants: types.ModuleType  # pystray._util.win32 (WM_LBUTTONUP, MFS_DEFAULT...)


def load_win32_backend(monkeypatch: Any) -> Win32Backend:
    win32 = Win32()
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, *a, **k: FakeDLL(win32, name), raising=False)
    monkeypatch.setattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE, raising=False)
    monkeypatch.setattr(ctypes, "HRESULT", ctypes.c_long, raising=False)
    if "pystray" not in sys.modules:
        monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # importing the package must not need a display
    pystray = importlib.import_module("pystray")
    base = importlib.import_module("pystray._base")
    importlib.import_module("pystray._util")
    folder = os.path.dirname(pystray.__file__)
    loaded = {}
    for name, path in (("pystray._util.win32", os.path.join(folder, "_util", "win32.py")),
                       ("pystray._win32", os.path.join(folder, "_win32.py"))):
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        if name == "pystray._util.win32":
            monkeypatch.setattr(sys.modules["pystray._util"], "win32", module, raising=False)
        spec.loader.exec_module(module)
        loaded[name] = module
    module = loaded["pystray._win32"]
    namespace = types.SimpleNamespace(Icon=module.Icon, Menu=base.Menu, MenuItem=base.MenuItem)
    return Win32Backend(win32, module, namespace, loaded["pystray._util.win32"])
