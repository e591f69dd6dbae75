"""Drive the real Claude Code client on a pseudo-terminal, offline, against the stand-in API.

Each :class:`RealClaude` runs the native ``claude`` binary in a private HOME and CLAUDE_CONFIG_DIR (onboarding,
API-key approval and folder trust already written, so no dialog comes before the prompt box), with
``ANTHROPIC_BASE_URL`` pointing at a :class:`~claude_api.StandInAPI`. The test types prompts, presses
Esc, answers permission dialogs, runs ``/clear`` and ``/exit``, and reads what the terminal shows: the output
stream with escape sequences removed (what appeared since a mark, scrolled away or not) and the screen as a
terminal shows it now (``pyte``, a maintained VT100 emulator: the client redraws only the cells that change, so
the stream alone cannot tell what the prompt box holds).

Every wait has a deadline and fails with the tail of the screen; the process is ended by its PID (SIGTERM,
then SIGKILL) and reaped. The binary comes from ``$ORCHESTRAY_CLAUDE_BIN``, else from where ``.ci/run``
installs the pinned version (see :func:`claude_binary`).

One module past 400 lines on purpose: the driver, the client state it needs written (which dialogs to skip) and
the world a test runs it in all follow the pinned client's version, and change together when it changes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pyte
import pytest
from claude_api import StandInAPI
from helpers import wait_until as wait_until_value

REPO = Path(__file__).resolve().parents[2]
PINNED_VERSION = "2.1.332"
#: Where `.ci/run` installs the pinned client (`npm install --prefix .ci/claude-code ...`).
CI_PREFIX = REPO / ".ci" / "claude-code"
CI_BINARY = CI_PREFIX / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"
#: Written by `.ci/run` when the npm registry could not be reached: the only reason a real-client test skips.
UNREACHABLE_MARKER = CI_PREFIX / "UNREACHABLE"
BIN_ENV = "ORCHESTRAY_CLAUDE_BIN"
#: `.ci/run` sets this (as does ORCHESTRAY_REQUIRE_DESKTOP=1): a missing client fails instead of skipping.
REQUIRE_ENV = "ORCHESTRAY_REQUIRE_CLAUDE"
#: The reason of the only skip CI forgives (conftest's ORCHESTRAY_NO_SKIP check looks for it).
UNREACHABLE_SKIP = "real Claude Code not installed: the npm registry was unreachable"
API_KEY = "sk-ant-dummy"

# Generous: the client starts slowly on a loaded 2-core machine.
START_TIMEOUT = 120.0
#: The hint line under an empty prompt box (it depends on the permission mode).
READY_MARKERS = ("? for shortcuts", "shift+tab to cycle")
STEP_TIMEOUT = 90.0
PERMISSION_QUESTION = "Do you want to proceed?"
ANSWER_RETRY_SECONDS = 3.0  # a dialog still shown this long after Enter did not take it

_ESCAPES = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC ... BEL / ST
    rb"|\x1b[P^_][^\x1b]*\x1b\\"  # DCS / PM / APC ... ST
    rb"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b[@-Z\\-_]"  # two-byte escapes
    rb"|\x1b[()][0-9A-Za-z]"  # charset selection
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_escapes(raw: bytes) -> str:
    """Terminal output as text: escape sequences and control characters removed."""
    return _CONTROLS.sub("", _ESCAPES.sub(b"", raw).decode("utf-8", "replace"))


def squeeze(text: str) -> str:
    """Without any white space: what a redrawn terminal line reliably keeps (Ink moves the cursor instead)."""
    return "".join(text.split())


class ClaudeUnavailable(Exception):
    """The real client is not installed here; the message says why and what to run."""


def claude_binary() -> str:
    """The real client's executable, or ClaudeUnavailable saying why there is none."""
    configured = os.environ.get(BIN_ENV)
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise ClaudeUnavailable(f"${BIN_ENV} is {configured!r}, which is not an executable file")
    if os.access(CI_BINARY, os.X_OK):
        return str(CI_BINARY)
    raise ClaudeUnavailable(
        f"the real Claude Code client is not installed: set ${BIN_ENV}, or run "
        f"`npm install --prefix {CI_PREFIX} @anthropic-ai/claude-code@{PINNED_VERSION}` (.ci/run does)"
    )


