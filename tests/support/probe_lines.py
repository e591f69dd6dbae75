"""A child process's stdout as lines, read on a thread, with waits that have deadlines (the desktop tests read
tests/support/menu_probe.py this way)."""

from __future__ import annotations

import threading
import time
from typing import IO, Callable, List


class Lines:
    def __init__(self, stream: IO[str]) -> None:
        self.lines: List[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for raw in stream:
            with self.cond:
                self.lines.append(raw.rstrip("\n"))
                self.cond.notify_all()

    def mark(self) -> int:
        """Where the lines said from now on start (for `wait(..., start=)` and `since`)."""
        with self.cond:
            return len(self.lines)

    def since(self, start: int, prefix: str) -> List[str]:
        with self.cond:
            return [line for line in self.lines[start:] if line.startswith(prefix)]

    def wait(self, predicate: Callable[[str], bool], timeout: float = 30.0, start: int = 0) -> str:
        """The first line from `start` on for which `predicate` holds, waiting for it at most `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such line within {timeout} s; the child said {self.lines[-10:]}")
                self.cond.wait(left)
