"""What the Linux tray's start-up question costs: "is a StatusNotifierWatcher with a host on the session bus?"

    python bench/tray_backend.py [--rounds 200]

One private dbus-daemon (and, if installed, a real status-notifier-watcher) is started, and two things are
timed with bench/timing.py's interleaved loop (round after round in a shuffled order, the first rounds thrown
away as warm-up), medians reported; a third is shown:

- ``probe``: ``tray.platform.tray_backend.probe_session_bus`` as the tray calls it (open a private connection,
  NameHasOwner, the watcher's IsStatusNotifierHostRegistered, close);
- ``floor``: the least any D-Bus question can cost: open a private connection, one ``Peer.Ping`` to the bus
  daemon, close;
- ``import Gio`` is shown once, for information: both GTK backends of pystray import it anyway.

Every process started here is ended by its PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from timing import interleaved  # noqa: E402  (this script's folder is on sys.path when it runs)

t0 = time.perf_counter()
from gi.repository import Gio  # noqa: E402

IMPORT_GIO_MS = (time.perf_counter() - t0) * 1000

from tray.platform import tray_backend  # noqa: E402


def floor(address: str) -> None:
    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    connection = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    connection.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Peer", "Ping",
                         None, None, Gio.DBusCallFlags.NONE, 500, None)
    connection.close_sync(None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    started: List[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="ody-bench-bus-") as folder:
        try:
            daemon = subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
                 f"--address=unix:path={folder}/bus"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            started.append(daemon)
            assert daemon.stdout is not None
            address = daemon.stdout.readline().strip()
            watcher = "no watcher"
            if shutil.which("status-notifier-watcher"):
                started.append(subprocess.Popen(["status-notifier-watcher"], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL,
                                                env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)))
                deadline = time.monotonic() + 10
                while tray_backend.probe_session_bus(address)[0] is tray_backend.Host.NO_WATCHER:
                    if time.monotonic() > deadline:
                        raise TimeoutError("status-notifier-watcher did not claim its name within 10 s")
                    time.sleep(0.05)
                watcher = "a real status-notifier-watcher, no host"
            answer = tray_backend.probe_session_bus(address)
            tasks: Dict[str, Callable[[], object]] = {
                "probe": lambda: tray_backend.probe_session_bus(address),
                "floor": lambda: floor(address),
            }
            times = interleaved(tasks, args.rounds, seed=20261201)
        finally:
            for process in reversed(started):
                process.kill()
                process.wait(timeout=10)
    probe_ms = statistics.median(times["probe"]) * 1000
    floor_ms = statistics.median(times["floor"]) * 1000
    print(f"bus: {watcher}; answer: {answer[0].name}")
    print(f"probe {probe_ms:.2f} ms, floor (connect + Ping + close) {floor_ms:.2f} ms: "
          f"{probe_ms / floor_ms:.2f}x floor; import Gio {IMPORT_GIO_MS:.0f} ms (paid by pystray's GTK backends too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