def require_claude() -> str:
    """The binary, else skip (no client here) or fail (CI, where `.ci/run` must have installed it).

    The only skip under CI is the one `.ci/run` wrote down: the npm registry could not be reached.
    """
    try:
        return claude_binary()
    except ClaudeUnavailable as missing:
        unreachable = registry_unreachable()
        if unreachable is not None:
            pytest.skip(f"{UNREACHABLE_SKIP}: {unreachable}")
        required = os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("ORCHESTRAY_REQUIRE_DESKTOP") == "1"
        if required:
            pytest.fail(str(missing))
        pytest.skip(str(missing))


def registry_unreachable() -> Optional[str]:
    """Why `.ci/run` could not install the client (the npm registry was unreachable), or None."""
    try:
        return UNREACHABLE_MARKER.read_text(encoding="utf-8", errors="replace").strip() or "unreachable"
    except OSError:
        return None


def write_client_config(home: Path, config_dir: Path, projects: List[Path]) -> None:
    """The state a user who has onboarded, approved the key and trusted `projects` would have."""
    trusted: Dict[str, Dict[str, object]] = {}
    for project in projects:
        for path in {str(project), os.path.realpath(project)}:
            trusted[path] = {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True,
                             "allowedTools": []}
    state = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": PINNED_VERSION,
        "numStartups": 5,
        "customApiKeyResponses": {"approved": [API_KEY[-20:], API_KEY], "rejected": []},
        "bypassPermissionsModeAccepted": False,
        "hasSeenTasksHint": True,
        # 2.1.33x offers auto mode (a classifier that answers permission prompts) at start; the tests need
        # Claude Code's manual mode, where a tool call asks the user, and no dialog before the prompt box.
        "hasSeenAutoDefaultNudge": True,
        "hasSeenAutoDefaultNotice": True,
        "hasSeenAutoModeEntryWarning": True,
        "hasResetAutoModeOptInForDefaultOffer": True,
        "hasSeenEffortMediumNudge": True,
        "projects": trusted,
    }
    for folder in (home, config_dir):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".claude.json").write_text(json.dumps(state, indent=2), encoding="utf-8")


def client_env(home: Path, config_dir: Path, api_url: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The client's environment: nothing of a surrounding Claude Code session, offline, a dummy key."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "ORCHESTRAY_LOG_DIR", "ORCHESTRAY_REGISTRY_DIR",
            "ORCHESTRAY_CONFIG_DIR", "ORCHESTRAY_STATE_DIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(config_dir),
        ANTHROPIC_API_KEY=API_KEY,
        ANTHROPIC_BASE_URL=api_url,
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        TERM="xterm-256color",
        LANG=env.get("LANG", "C.UTF-8"),
    )
    env.update(extra or {})
    return env


