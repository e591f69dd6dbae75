"""A real, private X desktop for tests: Xvfb + session D-Bus + dunst + trayer, driven with xdotool.

Why: the tray is only proven when a person could use it, i.e. an icon appears in a real tray host, a click
opens a real menu, an item does its job, and a notification reaches a real notification daemon. Mocks prove
none of that. This module builds such a desktop for one test and tears every process of it down by PID.

Start order matters: X server first, then the session bus *after*
``DISPLAY`` is set (a bus started without it breaks the notification daemon), then dunst, then trayer.

Findings on this machine (Debian 12, pystray 0.19.5, PyGObject 3.50.2, trayer 1.1.8, dunst 1.9.0); both
menu-capable backends passed 10 runs out of 10 of find icon, open menu, pick item, notify, Quit:

- ``PYSTRAY_BACKEND=gtk`` (Gtk.StatusIcon, XEmbed, exactly what trayer hosts): **button 3** opens the menu,
  button 1 runs the default action (none unless an item has ``default=True``). Caveat: pystray's gtk
  backend does not apply the constructor's ``title``; the icon's X window is named after the program
  (``probe.py``, ``__main__.py``...) until ``icon.title`` is *changed* after start (e.g. in ``setup``).
- ``PYSTRAY_BACKEND=appindicator`` (pystray's default when the Ayatana typelib is installed): trayer has no
  StatusNotifierItem host, so libayatana-appindicator falls back to its own Gtk.StatusIcon, named after the
  title at once; **button 1** (and 3, too) opens the menu. GTK prints a harmless
  ``Gdk-CRITICAL ... gdk_window_thaw_toplevel_updates`` on the first click.
- Tests should force ``PYSTRAY_BACKEND=gtk`` and click button 3: it is pystray's own XEmbed code with no
  library fallback in between, so what passes here is what an XEmbed desktop (XFCE, MATE, i3 + a tray) gets.
  The appindicator path under trayer only tests libayatana's fallback, which an SNI desktop never uses.
- Keyboard is the robust way to pick menu items once a menu is open: ``Down``/``Up``/``Right``/``Return``.
- dunst keeps a notification on screen (not in history) until it is closed or times out;
  ``dunstctl history`` only lists closed ones. :meth:`Desktop.notifications` therefore runs
  ``dunstctl close-all`` first, which moves the displayed *and* the waiting ones into history.
  Our dunstrc disables duplicate stacking and markup, so history holds each notification once, verbatim.

Use as the pytest fixture ``desktop`` (tests/conftest.py), or directly::

    with start_desktop() as d:
        proc = d.popen([sys.executable, "app.py"])
        win = d.find_window("^My app$")
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator, NamedTuple, Sequence, TypeVar

T = TypeVar("T")

#: Executables the desktop cannot run without; a test is skipped only when one of these is missing.
REQUIRED_TOOLS: tuple[str, ...] = (
    "Xvfb",
    "dbus-daemon",
    "dbus-send",
    "dunst",
    "dunstctl",
    "busctl",
    "trayer",
    "xdotool",
    "import",
)

#: Debian packages that provide REQUIRED_TOOLS (for the skip message; busctl, used by dunstctl, is in systemd).
DEBIAN_PACKAGES = "xvfb dbus dunst trayer xdotool imagemagick systemd"

#: The StatusNotifierItem watcher and host, needed in addition by ``start_desktop(host="sni")``.
SNI_TOOLS: tuple[str, ...] = ("status-notifier-watcher", "gtk-sni-tray-standalone")
SNI_PACKAGES = "haskell-status-notifier-item-utils haskell-gtk-sni-tray-utils libharfbuzz-gobject0"
SNI_WATCHER = "org.kde.StatusNotifierWatcher"

#: What "Focus terminal" tests need besides the desktop: a window manager that honours EWMH focus requests,
#: terminals, and tmux; and the Debian packages that provide them.
FOCUS_TOOLS: tuple[str, ...] = ("openbox", "xterm", "tmux")
FOCUS_PACKAGES = "openbox xterm tmux"

#: Seconds any single step (start a daemon, run one xdotool command) may take.
STEP_TIMEOUT = 30.0

#: Variables of the caller's own session that must not leak in (a real bus or display, Wayland).
_SESSION_VARS = frozenset(
    {
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "DBUS_SESSION_BUS_ADDRESS",
        "XAUTHORITY",
        "DESKTOP_SESSION",
        "XDG_CURRENT_DESKTOP",
        "XDG_SESSION_TYPE",
        "SESSION_MANAGER",
        "PYSTRAY_BACKEND",
    }
)

#: Private XDG homes (sub-folders of the work dir), so platformdirs paths of the app land there.
XDG_HOMES = {
    "XDG_CONFIG_HOME": "xdg-config",
    "XDG_CACHE_HOME": "xdg-cache",
    "XDG_DATA_HOME": "xdg-data",
    "XDG_STATE_HOME": "xdg-state",
}

_DUNSTRC = """\
[global]
    monitor = 0
    follow = none
    width = 400
    height = 300
    origin = top-left
    offset = 10x50
    notification_limit = 0
    indicate_hidden = yes
    markup = no
    format = "%s\\n%b"
    ignore_newline = no
    stack_duplicates = false
    hide_duplicate_count = true
    sticky_history = yes
    history_length = 1000
    show_age_threshold = -1
    font = Monospace 8
    title = Dunst
    class = Dunst
    ignore_dbusclose = false

