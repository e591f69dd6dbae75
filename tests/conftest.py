"""Shared pytest fixtures for Orchestray's tests.

Tests never touch the real user's registry, settings, config or log: every folder Orchestray would use is
pointed at a private temporary folder before any test runs (child processes inherit it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

# The layout: tests/unit (fast: no desktop, no real client), tests/e2e (real processes through the CLI and the
# hooks, the fake and the real Claude Code), tests/desktop (a real X desktop), tests/support (shared helpers and
# fakes, imported by name: `from helpers import ...`). The test folders are not packages, so pytest imports each
# test module by its file name ("prepend" import mode); every test file name must therefore be unique.
# The test folders are on sys.path too; what several test modules share belongs in tests/support (the fake-Claude
# sandbox is `hook_sandbox`, the real-client harness `claude_api` and `real_claude`), never in a test module.
_TESTS = Path(__file__).resolve().parent
for _folder in ("desktop", "e2e", "unit", "support"):  # support ends up first
    if str(_TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(_TESTS / _folder))

from desktop import Desktop, require_desktop, start_desktop  # noqa: E402 - needs sys.path above
from helpers import Sleepers  # noqa: E402 - needs sys.path above
from platform_skips import MISSING, missing_facility  # noqa: E402 - needs sys.path above
from real_claude import UNREACHABLE_SKIP, ClaudeWorld, require_claude  # noqa: E402 - needs sys.path above
from sshd import SshServer, require_sshd, start_sshd  # noqa: E402 - needs sys.path above

_SANDBOX = tempfile.mkdtemp(prefix="orchestray-tests-")
for _name, _sub in (
    ("ORCHESTRAY_LOG_DIR", "log"),
    ("ORCHESTRAY_CONFIG_DIR", "config"),
    ("ORCHESTRAY_STATE_DIR", "state"),
    ("ORCHESTRAY_REGISTRY_DIR", "registry"),
    ("CLAUDE_CONFIG_DIR", "claude"),
):
    os.environ[_name] = os.path.join(_SANDBOX, _sub)
os.environ.pop("CLAUDE_CODE_SESSION_ID", None)


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    """A private real desktop (Xvfb, D-Bus session bus, dunst, trayer), torn down by PID after the test.

    Skips only when a needed tool is missing (and fails even then under ORCHESTRAY_REQUIRE_DESKTOP=1, as in
    CI); any other start-up failure is an error, not a skip. Logs of the daemons stay in ``tmp_path/desktop``.
    """
    require_desktop("trayer")
    with start_desktop(tmp_path / "desktop") as running:
        yield running


@pytest.fixture
def sni_desktop(tmp_path: Path) -> Iterator[Desktop]:
    """Like ``desktop``, with a StatusNotifierItem host (as KDE, GNOME and Ubuntu have) instead of trayer."""
    require_desktop("sni")
    with start_desktop(tmp_path / "desktop", host="sni") as running:
        yield running


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """A real, long-lived child process (a stand-in for a Claude Code session); killed and reaped after."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def procs() -> Iterator[Sleepers]:
    """A pool of real sleeping child processes (``procs.spawn()``); every one is killed and reaped after."""
    pool = Sleepers()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def claude_world(tmp_path: Path) -> Iterator[ClaudeWorld]:
    """The real Claude Code client's world: private HOME and config with Orchestray's hooks installed, a registry,
    and the stand-in API on 127.0.0.1; every client started in it is ended by PID after the test.

    Skips when the client is not installed here; under CI (ORCHESTRAY_REQUIRE_CLAUDE=1, which `.ci/run` sets, or
    ORCHESTRAY_REQUIRE_DESKTOP=1) that fails instead, unless `.ci/run` recorded that the npm registry was
    unreachable.
    """
    world = ClaudeWorld(tmp_path / "claude-world", require_claude())
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def sshd_server(tmp_path: Path) -> Iterator[SshServer]:
    """A real OpenSSH server on 127.0.0.1 (tests/support/sshd.py): host alias ``devbox`` in its own client config
    (``sshd_server.env()`` gives ``ORCHESTRAY_SSH_COMMAND``), a separate remote Orchestray world
    (``sshd_server.remote``); the listener and every session are ended by PID after the test.

    Skips only when sshd or ssh is missing, and fails instead under ORCHESTRAY_REQUIRE_DESKTOP=1 or
    ORCHESTRAY_NO_SKIP=1 (as in CI).
    """
    require_sshd()
    with start_sshd(tmp_path / "sshd") as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they need: ``desktop`` (a real desktop), ``real_client`` (the real Claude Code),
    ``sshd`` (a real OpenSSH server). On Windows and macOS (build.yml runs the whole suite there), skip a test
    that uses what that system does not have (tests/support/platform_skips.py)."""
    for item in items:
        if sys.platform in MISSING:
            why = missing_facility(getattr(item, "function", None), sys.platform)
            if why:
                item.add_marker(pytest.mark.skip(reason=why))
        names = set(getattr(item, "fixturenames", ()))
        if {"desktop", "sni_desktop"} & names:
            item.add_marker(pytest.mark.desktop)
        if "claude_world" in names:
            item.add_marker(pytest.mark.real_client)
        if "sshd_server" in names:
            item.add_marker(pytest.mark.sshd)


#: CI sets this too: a run in which any test was skipped fails, naming the skipped tests. (A test that cannot run
#: here must get what it needs from `.ci/run` and `scripts/install-linux-deps.sh`, not quietly drop out.)
NO_SKIP = os.environ.get("ORCHESTRAY_NO_SKIP") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not NO_SKIP:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = list(reporter.stats.get("skipped", [])) if reporter is not None else []
    # The one forgiven skip: `.ci/run` could not install the real client because the npm registry was unreachable.
    skipped = [r for r in skipped if UNREACHABLE_SKIP not in str(r.longrepr)]
    if not skipped:
        return
    if reporter is not None:
        reporter.write_sep("=", f"ORCHESTRAY_NO_SKIP=1 but {len(skipped)} test(s) skipped", red=True)
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reporter.write_line(f"{report.nodeid}: {reason}")
    if session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
