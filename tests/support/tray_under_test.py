"""The real Orchestray tray and CLI under test on a desktop: the command that runs them, their environment, and
the menu as a person counts it.

Shared by the desktop tests (tests/desktop) and the frozen app's runs of the same scenarios
(tests/e2e/test_frozen.py): ``ORCHESTRAY_TRAY_CMD`` points every one of them at a frozen build instead of
this Python's ``-m tray``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from desktop import MenuNode

from tray.app import menu as m
from tray.core import projectfiles
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot

REPO = Path(__file__).resolve().parents[2]
#: The `orchestray` command under test, as a shell-quoted string: a frozen build runs the desktop tests with
#: ORCHESTRAY_TRAY_CMD=dist/orchestray/orchestray (see tests/e2e/test_frozen.py). Default: this Python's `-m tray`.
TRAY_CMD_ENV = "ORCHESTRAY_TRAY_CMD"
#: The tray's poll interval on a StatusNotifierItem desktop. Each poll that changes a label (a session's age ticks
#: every second) makes the item export a new menu, and the host then rebuilds an open menu; clicks are timed
#: right after an update.
POLL = 2.0


def tray_command() -> List[str]:
    """The argv prefix that runs `orchestray` (read at call time, so a test can point it at a frozen build)."""
    configured = os.environ.get(TRAY_CMD_ENV, "").strip()
    return shlex.split(configured) if configured else [sys.executable, "-m", "tray"]


def cli(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`orchestray ARGS` under ``env``, its output captured."""
    return subprocess.run([*tray_command(), *args], env=env, capture_output=True, text=True, timeout=30)


def make_repo(path: Path) -> Path:
    """A new git repository at ``path``: a project as the tray finds it."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def tray_env(desktop: Any, root: Path, registry_dir: str, config_dir: Optional[Path] = None) -> Dict[str, str]:
    """The environment of a tray under test: this desktop, private Orchestray folders, no PYSTRAY_BACKEND."""
    env = dict(os.environ)
    env.update(desktop.env)
    env.pop("PYSTRAY_BACKEND", None)  # the tray picks the backend that fits the desktop by itself
    env.update({
        "PYTHONPATH": str(REPO),
        "ORCHESTRAY_REGISTRY_DIR": registry_dir,
        "ORCHESTRAY_LOG_DIR": str(root / "log"),
        "ORCHESTRAY_CONFIG_DIR": str(config_dir or root / "config"),
        "ORCHESTRAY_STATE_DIR": str(root / "state"),
    })
    return env


# --- the menu: as Orchestray renders it (XEmbed hosts export nothing to read), and as an SNI host shows it -------


def _find_file(root: str, name: str) -> Optional[str]:
    path = os.path.join(root, name)
    return path if os.path.isfile(path) and not os.path.islink(path) else None


def current_menu(registry_dir: str) -> Tuple[m.MenuItem, ...]:
    """The menu Orchestray renders for the registry now (what an XEmbed tray shows; nothing exports it)."""
    snapshot = build_snapshot(Registry(registry_dir))
    return m.build_menu(snapshot, m.MenuSettings(notifications=True, autostart=False), _find_file,
                        files=projectfiles.gather(snapshot))


def selectable(items: Sequence[m.MenuItem]) -> List[m.MenuItem]:
    """The items keyboard navigation stops at: GTK skips separators and insensitive items."""
    return [item for item in items if not item.separator and item.enabled]


def keys_for(menu: Sequence[m.MenuItem], path: Sequence[str]) -> List[str]:
    """Key presses that activate the item reached by label prefixes `path` from a freshly opened menu."""
    keys: List[str] = []
    items = menu
    for depth, prefix in enumerate(path):
        stops = selectable(items)
        index = next(i for i, item in enumerate(stops) if item.text.startswith(prefix))
        # A just-opened menu has nothing selected (Down selects the first stop); an opened submenu starts on
        # its first stop.
        keys += ["Down"] * (index + 1 if depth == 0 else index)
        item = stops[index]
        if depth < len(path) - 1:
            keys.append("Right")
            items = item.children
    keys.append("Return")
    return keys


def project(menu: List[MenuNode], name: str) -> Optional[MenuNode]:
    """The exported submenu of project ``name`` (a top-level item with children whose label names it)."""
    return next((item for item in menu if item.children and name in item.label), None)
