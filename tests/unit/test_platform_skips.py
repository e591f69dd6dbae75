"""tests/support/platform_skips.py: what the whole suite skips on Windows and macOS (build.yml runs it there).

The samples below stand for the suite's own tests (test modules never import each other): the classifier reads
a test function's source, so a sample is a function written the way those tests are.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from platform_skips import missing_facility


def fifo_test(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "settings.json")


def mode_test(tmp_path: Path) -> None:
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600


def shell_test(tmp_path: Path) -> None:
    subprocess.run(["/bin/sh", "-c", "exit 0"], check=True)


def proc_test(pid: int) -> None:
    assert Path(f"/proc/{pid}/status").exists()


def portable_test(tmp_path: Path) -> None:
    """Spawns Python itself, compares paths: runs on every system."""
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert os.path.join(str(tmp_path), "x").endswith("x")


@pytest.mark.parametrize(("function", "facility"), [
    (fifo_test, "os.mkfifo"), (mode_test, "S_IMODE"), (shell_test, "/bin/sh"), (proc_test, "/proc/"),
])
def test_posix_only_tests_are_skipped_on_windows_saying_why(function, facility: str) -> None:  # type: ignore[no-untyped-def]
    why = missing_facility(function, "win32")
    assert why is not None and facility in why and why.endswith("which Windows does not have")
    assert missing_facility(function, "linux") is None  # never on Linux, where the CI runs everything


def test_macos_skips_only_what_it_lacks() -> None:
    assert "/proc" in (missing_facility(proc_test, "darwin") or "")
    for function in (fifo_test, mode_test, shell_test, portable_test):  # macOS has FIFOs, modes and /bin/sh
        assert missing_facility(function, "darwin") is None


def test_portable_tests_run_everywhere() -> None:
    for platform in ("win32", "darwin", "linux"):
        assert missing_facility(portable_test, platform) is None
