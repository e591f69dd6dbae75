"""A real, private X desktop for tests: Xvfb + session D-Bus + dunst + trayer, driven with xdotool.

Why: the tray is only proven when a person could use it, i.e. an icon appears in a real tray host, a click
opens a real menu, an item does its job, and a notification reaches a real notification daemon. Mocks prove
none of that. This module builds such a desktop for one test and tears every process of it down by PID.

Start order matters (see shared/notes/linux-desktop.md): X server first, then the session bus *after*
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

#: Seconds any single step (start a daemon, run one xdotool command) may take.
STEP_TIMEOUT = 10.0

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


def missing_tools() -> list[str]:
    """Names of REQUIRED_TOOLS not found on PATH."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


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

    def visible_windows(self) -> set[str]:
        """IDs of every mapped window (menus are unnamed override-redirect windows, so match any name)."""
        out = self.run(["xdotool", "search", "--onlyvisible", "--name", ""], check=False)
        return set(out.stdout.split())

    def click_popup(self, x: int, y: int, button: int = 1, timeout: float = 5.0) -> Geometry:
        """Click at (x, y) and wait for a popup (a menu) to be mapped; return the largest new window.

        Why: keys sent before the menu has grabbed the keyboard go to nowhere, so wait for it first.
        """
        before = self.visible_windows()
        self.click(x, y, button)

        def popup() -> Geometry | None:
            new = [self.geometry(w) for w in self.visible_windows() - before]
            new = [g for g in new if g.width > 10 and g.height > 10]
            return max(new, key=lambda g: g.width * g.height) if new else None

        found = self.wait_for(popup, timeout)
        time.sleep(0.2)  # the menu grabs pointer and keyboard right after it is mapped
        return found

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

    def capture_open_menu(self, path: os.PathLike[str] | str, levels: int = 2) -> Path:
        """Screenshot an open menu (after it has settled), check it is a real picture, then close it."""
        time.sleep(0.5)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.screenshot(target)
        if target.stat().st_size <= 5000:
            raise AssertionError(f"{target} is too small to show a menu")
        self.key(*["Escape"] * levels)
        time.sleep(0.3)
        return target

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


def _start_dunst(desktop: Desktop) -> None:
    config = desktop.workdir / "dunstrc"
    config.write_text(_DUNSTRC)
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


@contextlib.contextmanager
def start_desktop(workdir: os.PathLike[str] | str | None = None, size: str = "1024x768x24") -> Iterator[Desktop]:
    """Start Xvfb, a session bus, dunst and trayer; yield the :class:`Desktop`; end them all by PID.

    ``workdir`` keeps the logs (xvfb.log, dunst.log, trayer.log, and any ``popen(log=...)``) and the XDG
    config/cache/data/state homes, so the app under test never touches the real user's files.
    Raises RuntimeError naming the missing tools if any is absent (the pytest fixture turns that into skip).
    """
    missing = missing_tools()
    if missing:
        raise RuntimeError(f"missing tools: {' '.join(missing)} (Debian: {DEBIAN_PACKAGES})")
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
        _start_dunst(desktop)
        _start_trayer(desktop)
        yield desktop
