"""Shared pytest fixtures for Orchestray's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

try:  # tests/ is put on sys.path by pytest (rootdir-relative "prepend" import mode)
    from desktop import DEBIAN_PACKAGES, Desktop, missing_tools, start_desktop
except ImportError:  # if tests/ ever becomes a package
    from tests.desktop import DEBIAN_PACKAGES, Desktop, missing_tools, start_desktop


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    """A private real desktop (Xvfb, D-Bus session bus, dunst, trayer), torn down by PID after the test.

    Skips only when a needed tool is missing; any other start-up failure is an error, not a skip.
    Logs of the desktop's daemons stay in ``tmp_path / "desktop"``.
    """
    missing = missing_tools()
    if missing:
        pytest.skip(f"real desktop needs {', '.join(missing)} (Debian: apt-get install {DEBIAN_PACKAGES})")
    with start_desktop(tmp_path / "desktop") as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses ``desktop`` with ``desktop``, so ``-m "not desktop"`` deselects it."""
    for item in items:
        if "desktop" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.desktop)