[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


class Geometry(NamedTuple):
    """A window's position and size on the root window."""

    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


@dataclasses.dataclass
class MenuNode:
    """One item of a menu exported over D-Bus (com.canonical.dbusmenu), with the defaults the spec gives."""

    id: int
    label: str
    enabled: bool = True
    visible: bool = True
    separator: bool = False
    toggle_state: int | None = None
    children: list[MenuNode] = dataclasses.field(default_factory=list)

    @classmethod
    def from_layout(cls, layout: Any) -> MenuNode:
        """Build the tree from a ``(ia{sv}av)`` layout as Gio unpacks it."""
        node_id, props, children = layout
        toggle = props.get("toggle-state") if props.get("toggle-type") else None
        return cls(
            id=node_id,
            label=_dbusmenu_label(props.get("label", "")),
            enabled=bool(props.get("enabled", True)),
            visible=bool(props.get("visible", True)),
            separator=props.get("type") == "separator",
            toggle_state=toggle,
            children=[cls.from_layout(child) for child in children],
        )

    @property
    def selectable(self) -> bool:
        """Whether keyboard navigation stops here (GTK skips separators, hidden and greyed-out items)."""
        return self.visible and self.enabled and not self.separator

    def find(self, part: str) -> MenuNode:
        """The first child whose label contains ``part``."""
        for child in self.children:
            if part in child.label:
                return child
        raise LookupError(f"no item containing {part!r} in {[c.label for c in self.children]}")


def _dbusmenu_label(text: str) -> str:
    """A dbusmenu label as shown: ``_`` marks a mnemonic and ``__`` is a literal underscore."""
    return text.replace("__", "\0").replace("_", "").replace("\0", "_")


def menu_keys(menu: Sequence[MenuNode], path: Sequence[str]) -> list[str]:
    """Key presses that activate the item reached by label parts ``path`` in a freshly opened menu.

    A just-opened menu has nothing selected (Down selects the first stop); an opened submenu starts on its
    first stop. Only items keyboard navigation stops at are counted, as a person pressing Down would.
    """
    keys: list[str] = []
    items = list(menu)
    for depth, part in enumerate(path):
        stops = [item for item in items if item.selectable]
        index = next((i for i, item in enumerate(stops) if part in item.label), None)
        if index is None:
            raise LookupError(f"no selectable item containing {part!r} in {[i.label for i in stops]}")
        keys += ["Down"] * (index + 1 if depth == 0 else index)
        if depth < len(path) - 1:
            keys.append("Right")
            items = stops[index].children
    keys.append("Return")
    return keys


def colour_share(image: Any, box: Geometry, rgb: tuple[int, int, int], tolerance: int = 24) -> float:
    """The share of pixels in ``box`` of a PIL RGB image that are within ``tolerance`` of colour ``rgb``."""
    region = image.crop((box.x, box.y, box.x + box.width, box.y + box.height))
    colours = region.getcolors(region.width * region.height) or []
    close = sum(count for count, pixel in colours
                if all(abs(channel - want) <= tolerance for channel, want in zip(pixel, rgb)))
    return close / max(1, region.width * region.height)


def missing_tools(host: str = "trayer") -> list[str]:
    """Names of the tools a desktop with this tray ``host`` needs that are not found on PATH."""
    tools = REQUIRED_TOOLS + (SNI_TOOLS if host == "sni" else ())
    return [tool for tool in tools if shutil.which(tool) is None]


def debian_packages(host: str = "trayer") -> str:
    """The Debian packages that provide the tools for a desktop with this tray ``host``."""
    return DEBIAN_PACKAGES + (f" {SNI_PACKAGES}" if host == "sni" else "")


#: CI sets this: a real-desktop test that cannot find its tools fails instead of skipping.
REQUIRE_DESKTOP_ENV = "ORCHESTRAY_REQUIRE_DESKTOP"


def require_tools(tools: Sequence[str], packages: str) -> None:
    """Skip the calling test when a tool is missing, naming the Debian packages; under
    ``ORCHESTRAY_REQUIRE_DESKTOP=1`` (as in CI) fail instead, so a missing tool can never pass as a skip."""
    import pytest

    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"needs {', '.join(missing)} (Debian: apt-get install {packages})"
    if os.environ.get(REQUIRE_DESKTOP_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_DESKTOP_ENV}=1 turns this skip into a failure")
    pytest.skip(message)


def require_desktop(host: str = "trayer") -> None:
    """:func:`require_tools` for a whole desktop with this tray ``host``."""
    require_tools(REQUIRED_TOOLS + (SNI_TOOLS if host == "sni" else ()), debian_packages(host))


def _kill_pid(pid: int, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: one process, by PID, never by name."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child; otherwise just probe whether it still exists.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a grandchild's zombie is reaped by init, not by us)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _children_of(pid: int) -> list[int]:
    """PIDs of the direct children of ``pid`` (bus-activated services), read from /proc."""
    children: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the PPID; the command name (field 2) may contain spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(entry.name))
    return children


class Desktop:
    """A running private desktop. Create it with :func:`start_desktop`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.display = ""
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen[Any]] = []
        self._logs: list[IO[bytes]] = []
        self._connection: Any = None
        self._windows_before_popup: set[str] = set()

    @property
    def pids(self) -> list[int]:
        """PIDs this desktop will end at teardown (its daemons and everything started with :meth:`popen`)."""
        return [proc.pid for proc in self._procs]

    def log_file(self, name: str) -> IO[bytes]:
        """A file in the work dir for a process's output, closed at teardown (read it when a step fails)."""
        handle = open(self.workdir / name, "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(handle)
        return handle

    # ----- processes -----------------------------------------------------------------------------------

    def popen(
        self,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        log: str | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[Any]:
        """Start a process in this desktop (``env`` adds to :attr:`env`; ``log`` names a file in the work dir
        for its stdout+stderr). It is ended by PID at teardown if still running."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        if log is not None:
            kwargs["stdout"] = kwargs["stderr"] = self.log_file(log)
        proc = subprocess.Popen(list(args), env=full_env, **kwargs)
        self._procs.append(proc)
        return proc

    def run(
        self,
        args: Sequence[str],
        timeout: float = STEP_TIMEOUT,
        check: bool = True,
        env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in this desktop to completion (text mode, output captured), always under a timeout.

        ``env`` adds to :attr:`env`, as in :meth:`popen`.
        """
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        if "input" not in kwargs:
            kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("capture_output", True)
        return subprocess.run(list(args), env=full_env, timeout=timeout, check=check, text=True, **kwargs)

    # ----- X -------------------------------------------------------------------------------------------

    def find_windows(self, name_regex: str, timeout: float = STEP_TIMEOUT) -> list[str]:
        """IDs of visible windows whose name matches; waits until at least one exists.

        ``--onlyvisible`` matters: GTK creates a hidden 10x10 leader window with the same name first.
        """
        try:
            out = self.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", name_regex], timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"no visible window named {name_regex!r} after {timeout} s") from None
        return out.stdout.split()

    def find_window(self, name_regex: str, timeout: float = STEP_TIMEOUT) -> str:
        """The ID of the first visible window whose name matches ``name_regex``."""
        return self.find_windows(name_regex, timeout)[0]

    def geometry(self, win: str) -> Geometry:
        """Absolute position and size of a window."""
        out = self.run(["xdotool", "getwindowgeometry", "--shell", win]).stdout
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return Geometry(int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))

    def window_name(self, win: str) -> str:
        """A window's name (the gtk backend names the icon's window after the tray's tooltip)."""
        return self.run(["xdotool", "getwindowname", win]).stdout.rstrip("\n")

    def visible_windows(self) -> set[str]:
        """IDs of every mapped window (menus are unnamed override-redirect windows, so match any name)."""
        out = self.run(["xdotool", "search", "--onlyvisible", "--name", ""], check=False)
        return set(out.stdout.split())

    def click_popup(self, x: int, y: int, button: int = 1, timeout: float = 5.0) -> Geometry:
        """Click at (x, y) and wait for a popup (a menu) to be mapped and drawn; return the largest new window.

        Why wait for it to be drawn: keys sent before the menu has grabbed the keyboard go to nowhere. GTK
        grabs when it maps the menu and draws it after, so visible items on screen mean the grab is in place.
        """
        before = self.visible_windows()
        self._windows_before_popup = before
        self.click(x, y, button)

        def popup() -> Geometry | None:
            new = [self.geometry(w) for w in self.visible_windows() - before]
            new = [g for g in new if g.width > 10 and g.height > 10]
            return max(new, key=lambda g: g.width * g.height) if new else None

        found = self.wait_for(popup, timeout)
        self.wait_for(lambda: self.drawn(found), timeout)
        return found

    def drawn(self, box: Geometry) -> bool:
        """True once ``box`` on screen shows content (text is dark on light, or light on dark), not a blank fill."""
        region = self.screen_image().convert("L").crop((box.x, box.y, box.x + box.width, box.y + box.height))
        darkest, brightest = region.getextrema()
        return brightest - darkest > 100

    def close_popups(self, levels: int = 1, timeout: float = 5.0) -> None:
        """Press Escape ``levels`` times and wait until every window the last :meth:`click_popup` opened is gone."""
        self.key(*["Escape"] * levels)
        before = self._windows_before_popup
        self.wait_for(lambda: not (self.visible_windows() - before), timeout)

    def click(self, x: int, y: int, button: int = 1) -> None:
        """Move the pointer to (x, y) and click ``button`` (1 left, 2 middle, 3 right).

        No ``mousemove --sync``: it waits for a motion event and hangs forever when the pointer is already
        at (x, y), e.g. on a second click on the same icon.
        """
        self.run(["xdotool", "mousemove", str(x), str(y), "sleep", "0.1", "click", str(button)])

    def key(self, *keys: str, delay_ms: int = 80) -> None:
        """Type key names (xdotool/X keysym names such as ``Down``, ``Return``, ``ctrl+q``)."""
        if keys:
            self.run(["xdotool", "key", "--delay", str(delay_ms), *keys])

    def screenshot(self, path: os.PathLike[str] | str) -> Path:
        """Save the whole screen as an image (format from the suffix, e.g. .png)."""
        target = Path(path)
        self.run(["import", "-window", "root", str(target)], timeout=20)
        return target

    def capture_open_menu(self, path: os.PathLike[str] | str, levels: int = 2, timeout: float = 5.0) -> Path:
        """Screenshot an open menu once the screen has stopped changing, check it is a real picture, close it."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)

        def frame() -> bytes:
            return self.screen_image().tobytes()

        self.settled(frame, quiet=0.3, timeout=timeout, interval=0.1)
        self.screenshot(target)
        if target.stat().st_size <= 5000:
            raise AssertionError(f"{target} is too small to show a menu")
        self.close_popups(levels, timeout)
        return target

    def screen_image(self) -> Any:
        """The whole screen now, as a PIL RGB image (read from a fresh screenshot)."""
        from PIL import Image

        path = self.screenshot(self.workdir / "screen-now.png")
        with Image.open(path) as image:
            return image.convert("RGB")

    def host_bar(self) -> Geometry:
        """The SNI host's bar (``start_desktop(host="sni")``): the visible gtk-sni-tray-standalone window."""
        out = self.run(["xdotool", "search", "--onlyvisible", "--class", "^gtk-sni-tray-standalone$"])
        return max((self.geometry(w) for w in out.stdout.split()), key=lambda g: g.width * g.height)

    def icons_in_bar(self, bar: Geometry, image: Any = None) -> Geometry | None:
        """The box the host's bar draws icons in: every pixel that differs from the bar's empty background.

        Found on the screen, not computed from the host's layout rules: an icon that is not drawn has no box.
        """
        from PIL import Image, ImageChops

        strip = (image or self.screen_image()).crop((bar.x, bar.y, bar.x + bar.width, bar.y + bar.height))
        empty = Image.new("RGB", strip.size, strip.getpixel((0, 0)))
        mask = ImageChops.difference(strip, empty).convert("L").point(lambda v: 255 if v > 8 else 0)
        box = mask.getbbox()
        if box is None:
            return None
        left, top, right, bottom = box
        return Geometry(bar.x + left, bar.y + top, right - left, bottom - top)

    # ----- notifications -------------------------------------------------------------------------------

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification dunst received so far, oldest first, as dicts (summary, body, appname, ...).

        ``dunstctl close-all`` first: dunst lists only closed notifications in its history.
        """
        self.run(["dunstctl", "close-all"])
        raw = json.loads(self.run(["dunstctl", "history"]).stdout)
        entries = raw["data"][0]
        flat = [{key: value.get("data") for key, value in entry.items()} for entry in entries]
        return sorted(flat, key=lambda e: e.get("id", 0))

    # ----- D-Bus: the StatusNotifierItem host and the menus items export -----------------------------------

    def _bus(self) -> Any:
        """A Gio connection of the test process to this desktop's session bus (opened once, closed at teardown)."""
        if self._connection is None:
            from gi.repository import Gio

            flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
            self._connection = Gio.DBusConnection.new_for_address_sync(
                self.env["DBUS_SESSION_BUS_ADDRESS"], flags, None, None
            )
        return self._connection

    def dbus_call(self, name: str, path: str, interface: str, method: str, signature: str = "",
                  args: tuple[Any, ...] = (), timeout: float = STEP_TIMEOUT) -> Any:
        """Call a D-Bus method on this desktop's session bus and return the reply's values as a tuple.

        ``NO_AUTO_START``: asking about a service must never start one as a side effect.
        """
        from gi.repository import Gio, GLib

        parameters = GLib.Variant(f"({signature})", args) if signature else None
        reply = self._bus().call_sync(name, path, interface, method, parameters, None,
                                      Gio.DBusCallFlags.NO_AUTO_START, int(timeout * 1000), None)
        return reply.unpack() if reply is not None else ()

    def dbus_property(self, name: str, path: str, interface: str, prop: str) -> Any:
        """One property of a D-Bus object, unpacked into Python values."""
        return self.dbus_call(name, path, "org.freedesktop.DBus.Properties", "Get", "ss", (interface, prop))[0]

    def sni_watcher_property(self, prop: str) -> Any:
        """A property of the watcher (``RegisteredStatusNotifierItems``, ``IsStatusNotifierHostRegistered``)."""
        return self.dbus_property(SNI_WATCHER, "/StatusNotifierWatcher", SNI_WATCHER, prop)

    def sni_items(self) -> list[str]:
        """The items the watcher has registered, as it lists them (a bus name, or a bus name + object path)."""
        return list(self.sni_watcher_property("RegisteredStatusNotifierItems"))

    def sni_item(self, item_id: str) -> tuple[str, str]:
        """(bus name, object path) of the registered StatusNotifierItem whose ``Id`` is ``item_id``.

        The watcher lists an item as its bus name alone when the item registered with a bus name
        (libayatana-appindicator does); the object path is then found by introspecting that name.
        """
        for entry in self.sni_items():
            name, _, path = entry.partition("/")
            paths = [f"/{path}"] if path else self._object_paths(name, "org.kde.StatusNotifierItem")
            for candidate in paths:
                with contextlib.suppress(Exception):
                    if self.dbus_property(name, candidate, "org.kde.StatusNotifierItem", "Id") == item_id:
                        return name, candidate
        raise LookupError(f"no StatusNotifierItem with Id {item_id!r} is registered")

    def _object_paths(self, name: str, interface: str, path: str = "/") -> list[str]:
        """Object paths under ``path`` of bus name ``name`` that implement ``interface`` (by Introspect)."""
        import xml.etree.ElementTree as ElementTree

        xml = self.dbus_call(name, path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
        root = ElementTree.fromstring(xml)
        found = [path] if any(node.get("name") == interface for node in root.findall("interface")) else []
        for child in root.findall("node"):
            sub = f"{path.rstrip('/')}/{child.get('name')}"
            found += self._object_paths(name, interface, sub)
        return found

    def sni_menu(self, item_id: str) -> list[MenuNode]:
        """The menu a StatusNotifierItem exports right now (dbusmenu ``GetLayout``), as the host would draw it.

        The item's ``Menu`` property names the menu object; nothing about pystray or Orchestray is assumed.
        """
        return self._sni_layout(item_id)[1]

    def _sni_layout(self, item_id: str) -> tuple[int, list[MenuNode]]:
        name, path = self.sni_item(item_id)
        menu_path = self.dbus_property(name, path, "org.kde.StatusNotifierItem", "Menu")
        revision, layout = self.dbus_call(name, menu_path, "com.canonical.dbusmenu", "GetLayout", "iias",
                                          (0, -1, []))
        return revision, MenuNode.from_layout(layout).children

    def sni_menu_between_updates(self, item_id: str, interval: float) -> list[MenuNode]:
        """The exported menu right after the item replaces it (its layout revision changes), or once it has not
        changed for ``interval`` (the app's poll interval) plus a margin.

        Why: the host rebuilds an open menu whenever the item exports a new layout, which drops the keyboard
        selection and closes open submenus. Right after an update, a whole poll interval is free for a click
        and the key presses.
        """
        first, menu = self._sni_layout(item_id)
        deadline = time.monotonic() + interval + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            revision, menu = self._sni_layout(item_id)
            if revision != first:
                return menu
        return menu

    def sni_pick(self, item_id: str, at: tuple[int, int], path: Sequence[str], interval: float,
                 attempts: int = 3) -> None:
        """Pick the item reached by label parts ``path`` as a person would: button 3 on the icon at ``at`` opens
        the host's menu, the keys are counted on the menu the item exports, Return activates.

        Return is only pressed if the item did not export a new menu while the keys were typed (the host
        would have rebuilt the open menu under the keyboard; a real change can come at any moment); otherwise
        the menu is closed and the pick starts again, at most ``attempts`` times.
        """
        for _ in range(attempts):
            menu = self.sni_menu_between_updates(item_id, interval)
            revision = self._sni_layout(item_id)[0]
            keys = menu_keys(menu, path)
            self.click_popup(*at, button=3)
            self.key(*keys[:-1])
            if self._sni_layout(item_id)[0] == revision:
                self.key(keys[-1])
                return
            self.close_popups(levels=len(path))
        raise AssertionError(f"the menu was re-exported during each of {attempts} attempts to pick {path}")

    # ----- waiting -------------------------------------------------------------------------------------

    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float = STEP_TIMEOUT, interval: float = 0.1) -> T:
        """Poll ``predicate`` until it returns something truthy; return that, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # noqa: BLE001 - a predicate may fail while the thing is starting
                last_error = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s (last error: {last_error!r})")
            time.sleep(interval)

    @staticmethod
    def settled(read: Callable[[], T], quiet: float = 1.5, timeout: float = 30.0, interval: float = 0.25) -> T:
        """Read ``read()`` until its value has not changed for ``quiet`` seconds; return that value.

        For counting things that arrive asynchronously (notifications): returning at the first sight of one
        would let a late duplicate pass. Raises TimeoutError if the value never holds still.
        """
        deadline = time.monotonic() + timeout
        value = read()
        since = time.monotonic()
        while True:
            time.sleep(interval)
            now = time.monotonic()
            current = read()
            if current != value:
                value, since = current, now
            elif now - since >= quiet:
                return value
            if now >= deadline:
                raise TimeoutError(f"value still changing after {timeout} s: {value!r}")

    # ----- teardown ------------------------------------------------------------------------------------

    def close(self) -> None:
        """End every process this desktop started, newest first, each by its PID.

        Direct children go first: a bus-activated service, or a helper the app under test spawned.
        """
        for proc in reversed(self._procs):
            if proc.poll() is None:
                for child in _children_of(proc.pid):
                    _kill_pid(child)
                _kill_pid(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        self._procs.clear()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close_sync(None)
            self._connection = None
        for handle in self._logs:
            handle.close()
        self._logs.clear()


def _read_line(fd: int, timeout: float, what: str) -> str:
    """Read one line from a pipe, giving up after ``timeout`` (a daemon that never reports is a failure)."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError(f"{what} did not report within {timeout} s")
        chunk = os.read(fd, 1)
        if not chunk:
            raise RuntimeError(f"{what} exited before reporting (got {data!r})")
        data += chunk
    return data.decode().strip()


def _spawn_reporting(desktop: Desktop, args: Callable[[int], list[str]], what: str) -> str:
    """Start a daemon that writes one line to a file descriptor once it is ready; return that line.

    Reading that line (under a timeout) is the readiness check: no sleeps, no polling.
    """
    read_fd, write_fd = os.pipe()
    try:
        desktop.popen(args(write_fd), pass_fds=(write_fd,), log=f"{what.lower()}.log")
        os.close(write_fd)
        write_fd = -1
        return _read_line(read_fd, STEP_TIMEOUT, what)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def _start_xvfb(desktop: Desktop, size: str) -> None:
    """Xvfb picks a free display itself and reports its number once it accepts clients."""
    number = _spawn_reporting(
        desktop,
        lambda fd: ["Xvfb", "-displayfd", str(fd), "-screen", "0", size, "-nolisten", "tcp", "-noreset"],
        "Xvfb",
    )
    desktop.display = f":{number}"
    desktop.env["DISPLAY"] = desktop.display


def _start_dbus(desktop: Desktop) -> None:
    """A private session bus, started after DISPLAY is set so the services it spawns inherit it.

    ``--nofork`` rather than ``--fork``: as our own child it is reaped by us, not left a zombie for init.
    """
    desktop.env["DBUS_SESSION_BUS_ADDRESS"] = _spawn_reporting(
        desktop,
        lambda fd: [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            f"--print-address={fd}",
            # Listen inside our runtime dir, so no socket is left in /tmp.
            f"--address=unix:path={desktop.env['XDG_RUNTIME_DIR']}/bus",
        ],
        "dbus-daemon",
    )


def _name_has_owner(desktop: Desktop, name: str) -> bool:
    """Ask the bus itself, so a missing owner is not bus-activated as a side effect."""
    out = desktop.run(
        [
            "dbus-send",
            "--session",
            "--print-reply=literal",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            f"string:{name}",
        ],
        check=False,
    )
    return out.returncode == 0 and out.stdout.split()[-1:] == ["true"]


def _start_dunst(desktop: Desktop, settings: dict[str, str] | None = None) -> None:
    """``settings`` are extra ``[global]`` lines, e.g. ``{"dmenu": "/path/pick.sh"}`` for a test that picks a
    notification's action through dunst's context menu."""
    config = desktop.workdir / "dunstrc"
    extra = "".join(f"    {key} = {value}\n" for key, value in (settings or {}).items())
    config.write_text(_DUNSTRC.replace("[global]\n", "[global]\n" + extra, 1))
    desktop.popen(["dunst", "-config", str(config)], log="dunst.log")
    desktop.wait_for(lambda: _name_has_owner(desktop, "org.freedesktop.Notifications"), STEP_TIMEOUT)


def _trayer_visible(desktop: Desktop) -> bool:
    """True once trayer's panel is mapped; it owns the tray selection before it maps the panel."""
    out = desktop.run(["xdotool", "search", "--onlyvisible", "--class", "^trayer$"], check=False)
    return out.returncode == 0 and bool(out.stdout.split())


def _start_trayer(desktop: Desktop) -> None:
    desktop.popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "32",
            "--SetDockType",
            "true",
            "--transparent",
            "false",
            "--tint",
            "0x808080",
            "--expand",
            "true",
        ],
        log="trayer.log",
    )
    desktop.wait_for(lambda: _trayer_visible(desktop), STEP_TIMEOUT)