class RealClaude:
    """One running `claude` on a pseudo-terminal; the terminal's output is collected by a reader thread."""

    def __init__(self, binary: str, cwd: Path, env: Dict[str, str], log: Path, args: Optional[List[str]] = None,
                 rows: int = 50, cols: int = 150) -> None:
        self.cwd = cwd
        self.log = log
        import fcntl  # POSIX only: imported here so the suite still loads on Windows (build.yml runs it there)
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            self.process = subprocess.Popen(
                [binary, *(args or [])], stdin=slave, stdout=slave, stderr=slave, cwd=str(cwd), env=env,
                start_new_session=True, close_fds=True,
            )
        finally:
            os.close(slave)
        self.pid = self.process.pid
        self._master = master
        self._output = bytearray()
        self._screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._lock = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name=f"claude-pty-{self.pid}", daemon=True)
        self._reader.start()

    # ---- the terminal ---------------------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the client closed its side
                chunk = b""
            with self._lock:
                if not chunk:
                    self._eof = True
                    self._lock.notify_all()
                    return
                self._output.extend(chunk)
                self._stream.feed(chunk)
                self._lock.notify_all()

    def mark(self) -> int:
        """A position in the output; `wait_for(..., since=mark)` looks only at what came after it."""
        with self._lock:
            return len(self._output)

    def text(self, since: int = 0) -> str:
        with self._lock:
            raw = bytes(self._output[since:])
        return strip_escapes(raw)

    def tail(self, chars: int = 1500) -> str:
        return self.text()[-chars:]

    def screen(self) -> str:
        """The terminal's screen now, line by line."""
        with self._lock:
            return "\n".join(line.rstrip() for line in self._screen.display)

    def wait_screen(self, text: str, timeout: float = STEP_TIMEOUT) -> None:
        """Wait until the screen shows `text` on one line."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if any(text in line for line in self._screen.display):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._eof and self.process.poll() is not None):
                    break
                self._lock.wait(min(remaining, 1.0))
        raise AssertionError(f"claude (pid {self.pid}) did not show {text!r} in {timeout:.0f} s; the screen:\n"
                             + self.screen())

    def wait_for(self, *needles: str, since: int = 0, timeout: float = STEP_TIMEOUT) -> str:
        """Wait until one of `needles` (white space ignored) shows after `since`; return the needle seen."""
        wanted = [(needle, squeeze(needle)) for needle in needles]
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                seen = squeeze(strip_escapes(bytes(self._output[since:])))
                for needle, squeezed in wanted:
                    if squeezed in seen:
                        return needle
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._eof and self.process.poll() is not None):
                    break
                self._lock.wait(min(remaining, 1.0))
        state = "exited" if self.process.poll() is not None else "running"
        raise AssertionError(
            f"claude (pid {self.pid}, {state}) did not show {needles!r} in {timeout:.0f} s; screen ends with:\n"
            + self.tail()
        )

    def write(self, data: bytes) -> None:
        os.write(self._master, data)

    # ---- what a user does ------------------------------------------------------------------------------

    def wait_ready(self, since: int = 0, timeout: float = START_TIMEOUT) -> None:
        """The prompt box is drawn (its hint line reads "? for shortcuts")."""
        self.wait_for(*READY_MARKERS, since=since, timeout=timeout)

    def type_line(self, text: str, timeout: float = STEP_TIMEOUT) -> int:
        """Type `text`, wait until the box shows it, then press Enter on its own (a burst with CR is a paste).

        Returns the output mark taken before the Enter, for waiting on what the prompt causes.
        """
        self.write(text.encode("utf-8"))
        self.wait_screen(text, timeout=timeout)
        mark = self.mark()
        self.write(b"\r")
        return mark

    def prompt(self, text: str) -> int:
        return self.type_line(text)

    def escape(self) -> None:
        self.write(b"\x1b")

    def approve_permission(self, timeout: float = STEP_TIMEOUT) -> int:
        """Answer "Yes" in the permission dialog once it is shown; returns the mark before the answer.

        Claude Code drops keys pressed just after a dialog opens (so a key typed ahead cannot answer it), and
        its grace period is longer on a loaded machine: Enter is pressed again while the dialog stays on the
        screen. A second Enter that lands in the empty prompt box does nothing.
        """
        self.wait_screen(PERMISSION_QUESTION, timeout=timeout)
        mark = self.mark()
        deadline = time.monotonic() + timeout
        while True:
            self.write(b"\r")  # the highlighted first option is "1. Yes"
            if self._wait_gone(PERMISSION_QUESTION, ANSWER_RETRY_SECONDS):
                return mark
            if time.monotonic() >= deadline:
                raise AssertionError(f"the permission dialog of claude (pid {self.pid}) took no answer in "
                                     f"{timeout:.0f} s; the screen:\n{self.screen()}")

    def _wait_gone(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while any(text in line for line in self._screen.display):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.5))
        return True

    def slash(self, command: str, timeout: float = STEP_TIMEOUT) -> int:
        """Run a slash command (`/clear`, `/exit`); the completion menu takes the first Enter if it is open."""
        return self.type_line(command, timeout=timeout)

    # ---- ending --------------------------------------------------------------------------------------

    def wait_exit(self, timeout: float = STEP_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"claude (pid {self.pid}) did not exit in {timeout:.0f} s:\n{self.tail()}") from None

    def close(self) -> None:
        """End the client by its PID (SIGTERM, then SIGKILL), reap it, close the terminal."""
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:
            os.close(self._master)
        except OSError:
            pass
        self._reader.join(timeout=5)
        try:
            self.log.write_bytes(bytes(self._output))
        except OSError:
            pass


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """`helpers.wait_until` with this module's argument order and its slower default interval."""
    return wait_until_value(predicate, what, timeout, interval)


