"""Helpers shared by the registry/CLI tests: the real CLI in a subprocess, real sleeper processes, hand-written
registry files (as another tool, or the protocol's own `registry.py`, would write them).

Imported by the test modules as `helpers` (pytest puts `tests/` on `sys.path` for rootdir-less test folders).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import psutil

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LOG_DIR = tempfile.mkdtemp(prefix="orchestray-test-log-")
atexit.register(shutil.rmtree, _LOG_DIR, True)
SLEEP_CODE = "import time; time.sleep(600)"


def cli_env(registry_dir: Optional[str] = None, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of a CLI child: the repo importable, a private log folder, no Claude Code session."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["ORCHESTRAY_LOG_DIR"] = _LOG_DIR
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    if registry_dir is not None:
        env["ORCHESTRAY_REGISTRY_DIR"] = registry_dir
    if extra:
        env.update(extra)
    return env


def headless_env(tmp_path: Any, **extra: str) -> Dict[str, str]:
    """The environment of an `orchestray` child with no display: the repo importable, private Orchestray folders,
    no DISPLAY, WAYLAND_DISPLAY or PYSTRAY_BACKEND (a test adds a desktop's own with ``env.update``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")}
    env.update(
        PYTHONPATH=REPO,
        ORCHESTRAY_REGISTRY_DIR=os.path.join(tmp_path, "registry"),
        ORCHESTRAY_LOG_DIR=os.path.join(tmp_path, "log"),
        ORCHESTRAY_CONFIG_DIR=os.path.join(tmp_path, "config"),
        ORCHESTRAY_STATE_DIR=os.path.join(tmp_path, "state"),
        XDG_CONFIG_HOME=os.path.join(tmp_path, "xdg-config"),
    )
    env.update(extra)
    return env


def orchestray(env: Mapping[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m tray ARGS` under exactly ``env``, stdin closed, output captured (the test judges it)."""
    return subprocess.run([sys.executable, "-m", "tray", *args], env=dict(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def cli_argv(args: Sequence[str], registry_dir: Optional[str] = None) -> List[str]:
    argv = [sys.executable, "-m", "tray"]
    if registry_dir is not None:
        argv += ["--registry-dir", registry_dir]
    return argv + [str(a) for a in args]


def run_cli(
    args: Sequence[Any],
    env: Optional[Mapping[str, str]] = None,
    registry_dir: Optional[str] = None,
    timeout: float = 30.0,
    input: Optional[str] = None,
    cwd: Optional[str] = None,
) -> subprocess.CompletedProcess:
    """Run `python -m tray [--registry-dir DIR] ARGS...` as a real process, as a user would.

    Never lets a traceback through: every test that uses the CLI also checks that the user saw none.
    """
    completed = subprocess.run(
        cli_argv([str(a) for a in args], registry_dir),
        env=cli_env(None, env) if env is not None else cli_env(),
        cwd=cwd or tempfile.gettempdir(),
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
    )
    assert "Traceback" not in completed.stdout + completed.stderr, (
        f"traceback shown to the user by {args}:\n{completed.stdout}\n{completed.stderr}"
    )
    return completed


def one_line_error(completed: subprocess.CompletedProcess) -> str:
    """The refusal message: exactly one non-empty line on stderr."""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {completed.stderr!r}"
    return lines[0]


def cli_json(args: Sequence[Any], registry_dir: str, **kwargs: Any) -> Any:
    completed = run_cli(args, registry_dir=registry_dir, **kwargs)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll `condition` until it returns something true and return that; fail after `timeout` seconds saying
    `what` (every wait in a test has a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- processes ------------------------------------------------------------------------------------------


def spawn_sleeper() -> subprocess.Popen:
    """A real long-lived child (a stand-in for a Claude Code process). Callers kill and reap it (`reap`)."""
    return subprocess.Popen([sys.executable, "-c", SLEEP_CODE], stdin=subprocess.DEVNULL)


def reap(process: subprocess.Popen) -> None:
    """Kill and reap a child; safe to call twice."""
    if process.poll() is None:
        try:
            process.kill()
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a kernel that ignores SIGKILL
        pass


class Sleepers:
    """Every sleeper a test starts, killed and reaped at teardown (use through a fixture)."""

    def __init__(self) -> None:
        self.processes: List[subprocess.Popen] = []

    def spawn(self) -> subprocess.Popen:
        process = spawn_sleeper()
        self.processes.append(process)
        return process

    def many(self, count: int) -> List[subprocess.Popen]:
        return [self.spawn() for _ in range(count)]

    def kill(self, process: subprocess.Popen) -> None:
        """Kill one of them (a session that crashed) and reap it, so its PID is really gone."""
        reap(process)

    def close(self) -> None:
        for process in self.processes:
            reap(process)


def zombie(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Kill a child without reaping it and wait until the kernel shows it as a zombie."""
    process.kill()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:  # pragma: no cover - reaped behind our back
            raise AssertionError("the child was reaped; expected a zombie") from None
        time.sleep(0.005)
    raise AssertionError("the killed child never became a zombie")


def unused_pid() -> int:
    """A PID no process can have: above the kernel's pid_max (Linux), else a huge one."""
    try:
        with open("/proc/sys/kernel/pid_max") as handle:
            pid = int(handle.read()) + 1
    except (OSError, ValueError):
        pid = 2**22 + 12345
    assert not psutil.pid_exists(pid)
    return pid


# --- registry files -------------------------------------------------------------------------------------


def iso(ts: float) -> str:
    """The protocol's timestamp form: ISO-8601 UTC with `Z`, whole seconds."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_time(pid: int) -> float:
    return psutil.Process(pid).create_time()


def seed_entry(
    session_id: str, pid: int, cwd: str, role: str = "worker", started_at: Optional[str] = None, **extra: Any
) -> Dict[str, Any]:
    data: Dict[str, Any] = {
        "pid": pid,
        "startedAt": started_at or iso(time.time()),
        "sessionId": session_id,
        "cwd": cwd,
        "role": role,
    }
    data.update(extra)
    return data


def write_entry(
    registry_dir: str,
    session_id: str,
    pid: int,
    cwd: str,
    role: str = "worker",
    started_at: Optional[str] = None,
    **extra: Any,
) -> str:
    """Write an entry by hand, the way the protocol's registry.py (or any other tool) would."""
    os.makedirs(registry_dir, exist_ok=True)
    path = os.path.join(registry_dir, session_id + ".json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(seed_entry(session_id, pid, cwd, role, started_at, **extra), handle, indent=2)
    return path


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def entry_files(registry_dir: str) -> List[str]:
    """The visible entry files (what a user sees with `ls *.json`)."""
    try:
        return sorted(n for n in os.listdir(registry_dir) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []


def temp_files(registry_dir: str) -> List[str]:
    return sorted(n for n in os.listdir(registry_dir) if n.endswith(".tmp"))


def by_session(rows: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {row["sessionId"]: row for row in rows}


def project_of(status: Dict[str, Any], key: str) -> Dict[str, Any]:
    matches = [p for p in status["projects"] if p["key"] == key]
    assert len(matches) == 1, f"expected one project {key!r} in {[p['key'] for p in status['projects']]}"
    return matches[0]


def without_blocking(work: Callable[[], Any], fifo: Union[str, os.PathLike[str]], timeout: float = 5.0) -> Any:
    """``work()`` with a deadline: it runs on a thread of its own, and a reader stuck opening the FIFO ``fifo`` is
    let go by opening the FIFO's other end, then the test fails saying so. What ``work`` raises is raised here."""
    result: List[Any] = []
    errors: List[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        thread.join(timeout)
        raise AssertionError(f"blocked on the FIFO {fifo} for more than {timeout} s")
    if errors:
        raise errors[0]
    return result[0]


def fingerprints(folder: Union[str, os.PathLike[str]]) -> Dict[str, tuple]:
    """Every file under ``folder`` (links not followed): kind, size, mtime and bytes, by relative path; equal
    fingerprints before and after mean nothing there was touched."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            data = read_bytes(path) if stat.S_ISREG(info.st_mode) else b""
            found[os.path.relpath(path, folder)] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, data)
    return found
