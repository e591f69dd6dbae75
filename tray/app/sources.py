"""The tray's other sources (SSH hosts, WSL distributions, containers): one poll thread each, and their actions.

Each source is read on its own thread, with a deadline per run and a back-off while it fails, so a slow or
unreachable source never delays the local registry or another source: the controller only ever reads the
last state a poller left (`SourceState`), and a poller wakes the controller when that state changes.

Each source is followed through one long-lived `orchestray watch --json` over there (a line per change, a
heartbeat line while nothing changes) rather than one `status --json` call per poll: see docs/decisions.md for
the numbers. A stream that ends or stalls makes the source unreachable until a new one answers; an Orchestray
over there without `watch` is read with one call per poll instead. Actions and the read right after an action
are single calls.

Actions (promote, clean, vacate, HANDOVER.md) run the same remote Orchestray commands over the same transport,
as argument lists built in `tray/core/sources.py` from checked values.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Dict, List, Optional, Sequence

from tray.core import sources as spec
from tray.core.actions import ActionRefused
from tray.core.fsutil import atomic_write_bytes
from tray.core.log import get_logger
from tray.core.remote import MAX_ANSWER_BYTES, BadAnswer, parse_status
from tray.core.snapshot import Snapshot
from tray.core.sources import Source, SourceKind
from tray.platform import transport
from tray.platform.transport import Result

log = get_logger("tray")

#: Runs a remote argument list on a source: (source, words, timeout, cancel) -> Result; `transport.run` in the tray.
Runner = Callable[[Source, Sequence[str], float, Optional[threading.Event]], Result]
BACKOFF_CAP = 60.0  # seconds between tries of a source that keeps failing, at most
HANDOVER_LIMIT = 1024 * 1024
MAX_LINE = MAX_ANSWER_BYTES
HEARTBEAT = b'{"heartbeat": true}'


def default_runner(source: Source, remote: Sequence[str], timeout: float,
                   cancel: Optional[threading.Event] = None) -> Result:
    return transport.run(source, remote, timeout, cancel=cancel)


class Backoff:
    """How long to wait before the next poll: the interval while all is well; after a failure the interval
    once more (a blip recovers at the next poll), then twice as long each time, up to `cap`."""

    def __init__(self, interval: float, cap: float = BACKOFF_CAP) -> None:
        self.interval = interval
        self.cap = max(cap, interval)
        self.failures = 0

    def success(self) -> None:
        self.failures = 0

    def failure(self) -> None:
        self.failures += 1

    def delay(self) -> float:
        if self.failures <= 1:
            return self.interval
        return min(self.cap, self.interval * 2.0 ** min(self.failures - 1, 30))


@dataclass(frozen=True)
class SourceState:
    source: Source
    snapshot: Optional[Snapshot] = None  # the last answer, while the source answers; None otherwise
    error: str = ""  # why the last poll failed ("" when it worked)
    polled: bool = False  # a poll has finished at least once

    @property
    def line(self) -> str:
        """The source's one menu line: `devbox: unreachable — Connection refused`, `devbox: no sessions`."""
        name = self.source.name
        if self.error:
            return f"⚠ {name}: {self.error}"
        if not self.polled:
            return f"{name}: connecting…"
        if self.snapshot is not None and not self.snapshot.projects:
            return f"{name}: no sessions"
        return ""


