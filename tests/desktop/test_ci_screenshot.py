"""`packaging/ci_checks.py screenshot`, the step that shows the tray in the Windows and macOS CI, on a real desktop.

The check starts the tray, waits for its log to say it started, grabs the screen with Pillow and ends the tray by
PID; here the screen is a real Xvfb desktop with a tray host (trayer), so the picture holds the tray's icon.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def test_screenshot_of_the_running_tray(desktop, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(desktop.env)
    env.update(PYTHONPATH=str(REPO), PYSTRAY_BACKEND="gtk")
    out = tmp_path / "tray.png"
    done = subprocess.run(
        [sys.executable, str(REPO / "packaging" / "ci_checks.py"), "screenshot", "--out", str(out), "--",
         sys.executable, "-m", "tray", "tray"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the tray was running: " in done.stdout and "tray starting" in done.stdout
    with Image.open(out) as image:
        width, height = image.size
        assert width > 100 and height > 100
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 1  # not a blank screen


def test_screenshot_fails_when_the_tray_cannot_start(desktop, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, str(REPO / "packaging" / "ci_checks.py"), "screenshot", "--out", str(tmp_path / "x.png"),
         "--", sys.executable, "-m", "tray", "tray"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1 and "the tray exited 2" in done.stderr and "no display" in done.stderr
    assert not (tmp_path / "x.png").exists()
