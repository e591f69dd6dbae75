"""A child process's stdout as lines, read on a thread, with waits that have deadlines (the desktop tests read
tests/support/menu_probe.py this way)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, List, Tuple

MENU_PROBE = Path(__file__).resolve().parent / "menu_probe.py"


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


def start_menu_probe(desktop: Any, registry_dir: str, tmp_path: Path) -> Tuple[subprocess.Popen, Lines]:
    """The tray's controller and view as `orchestray tray` wires them (menu_probe.py) on `desktop`, over
    `registry_dir`, with its own config, log and state folders under `tmp_path`; and its stdout as Lines."""
    env = {"PYTHONPATH": str(MENU_PROBE.parents[2]), "ORCHESTRAY_CONFIG_DIR": str(tmp_path / "config"),
           "ORCHESTRAY_LOG_DIR": str(tmp_path / "log"), "ORCHESTRAY_STATE_DIR": str(tmp_path / "state")}
    probe = desktop.popen([sys.executable, str(MENU_PROBE), registry_dir], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    return probe, Lines(probe.stdout)
