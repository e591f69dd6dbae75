"""A fake AppKit boundary that fails when it is touched off the main thread, for pystray's real `_darwin.py`.

`load_darwin_backend()` puts stand-ins for `AppKit`, `Foundation`, `objc` and `PyObjCTools` into `sys.modules`
and executes pystray's own `_darwin.py` against them, so the code under test is pystray 0.19.5's darwin backend
(plus our subclass), not a copy. Every call on a fake native object is recorded with the thread it came from;
one made off the main thread is a *violation* (recorded, and raised where it happened, as macOS would crash).

`FakeApp.run()` is the main run loop: it runs what `AppHelper.callAfter` queued, on the main thread, until
`stop_` is called, with a deadline. `NSThread.isMainThread()` answers for the calling thread.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import queue
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

MODULES = ("AppKit", "Foundation", "objc", "PyObjCTools", "PyObjCTools.AppHelper", "PyObjCTools.MachSignals")


class OffMainThread(AssertionError):
    """An AppKit call from a thread other than the main one."""


@dataclass
class Call:
    target: str
    method: str
    args: Tuple[Any, ...]
    thread: str
    main: bool
    obj: Any = None


@dataclass
class Boundary:
    """Everything the fake AppKit saw."""

    calls: List[Call] = field(default_factory=list)
    violations: List[Call] = field(default_factory=list)
    queue: queue.Queue[Tuple[Callable[..., Any], Tuple[Any, ...]]] = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, target: str, method: str, args: Tuple[Any, ...], obj: Any = None) -> None:
        thread = threading.current_thread()
        call = Call(target, method, args, thread.name, thread is threading.main_thread(), obj)
        with self.lock:
            self.calls.append(call)
            if not call.main:
                self.violations.append(call)
        if not call.main:
            raise OffMainThread(f"{target}.{method} called on thread {thread.name!r}")

    def named(self, method: str) -> List[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]


class Native:
    """A fake Objective-C object: any method call is checked and recorded; a few answer something."""

    answers: Dict[str, Any] = {}

    def __init__(self, boundary: Boundary, kind: str) -> None:
        self._boundary = boundary
        self._kind = kind
        self.state: Dict[str, Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        def method(*args: Any) -> Any:
            self._boundary.record(self._kind, name, args, self)
            return self._answer(name, args)

        return method

    def _answer(self, name: str, args: Tuple[Any, ...]) -> Any:
        if name.startswith("set") and name.endswith("_") and len(args) == 1:
            self.state[name[3:-1]] = args[0]
            return None
        if name in ("init", "initWithTitle_", "initWithData_", "initWithTitle_action_keyEquivalent_"):
            return self
        return Native(self._boundary, f"{self._kind}.{name}")


class FakeImage(Native):
    def isTemplate(self) -> bool:
        self._boundary.record("NSImage", "isTemplate", ())
        return bool(self.state.get("Template"))


class FakeButton(Native):
    def image(self) -> Any:
        self._boundary.record("NSStatusBarButton", "image", ())
        return self.state.get("Image")


class FakeStatusItem(Native):
    def __init__(self, boundary: Boundary) -> None:
        super().__init__(boundary, "NSStatusItem")
        self._button = FakeButton(boundary, "NSStatusBarButton")

    def button(self) -> FakeButton:
        self._boundary.record("NSStatusItem", "button", ())
        return self._button


class FakeStatusBar(Native):
    def __init__(self, boundary: Boundary) -> None:
        super().__init__(boundary, "NSStatusBar")
        self.items: List[FakeStatusItem] = []

    def statusItemWithLength_(self, length: float) -> FakeStatusItem:
        self._boundary.record("NSStatusBar", "statusItemWithLength_", (length,))
        item = FakeStatusItem(self._boundary)
        self.items.append(item)
        return item

    def thickness(self) -> float:
        self._boundary.record("NSStatusBar", "thickness", ())
        return 22.0


class FakeApp(Native):
    """NSApplication: `run()` is the main run loop that drains `AppHelper.callAfter`'s queue."""

    DEADLINE = 15.0

    def __init__(self, boundary: Boundary) -> None:
        super().__init__(boundary, "NSApplication")
        self.stopped = threading.Event()

    def run(self) -> None:
        self._boundary.record("NSApplication", "run", ())
        deadline = time.monotonic() + self.DEADLINE
        while not self.stopped.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake run loop was never stopped")
            try:
                function, args = self._boundary.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            function(*args)

    def stop_(self, sender: Any) -> None:
        self._boundary.record("NSApplication", "stop_", (sender,))
        self.stopped.set()


