"""Reading a hook's stdin: all of it, never waiting for an end of input that does not come.

Claude Code writes the hook's JSON at once and closes stdin, but has been seen to leave it open; waiting for the
end would stall every prompt until the hook's timeout. So reading stops STDIN_DEADLINE_SECONDS after it started:
on POSIX with ``select``, on Windows (whose pipes cannot be selected) in a daemon thread joined with that timeout.
Only the first MAX_STDIN_BYTES are kept, the rest is read and dropped (a hook that exits with unread input makes
Claude Code's write fail with EPIPE).

Imports only ``os`` at load time: the prompt hook loads this module on every prompt.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the prompt hook counts milliseconds
if TYPE_CHECKING:
    from typing import IO, Any, Optional

MAX_STDIN_BYTES = 1024 * 1024
STDIN_DEADLINE_SECONDS = 2.0


def read_stdin(stream: IO[str], posix: Optional[bool] = None) -> str:
    """All of stdin (Claude Code writes the JSON and closes it); nothing from a terminal.

    Only the first MAX_STDIN_BYTES are kept, but the rest is read and dropped: a hook that exits before it
    has read all of its stdin makes Claude Code's write fail with EPIPE (a huge pasted prompt). The bytes are
    decoded as UTF-8 (what Claude Code writes) whatever the locale, bad bytes replaced rather than fatal.
    Both ways of reading stop at STDIN_DEADLINE_SECONDS: `select` on POSIX, a reader thread elsewhere
    (Windows pipes cannot be selected); ``posix`` picks one (default: this system's).
    """
    try:
        if stream.isatty():
            return ""
        source = getattr(stream, "buffer", stream)  # the bytes under sys.stdin; a plain text stream as is
        if posix is None:
            posix = os.name == "posix"
        data: Any
        if posix and hasattr(source, "fileno") and isinstance(source.read(0), bytes):
            data = _read_with_deadline(source.fileno(), STDIN_DEADLINE_SECONDS)
        else:
            data = _read_in_thread(source, STDIN_DEADLINE_SECONDS)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    except (OSError, ValueError):
        return ""


def _read_in_thread(source, deadline: float):
    """Read `source` to its end in a daemon thread, waiting at most `deadline` seconds for it.

    Windows has no `select` for pipes, and a stdin left open would otherwise hold the hook until Claude Code's
    timeout. What arrived by the deadline is used; the thread, blocked in `read`, dies with the process.
    """
    import threading

    chunks: list = []
    kept = [0]
    read = getattr(source, "read1", None) or source.read  # read1: what a pipe has now, not a full 64 KiB

    def pump() -> None:
        try:
            while True:
                chunk = read(64 * 1024)
                if not chunk:
                    return
                if kept[0] < MAX_STDIN_BYTES:
                    chunks.append(chunk[: MAX_STDIN_BYTES - kept[0]])
                    kept[0] += len(chunks[-1])
        except (OSError, ValueError):
            return

    reader = threading.Thread(target=pump, name="hook-stdin", daemon=True)
    reader.start()
    reader.join(deadline)
    empty = b"" if not chunks or isinstance(chunks[0], bytes) else ""
    return empty.join(chunks)


def _read_with_deadline(fd: int, deadline: float) -> bytes:
    """Read until end of input, or until `deadline` seconds have passed with input still open.

    Claude Code writes the JSON at once, but has been seen to leave a hook's stdin open; waiting for an end
    that never comes would stall every prompt until the hook's timeout. Past MAX_STDIN_BYTES the rest is read
    and dropped, so Claude Code's write never fails with EPIPE.
    """
    import select
    import time

    chunks = []
    kept = 0
    end = time.monotonic() + deadline
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 64 * 1024)
        if not chunk:
            break
        if kept < MAX_STDIN_BYTES:
            chunks.append(chunk[: MAX_STDIN_BYTES - kept])
            kept += len(chunks[-1])
    return b"".join(chunks)
