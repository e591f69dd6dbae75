"""Once the tray has settled: its start-up objects out of the garbage collector's way, and the C heap's free pages
handed back to the system (Linux with glibc).

Everything loaded at start (modules, classes, the GUI toolkit's wrappers) lives as long as the tray, yet Python's
full collections walk it again each time; with 1,000 sessions such a walk held up a registry change on its way to
the menu by 50-150 ms. `gc.freeze()` moves what exists after start-up into a generation the collector never scans
(reference counting still frees it). Start-up peaks (the first snapshot, the hooks check, GTK building the first
menus and dropping the "Starting…" one) also leave freed memory inside glibc's heaps, which glibc keeps for later:
close to 1 MB of the tray's resident memory at rest, measured on Xvfb. `malloc_trim(0)` returns what is free.
Called once, after the first menu is up; where there is no glibc (macOS, Windows, musl) only the freeze is done.

`hand_back` is the same without the freeze, for a menu that was built as it opened and dropped once it closed
(`tray/app/gtk_menu.py`): its widgets and items are freed, and what glibc kept of them goes back to the system.
Freezing again there would also move whatever garbage happens to be alive at that moment out of the collector's
reach for good.
"""

from __future__ import annotations

import gc
import sys

from tray.core.log import get_logger

log = get_logger("tray")


def release_free_memory(platform: str = sys.platform) -> bool:
    """Collect Python's garbage, freeze what is left, trim glibc's heaps; True when memory was handed back."""
    gc.collect()
    gc.freeze()
    return _trim(platform)


def _trim(platform: str) -> bool:
    """glibc's `malloc_trim(0)`: its heaps' free pages back to the system; False where there is no glibc."""
    if not platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        trim = getattr(libc, "malloc_trim", None)
        return bool(trim(0)) if trim is not None else False
    except (OSError, AttributeError, TypeError) as error:  # not glibc
        log.debug("malloc_trim unavailable: %s", error)
        return False


def hand_back(platform: str = sys.platform) -> bool:
    """Collect Python's garbage and trim glibc's heaps (no freeze); True when memory was handed back."""
    gc.collect()
    return _trim(platform)