class ClaudeWorld:
    """A private Claude Code set-up: HOME and CLAUDE_CONFIG_DIR with Orchestray's hooks installed by the real
    installer, a registry and log folder of its own, and a running stand-in API. Clients started here are
    ended by PID when the world closes."""

    def __init__(self, root: Path, binary: str) -> None:
        from tray.hooks import settings as hook_settings

        self.root = root
        self.binary = binary
        self.home = root / "home"
        self.config = root / "claude-config"
        self.registry = root / "registry"
        self.logs = root / "logs"
        for folder in (self.home, self.config, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.settings = self.config / "settings.json"
        # Manual permission mode: a tool call that changes something asks the user (see write_client_config).
        self.settings.write_text(json.dumps({"permissions": {"defaultMode": "default"}}, indent=2) + "\n")
        version = hook_settings.claude_code_version(binary)
        assert version is not None, f"{binary} --version names no version"
        hook_settings.install(str(self.settings), check_import=False, events=hook_settings.events_for(version))
        self.projects: List[Path] = []
        self.clients: List[RealClaude] = []
        self.api = StandInAPI().start()

    @property
    def env(self) -> Dict[str, str]:
        return client_env(self.home, self.config, self.api.url, {
            "ORCHESTRAY_REGISTRY_DIR": str(self.registry), "ORCHESTRAY_LOG_DIR": str(self.logs),
        })

    def start(self, cwd: Path, args: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None,
              ready: bool = True) -> RealClaude:
        """Start `claude` in `cwd` (trusted) and wait for its prompt box (unless not `ready`: a hint line that
        shows a shared task list instead of the usual markers); `env` is added to the world's."""
        if cwd not in self.projects:
            self.projects.append(cwd)
        write_client_config(self.home, self.config, self.projects)
        client = RealClaude(self.binary, cwd, {**self.env, **(env or {})},
                            self.root / f"claude-{len(self.clients)}.pty.log", args)
        self.clients.append(client)
        if ready:
            client.wait_ready()
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.api.stop()

    # ---- what Orchestray shows -------------------------------------------------------------------------

    def entries(self) -> List[Dict[str, Any]]:
        found = []
        if self.registry.is_dir():
            for path in sorted(self.registry.glob("*.json")):
                if path.is_symlink() or not path.is_file():  # a FIFO planted there would block read_text()
                    continue
                try:
                    found.append(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
        return found

    def entry_of(self, client: RealClaude) -> Optional[Dict[str, Any]]:
        """The registry entry of this client's process (its session id changes with /clear)."""
        mine = [e for e in self.entries() if e.get("pid") == client.pid]
        return mine[0] if len(mine) == 1 else None

    def wait_entry(self, client: RealClaude, what: str = "its registry entry",
                   check: Callable[[Dict[str, Any]], bool] = lambda e: True,
                   timeout: float = STEP_TIMEOUT) -> Dict[str, Any]:
        return wait_until(lambda: (lambda e: e if e is not None and check(e) else None)(self.entry_of(client)),
                          timeout, f"claude pid {client.pid}: {what}")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The real command line, `python -m tray --registry-dir REGISTRY ...`, as a user would run it."""
        import sys

        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
        env.update(ORCHESTRAY_LOG_DIR=str(self.logs), CLAUDE_CONFIG_DIR=str(self.config))
        return subprocess.run([sys.executable, "-m", "tray", "--registry-dir", str(self.registry), *args], env=env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def status(self) -> Dict[str, Any]:
        """`orchestray status --json`."""
        completed = self.cli("status", "--json")
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def session_view(self, session_id: str) -> Optional[Dict[str, Any]]:
        """The session as `status --json` shows it (with its activity), or None."""
        for project in self.status()["projects"]:
            for key in ("orchestrators", "workers", "vacating", "stale"):
                for session in project.get(key) or []:
                    if session.get("sessionId") == session_id:
                        return session
        return None

    def activity(self, session_id: str) -> Optional[str]:
        view = self.session_view(session_id)
        return None if view is None else view.get("activity")

    def wait_activity(self, session_id: str, state: str, timeout: float = STEP_TIMEOUT) -> None:
        seen: List[Optional[str]] = []

        def reached() -> bool:
            seen.append(self.activity(session_id))
            return seen[-1] == state

        try:
            wait_until(reached, timeout, f"session {session_id} to show activity {state!r}", interval=0.3)
        except AssertionError as error:
            raise AssertionError(f"{error}; it showed {sorted(set(map(str, seen)))}") from None