class SourcePoller:
    """Polls one source on its own thread: `orchestray status --json` there, at most `timeout` seconds a run."""

    def __init__(self, source: Source, interval: float, on_change: Callable[[], None],
                 runner: Runner = default_runner, timeout: float = transport.DEFAULT_TIMEOUT,
                 stream: bool = True) -> None:
        self.source = source
        self.on_change = on_change
        self.runner = runner
        self.timeout = timeout
        self.backoff = Backoff(interval)
        self._state = SourceState(source)
        self._last_good: Optional[Snapshot] = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: Follow `watch --json` over there (one long-lived process); False: one `status --json` call per poll.
        self.stream = stream

    @property
    def state(self) -> SourceState:
        with self._lock:
            return self._state

    @property
    def last_good(self) -> Optional[Snapshot]:
        """The last snapshot the source gave, kept while it is unreachable: what changed over there meanwhile is
        told when it is back (a death as a death), and a flapping connection does not repeat old notices."""
        with self._lock:
            return self._last_good

    def poll_now(self) -> SourceState:
        """One `status --json` call (on the caller's thread); the new state."""
        result = self.runner(self.source, spec.status_args(self.source), self.timeout, self._stop)
        if self._stop.is_set():
            return self.state  # quitting: the run was cut short, nothing to tell
        if not result.ok:
            return self._update(None, transport.failure(self.source, result), result.err)
        try:
            return self._update(parse_status(self.source, result.out), "", b"")
        except BadAnswer as bad:
            return self._update(None, f"unusable answer: {bad}", b"")

    def _update(self, snapshot: Optional[Snapshot], error: str, said: bytes) -> SourceState:
        """Keep the new state; log a change of error once; wake the controller when what it shows changed."""
        if error:
            self.backoff.failure()
        else:
            self.backoff.success()
        new = SourceState(self.source, snapshot, error, True)
        with self._lock:
            old, self._state = self._state, new
            if snapshot is not None:
                self._last_good = snapshot
        if old.error != new.error:
            if new.error:
                log.warning("source %s: %s (stderr: %s)", self.source.spec, new.error, transport.last_line(said))
            elif old.polled:
                log.info("source %s answers again", self.source.spec)
        if (old.error, old.polled, old.snapshot) != (new.error, new.polled, new.snapshot):
            self.on_change()
        return new

    def follow(self) -> None:
        """Read `orchestray watch --json` there until it ends: each line a new state. Returns when the stream
        failed (its state says why), stalled (no line, not even a heartbeat, for `stall` seconds) or the poller
        stops; an Orchestray over there too old for `watch` turns this poller back to one call per poll."""
        heartbeat = self.backoff.interval
        stall = 3 * heartbeat + transport.CONNECT_TIMEOUT
        process = transport.start(self.source, spec.watch_args(self.source, heartbeat))
        if isinstance(process, str):
            self._update(None, process, b"")
            return
        assert process.stdout is not None and process.stderr is not None
        errors = bytearray()
        lines: queue.Queue[bytes] = queue.Queue()
        readers = [
            threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True),
            threading.Thread(target=transport.drain, args=(process.stderr, transport.ERROR_LIMIT, errors,
                                                           threading.Event()), daemon=True),
        ]
        for reader in readers:
            reader.start()
        error = ""
        try:
            error = self._read_stream(lines, stall)
        finally:
            if error or self._stop.is_set():
                transport.kill(process)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                transport.kill(process)
                process.wait(5)
            for reader in readers:
                reader.join(2)
            process.stdout.close()
            process.stderr.close()
        if self._stop.is_set():
            return
        said = bytes(errors)
        if not error and process.returncode == 2 and b"invalid choice" in said:
            log.info("source %s: its Orchestray has no `watch`; reading it with one call per poll", self.source.spec)
            self.stream = False
            return
        if not error:
            result = transport.Result(process.returncode, b"", said)
            error = transport.failure(self.source, result) if process.returncode else "the watch ended"
        self._update(None, error, said)

    def _read_stream(self, lines: queue.Queue[bytes], stall: float) -> str:
        """Take the stream's lines until it ends (""), or the error that ends it. The first line may take as long
        as a single call may (a Python starting over there on a loaded machine); later ones `stall` at most."""
        last = time.monotonic()
        allowed = max(stall, self.timeout)
        while not self._stop.is_set():
            try:
                line = lines.get(timeout=0.25)
            except queue.Empty:
                if time.monotonic() - last > allowed:
                    return f"unreachable — no answer within {allowed:g} s"
                continue
            if not line:
                return ""
            if not line.endswith(b"\n"):
                return f"unusable answer: a line longer than {MAX_LINE // (1024 * 1024)} MB"
            last, allowed = time.monotonic(), stall
            if line.strip() == HEARTBEAT:
                continue
            try:
                self._update(parse_status(self.source, line), "", b"")
            except BadAnswer as bad:
                return f"unusable answer: {bad}"
        return ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"orchestray-source-{self.source.spec}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.stream:
                    self.follow()
                else:
                    self.poll_now()
            except Exception:  # noqa: BLE001 - a poller never dies; the log has the detail
                log.exception("source %s: poll failed", self.source.spec)
                self.backoff.failure()
            self._wake.wait(self.backoff.delay())
            self._wake.clear()

    def poke(self) -> None:
        """Poll again now (Refresh now, or after an action)."""
        self._wake.set()

    def stop(self) -> None:
        """End the thread, and the run in flight if there is one (its process is killed, not left behind)."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def _read_lines(stream: IO[bytes], into: queue.Queue[bytes]) -> None:
    """Hand each line of `stream` over (b"" at its end); a line past MAX_LINE is handed over cut, and ends it."""
    while True:
        line = stream.readline(MAX_LINE + 1)
        into.put(line)
        if not line or not line.endswith(b"\n"):
            if line:
                into.put(b"")
            return


# --- actions over the transport ------------------------------------------------------------------------


def run_action(source: Source, remote: Sequence[str], runner: Runner = default_runner,
               timeout: float = transport.DEFAULT_TIMEOUT) -> str:
    """Run one Orchestray command there; its output, or ActionRefused with the one line it (or the transport)
    said, named after the source."""
    result = runner(source, remote, timeout, None)
    if result.ok:
        return transport.decode(result.out)
    said = transport.last_line(result.err)
    if result.code in (1, 2) and said.startswith("orchestray:"):  # Orchestray's own refusal or bad input
        raise ActionRefused(f"{source.name}: {said[len('orchestray:'):].strip()}")
    raise ActionRefused(f"{source.name}: {transport.failure(source, result)}")


def promote(source: Source, session_id: str, force: bool, runner: Runner = default_runner) -> str:
    return run_action(source, spec.promote_args(source, session_id, force), runner)


def vacate(source: Source, session_id: str, runner: Runner = default_runner) -> str:
    return run_action(source, spec.vacate_args(source, session_id), runner)


def clean(source: Source, runner: Runner = default_runner) -> str:
    return run_action(source, spec.clean_args(source), runner)


def wsl_path(distro: str, path: str) -> str:
    """A path inside a WSL distribution as Windows opens it: `\\\\wsl$\\Ubuntu\\home\\me\\HANDOVER.md`."""
    return "\\\\wsl$\\" + distro + path.replace("/", "\\")


def handover_to_open(source: Source, root: str, copies: str, runner: Runner = default_runner) -> str:
    """The path to open for a remote project's HANDOVER.md.

    WSL: the file itself, through `\\\\wsl$` (Windows reads the distribution's files). SSH and docker: its
    text, fetched with the remote `orchestray handover --print` and written to a read-only copy under
    `copies`: the user reads it at once, and nobody edits a copy believing it is the file."""
    if source.kind == SourceKind.WSL:
        where = run_action(source, spec.handover_args(source, root, text=False), runner).strip()
        path = where.splitlines()[-1] if where else ""
        # What we open is what the other side named: only a HANDOVER.md, by a plain absolute path.
        if not path.startswith("/") or not path.endswith("/HANDOVER.md") or "/../" in path or "\\" in path:
            raise ActionRefused(f"{source.name}: unusable answer for HANDOVER.md: {path[:80]!r}")
        return wsl_path(source.target, spec.check_remote_path(path))
    text = run_action(source, spec.handover_args(source, root, text=True), runner)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{source.spec}-{os.path.basename(root.rstrip('/'))}")[:100]
    os.makedirs(copies, mode=0o700, exist_ok=True)
    path = os.path.join(copies, f"{name}-HANDOVER.md")
    if os.path.exists(path):
        os.chmod(path, 0o600)  # our own read-only copy, replaced with the newer one
    header = f"<!-- A read-only copy of HANDOVER.md on {source.name} ({root}); edit it there. -->\n\n"
    atomic_write_bytes(path, header.encode("utf-8") + text.encode("utf-8")[:HANDOVER_LIMIT])
    os.chmod(path, 0o400)
    return path


def pollers_for(sources: List[Source], interval: float, on_change: Callable[[], None],
                runner: Runner = default_runner) -> Dict[str, SourcePoller]:
    return {source.spec: SourcePoller(source, interval, on_change, runner) for source in sources}
