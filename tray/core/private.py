"""User-only modes, and a folder created user-only whoever gets there first.

A module of its own, importing nothing of ours, because both the file helpers (`fsutil`) and the log
(`log`) need it, and `fsutil` logs its one-time warnings through `log`: with these here, neither imports the
other in a circle.
"""

from __future__ import annotations

import os

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_private_dir(path: str) -> None:
    """Create `path` (and missing parents) with the folder itself user-only, whoever gets here first.

    An existing folder is left as it is: its modes are the user's choice (see `loose_mode_warning`).
    """
    try:
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            return