def _class(boundary: Boundary, kind: str, instance: Callable[[], Native]) -> Any:
    """A fake class: `alloc()` gives an instance; class methods are recorded like instance ones."""

    class Meta(type):
        def __getattr__(cls, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return getattr(Native(boundary, kind), name)

    class FakeClass(metaclass=Meta):
        @staticmethod
        def alloc() -> Native:
            boundary.record(kind, "alloc", ())
            return instance()

    FakeClass.__name__ = kind
    return FakeClass


def build_modules(boundary: Boundary) -> Tuple[Dict[str, types.ModuleType], FakeApp, FakeStatusBar]:
    app = FakeApp(boundary)
    bar = FakeStatusBar(boundary)

    appkit = types.ModuleType("AppKit")
    appkit.NSApplication = types.SimpleNamespace(sharedApplication=lambda: app)  # type: ignore[attr-defined]
    appkit.NSStatusBar = types.SimpleNamespace(systemStatusBar=lambda: bar)  # type: ignore[attr-defined]
    appkit.NSVariableStatusItemLength = -1.0  # type: ignore[attr-defined]
    appkit.NSImage = _class(boundary, "NSImage", lambda: FakeImage(boundary, "NSImage"))  # type: ignore[attr-defined]
    appkit.NSMenu = _class(boundary, "NSMenu", lambda: Native(boundary, "NSMenu"))  # type: ignore[attr-defined]
    appkit.NSMenuItem = _class(boundary, "NSMenuItem", lambda: Native(boundary, "NSMenuItem"))  # type: ignore[attr-defined]
    appkit.NSEvent = _class(boundary, "NSEvent", lambda: Native(boundary, "NSEvent"))  # type: ignore[attr-defined]
    appkit.NSFont = _class(boundary, "NSFont", lambda: Native(boundary, "NSFont"))  # type: ignore[attr-defined]
    for name, value in (("NSOnState", 1), ("NSOffState", 0), ("NSApplicationDefined", 15),
                        ("NSFontAttributeName", "NSFont")):
        setattr(appkit, name, value)
    appkit.NSPoint = lambda x, y: (x, y)  # type: ignore[attr-defined]

    foundation = types.ModuleType("Foundation")

    class NSObject:
        @classmethod
        def alloc(cls) -> Any:
            boundary.record(cls.__name__, "alloc", ())
            return cls()

        def init(self) -> Any:
            boundary.record(type(self).__name__, "init", ())
            return self

    def ns_data(data: bytes) -> bytes:
        boundary.record("NSData", "new", ())
        return bytes(data)

    foundation.NSObject = NSObject  # type: ignore[attr-defined]
    foundation.NSData = ns_data  # type: ignore[attr-defined]
    foundation.NSThread = types.SimpleNamespace(  # type: ignore[attr-defined]
        isMainThread=lambda: threading.current_thread() is threading.main_thread()
    )
    foundation.NSAttributedString = _class(boundary, "NSAttributedString", lambda: Native(boundary, "NSAttr"))  # type: ignore[attr-defined]
    foundation.NSDictionary = _class(boundary, "NSDictionary", lambda: Native(boundary, "NSDictionary"))  # type: ignore[attr-defined]

    objc = types.ModuleType("objc")
    objc.namedSelector = lambda _selector: (lambda function: function)  # type: ignore[attr-defined]

    pyobjctools = types.ModuleType("PyObjCTools")
    pyobjctools.__path__ = []  # type: ignore[attr-defined]
    app_helper = types.ModuleType("PyObjCTools.AppHelper")

    def call_after(function: Callable[..., Any], *args: Any) -> None:
        boundary.queue.put((function, args))  # any thread may queue: performSelectorOnMainThread does this

    app_helper.callAfter = call_after  # type: ignore[attr-defined]
    signals = types.ModuleType("PyObjCTools.MachSignals")
    handlers: Dict[int, Any] = {}
    signals.signal = lambda number, handler: handlers.setdefault(number, handler) and None  # type: ignore[attr-defined]
    signals.getsignal = lambda number: handlers.get(number)  # type: ignore[attr-defined]
    pyobjctools.AppHelper = app_helper  # type: ignore[attr-defined]
    pyobjctools.MachSignals = signals  # type: ignore[attr-defined]

    modules = {
        "AppKit": appkit,
        "Foundation": foundation,
        "objc": objc,
        "PyObjCTools": pyobjctools,
        "PyObjCTools.AppHelper": app_helper,
        "PyObjCTools.MachSignals": signals,
    }
    return modules, app, bar


@dataclass
class DarwinBackend:
    """pystray's real darwin backend running on the fake AppKit."""

    boundary: Boundary
    app: FakeApp
    status_bar: FakeStatusBar
    module: types.ModuleType
    pystray: types.SimpleNamespace  # Icon (pystray's darwin Icon), Menu, MenuItem: what `import pystray` gives

    @property
    def button(self) -> FakeButton:
        return self.status_bar.items[-1]._button


def load_darwin_backend(monkeypatch: Any) -> DarwinBackend:
    """Install the fake modules (undone by ``monkeypatch``) and load pystray's `_darwin.py` on them."""
    boundary = Boundary()
    modules, app, bar = build_modules(boundary)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    if "pystray" not in sys.modules:
        monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # importing the package must not need a display
    pystray = importlib.import_module("pystray")
    base = importlib.import_module("pystray._base")
    source = os.path.join(os.path.dirname(pystray.__file__), "_darwin.py")
    spec = importlib.util.spec_from_file_location("pystray._darwin", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pystray._darwin", module)
    spec.loader.exec_module(module)
    namespace = types.SimpleNamespace(Icon=module.Icon, Menu=base.Menu, MenuItem=base.MenuItem)
    return DarwinBackend(boundary, app, bar, module, namespace)


def run_on_main(backend: DarwinBackend, icon: Any, setup: Optional[Callable[[Any], None]]) -> None:
    """`icon.run(setup)` as pystray's darwin backend does it: on this (the main) thread."""
    assert threading.current_thread() is threading.main_thread(), "pytest must run tests on the main thread"
    icon.run(setup=setup)
