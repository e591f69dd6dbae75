"""`orchestray watch`: the registry's status, printed again each time it changes, until the reader goes away.

Why it exists: the tray reads another machine (SSH, WSL, a container) through one long-lived
`ssh HOST orchestray watch --json` instead of one `status --json` call per poll: a call costs an ssh handshake and
a Python start over there every few seconds, a watch costs nothing while nothing changes, and a change reaches
the tray at once instead of at the next poll (numbers in docs/decisions.md).

`--json` prints one line per change: the same object as `status --json`, on one line; and, when nothing
changed for `--heartbeat` seconds, `{"heartbeat": true}`, so the reader can tell a quiet host from a hung one,
and so this process learns that its reader is gone (the write fails) and ends by itself even where closing the
connection does not kill it (`docker exec`). Without `--json` it prints `orchestray check`'s text per change.
It wakes on the registry's changes and its sessions' deaths where the platform's change watcher runs
(`tray/platform/watch.py`; a registry folder not created yet included: its creation is watched for), else
every `POLL_SECONDS`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import BinaryIO, Callable, Optional

from tray.core.liveness import LivenessProbe
from tray.core.projects import ProjectResolver
from tray.core.registry import Registry
from tray.core.snapshot import Snapshot, build_snapshot

HEARTBEAT_SECONDS = 10.0
HEARTBEAT_LINE = b'{"heartbeat": true}\n'
POLL_SECONDS = 2.0  # without a change watcher


def render(snapshot: Snapshot, as_json: bool) -> bytes:
    if as_json:  # ASCII: one line whatever the names hold, in whatever encoding the pipe has
        return json.dumps(snapshot.status_json(), ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
    from tray.summary import render_summary

    return (render_summary(snapshot) + "\n").encode("utf-8", "backslashreplace")


def run(registry: Registry, out: BinaryIO, as_json: bool = True, heartbeat: float = HEARTBEAT_SECONDS,
        stop: Optional[threading.Event] = None, clock: Callable[[], float] = time.monotonic) -> int:
    """Print until the reader goes away (or `stop` is set); 0 then."""
    from tray.platform.watch import for_platform

    wake = threading.Event()
    stop = stop or threading.Event()
    watcher = for_platform(registry.directory)
    failed = threading.Event()

    def changed(reason: str) -> None:
        if reason == "watch-failed":
            failed.set()  # back to polling
        wake.set()

    # A registry folder that does not exist yet is waited for by the watcher (on the nearest folder that does).
    watching = watcher is not None and watcher.start(changed)
    resolver = ProjectResolver()
    last: Optional[bytes] = None
    said_at = clock()
    try:
        while not stop.is_set():
            watching = watching and not failed.is_set()
            known = watcher.known_alive() if watching and watcher is not None else None
            snapshot = build_snapshot(registry, resolver, LivenessProbe(known=known))
            text = render(snapshot, as_json)
            now = clock()
            if text != last:
                out.write(text)
                out.flush()
                last, said_at = text, now
            elif as_json and now - said_at >= heartbeat:
                out.write(HEARTBEAT_LINE)
                out.flush()
                said_at = now
            if watching and watcher is not None:
                watcher.watch_pids(s.entry.pid for v in snapshot.projects for s in v.live)
                wait = heartbeat - (clock() - said_at)
            else:
                wait = min(POLL_SECONDS, heartbeat - (clock() - said_at))
            wake.wait(max(0.05, wait))
            wake.clear()
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the reader is gone: the tray quit, or the connection dropped
    finally:
        if watcher is not None:
            watcher.close()
    return 0
