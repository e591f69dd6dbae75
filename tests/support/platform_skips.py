"""Which tests cannot run on Windows or macOS because they use something that system does not have.

The suite is written on Linux and `.github/workflows/build.yml` runs it whole on windows-latest and macos-latest.
A test of FIFOs, POSIX signals, `/bin/sh`, Unix file modes or `/proc` cannot run on Windows (`os.mkfifo` does
not even exist there), and one that reads `/proc` cannot run on macOS: such a test is skipped there, saying
which facility it uses, rather than failing the whole job. The list names facilities, not tests, so a new test
that uses one is covered without being listed; one that only *reaches* such a facility through a helper still
runs and shows up in the job's first run, to be made portable or marked.

Only the test function's own source is read (``inspect``), once per test at collection, on those systems only:
on Linux nothing here is ever called.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Tuple

#: Text in a test's source -> what it stands for, per system that lacks it.
MISSING: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "win32": (
        ("os.mkfifo", "FIFOs"),
        ("os.getuid", "Unix user ids"),
        ("os.geteuid", "Unix user ids"),
        ("os.setsid", "process sessions"),
        ("os.killpg", "process groups"),
        ("os.fork", "fork"),
        ("os.openpty", "pseudo-terminals"),
        ("O_NONBLOCK", "non-blocking opens"),
        ("preexec_fn", "preexec_fn"),
        ("signal.SIGKILL", "POSIX signals"),
        ("signal.SIGSTOP", "POSIX signals"),
        ("signal.SIGCONT", "POSIX signals"),
        ("signal.SIGHUP", "POSIX signals"),
        ("signal.SIGUSR1", "POSIX signals"),
        ("signal.SIGXFSZ", "POSIX signals"),
        ("signal.SIGQUIT", "POSIX signals"),
        ("/bin/sh", "/bin/sh"),
        ("#!/", "scripts run through their #! line"),
        ("/proc/", "/proc"),
        ("S_IMODE", "Unix file modes"),
        ("st_mode & 0o", "Unix file modes"),
        (".chmod(0o", "Unix file modes"),
    ),
    "darwin": (("/proc/", "/proc"),),
}

SYSTEM_NAMES = {"win32": "Windows", "darwin": "macOS"}


def missing_facility(function: Any, platform: str) -> Optional[str]:
    """The skip reason for test ``function`` on ``platform``, or None when it can run there."""
    facilities = MISSING.get(platform)
    if not facilities or function is None:
        return None
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return None
    for text, what in facilities:
        if text in source:
            return f"uses {what} ({text}), which {SYSTEM_NAMES.get(platform, platform)} does not have"
    return None
