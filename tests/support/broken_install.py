"""A throw-away install of Orchestray that a test may break the ways users do.

:class:`ThrowAwayInstall` makes a virtualenv of its own (``python -m venv --without-pip``) and puts a copy of the
``tray`` package and of its run-time dependencies into its ``site-packages``, as ``pip install`` would. Hooks
installed from it (``python -c <bootstrap> <its site-packages> hook EVENT``) point at that interpreter and that
folder only, never at the repository, so a test can then:

* ``uninstall_package()``: remove ``tray`` from ``site-packages``, what ``pip uninstall`` does to the files;
* ``break_import()``: leave the package but make one of its modules fail to import (a half-done upgrade);
* ``remove_interpreter()``: delete the virtualenv's interpreter (a deleted or moved venv).

Why a copy rather than ``pip install .``: CI and this machine may have no package index, and what matters to
Claude Code is only which files the hook command finds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
#: What the hook path imports from outside the package.
DEPENDENCIES = ("psutil", "platformdirs")


class ThrowAwayInstall:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)], check=True, timeout=300,
                       capture_output=True)
        self.python = str(self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        done = subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, timeout=120, capture_output=True, text=True)
        self.site = Path(done.stdout.strip())
        shutil.copytree(REPO / "tray", self.site / "tray", ignore=shutil.ignore_patterns("__pycache__"))
        here = Path(sysconfig.get_paths()["purelib"])
        for name in DEPENDENCIES:
            module = __import__(name)
            source = Path(module.__file__).parent if module.__file__ else here / name
            shutil.copytree(source, self.site / name, ignore=shutil.ignore_patterns("__pycache__"))

    @property
    def prefix(self) -> List[str]:
        """The hook command's words before ``hook EVENT``, as ``hooks install`` run from this install writes."""
        from tray.platform.launch import HOOK_BOOTSTRAP

        return [self.python, "-c", HOOK_BOOTSTRAP, str(self.site)]

    def run(self, *args: str, env: Optional[Dict[str, str]] = None, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run this install's `python -m tray ARGS` (its own `orchestray`)."""
        return subprocess.run([self.python, "-m", "tray", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False, stdin=subprocess.DEVNULL, cwd=str(self.root), **kwargs)

    def uninstall_package(self) -> None:
        self._remove(self.site / "tray")

    def break_import(self) -> None:
        (self.site / "tray" / "hooks" / "handlers.py").write_text("raise ImportError('half-upgraded')\n")

    def remove_interpreter(self) -> None:
        self._remove(self.venv)

    def _remove(self, path: Path) -> None:
        """Gone in one step, as after `pip uninstall`: moved aside by one rename, then deleted. A hook still
        running from it (the client's last Stop hook) may write its __pycache__ there meanwhile, which made a
        plain rmtree fail with "Directory not empty"; what it writes into the moved folder does not matter."""
        aside = self.root / f"removed-{path.name}-{len(list(self.root.glob('removed-*')))}"
        os.rename(path, aside)
        shutil.rmtree(aside, ignore_errors=True)