def _sni_host_registered(desktop: Desktop) -> bool:
    return bool(desktop.sni_watcher_property("IsStatusNotifierHostRegistered"))


def _start_sni_host(desktop: Desktop) -> None:
    """A StatusNotifierItem desktop, as KDE, GNOME (AppIndicator extension) and Ubuntu have: a watcher that owns
    ``org.kde.StatusNotifierWatcher`` and a host that draws the items in a 32 px bar along the top edge.

    The host is ``gtk-sni-tray-standalone`` from Debian; it draws an item's menu itself from the item's
    exported dbusmenu, as a GTK popup under the icon (button 3 opens it, button 1 only sends ``Activate``).
    """
    desktop.popen(["status-notifier-watcher"], log="sni-watcher.log")
    desktop.wait_for(lambda: _name_has_owner(desktop, SNI_WATCHER), STEP_TIMEOUT)
    desktop.popen(["gtk-sni-tray-standalone", "--top", "--end", "-s", "32"], log="sni-host.log")
    desktop.wait_for(lambda: _sni_host_registered(desktop), STEP_TIMEOUT)


@contextlib.contextmanager
def start_desktop(
    workdir: os.PathLike[str] | str | None = None,
    size: str = "1024x768x24",
    host: str = "trayer",
    dunst_settings: dict[str, str] | None = None,
) -> Iterator[Desktop]:
    """Start Xvfb, a session bus, dunst and a tray host; yield the :class:`Desktop`; end them all by PID.

    ``host`` is ``"trayer"`` (XEmbed, as XFCE/MATE/i3 desktops have) or ``"sni"`` (StatusNotifierItem, as KDE,
    GNOME with the AppIndicator extension and Ubuntu have; see :func:`_start_sni_host`). ``dunst_settings`` are
    extra ``[global]`` lines of dunst's configuration (e.g. its ``dmenu`` program).

    ``workdir`` keeps the logs (xvfb.log, dunst.log, trayer.log, and any ``popen(log=...)``) and the XDG
    config/cache/data/state homes, so the app under test never touches the real user's files.
    Raises RuntimeError naming the missing tools if any is absent (the pytest fixture turns that into skip).
    """
    missing = missing_tools(host)
    if missing:
        raise RuntimeError(f"missing tools: {' '.join(missing)} (Debian: {debian_packages(host)})")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="orchestray-desktop-"))
        root = Path(workdir)
        root.mkdir(parents=True, exist_ok=True)
        # A short path of its own: the bus socket lives here and AF_UNIX paths are capped at 107 bytes.
        runtime = stack.enter_context(tempfile.TemporaryDirectory(prefix="ody-run-"))
        os.chmod(runtime, 0o700)
        desktop = Desktop(root)
        stack.callback(desktop.close)
        desktop.env = {key: value for key, value in os.environ.items() if key not in _SESSION_VARS}
        desktop.env.update(
            {
                "NO_AT_BRIDGE": "1",  # GTK would otherwise spawn an accessibility bus
                "GDK_BACKEND": "x11",
                "GSETTINGS_BACKEND": "memory",  # no dconf-service activated on the bus
                "XDG_RUNTIME_DIR": runtime,
                "LC_ALL": "C.UTF-8",
            }
        )
        for var, sub in XDG_HOMES.items():
            (root / sub).mkdir(exist_ok=True)
            desktop.env[var] = str(root / sub)
        _start_xvfb(desktop, size)
        _start_dbus(desktop)
        _start_dunst(desktop, dunst_settings)
        if host == "sni":
            _start_sni_host(desktop)
        elif host == "trayer":
            _start_trayer(desktop)
        else:
            raise ValueError(f"unknown tray host {host!r} (trayer or sni)")
        yield desktop
