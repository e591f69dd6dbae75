"""The fake-Claude-Code sandbox the hook tests share: a private config dir, registry, log folder and settings.json,
fake Claude Codes (``fake_claude.py``, a real long-lived process named ``claude`` that runs the installed hook
commands as Claude Code does), the real CLI, and what Claude Code would show or hand to the model.

Moved here from ``tests/e2e/test_hooks_e2e.py`` so that other test modules stop importing from a test module.
Each fake Claude Code is killed (SIGKILL) and reaped when the sandbox closes; every wait is bounded.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import psutil

from tray.core.log import HOOK_LOG_NAME
from tray.hooks import settings as hook_settings

SUPPORT = Path(__file__).resolve().parent
REPO = SUPPORT.parents[1]
FAKE_CLAUDE = SUPPORT / "fake_claude.py"
FAKE_CLAUDE_VERSION = (2, 1, 332)  # the fake behaves as this Claude Code (tests/support/real_claude.py pins it)
REPLY_TIMEOUT = 30.0  # one command of the fake: every hook of an event (each hook itself is bounded by 10 s)
EVENTS = ("SessionStart", "UserPromptSubmit", "SessionEnd", "Stop", "StopFailure", "Notification")
# Variables that would leak a surrounding Claude Code session (or another registry) into the sandbox.
SCRUBBED = (
    "PYTHONPATH",
    "CLAUDECODE",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_PROJECT_DIR",
    "CLAUDE_CONFIG_DIR",
    "ORCHESTRAY_REGISTRY_DIR",
    "ORCHESTRAY_LOG_DIR",
)


# --------------------------------------------------------------------------------------------------------
# The sandbox and the fake Claude Code
# --------------------------------------------------------------------------------------------------------


class FakeClaude:
    """One running ``tests/support/fake_claude.py``, talked to line by line."""

    def __init__(self, link: Path, settings: Path, env: Dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        with open(log, "wb") as stderr:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(link), str(FAKE_CLAUDE), "--settings", str(settings)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=str(cwd),
                env=env,
            )
        self.pid = self.process.pid
        self._replies: queue.Queue[Optional[bytes]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def send(self, *words: str, text: Optional[str] = None, timeout: float = REPLY_TIMEOUT) -> Dict[str, Any]:
        """Send one command (``text``: a last argument sent verbatim), return its JSON reply.

        Fails, never hangs, when the fake does not answer in time.
        """
        assert self.process.stdin is not None
        line = " ".join(shlex.quote(w) for w in words)
        if text is not None:
            assert "\n" not in text
            line += " " + text
        self.process.stdin.write((line + "\n").encode("utf-8"))
        self.process.stdin.flush()
        try:
            answer = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"fake claude gave no answer to {line[:80]!r} in {timeout} s") from None
        if answer is None:
            raise AssertionError(f"fake claude exited: {self.log.read_text(errors='replace')}")
        reply = json.loads(answer)
        assert reply.get("ok"), reply
        return reply

    # The verbs, returning the one event's reply.
    def start(self, session: str, cwd: Path, source: str = "startup") -> Dict[str, Any]:
        return self.send("start", session, str(cwd), source)

    def prompt(self, session: str, text: str = "hello") -> Dict[str, Any]:
        return self.send("prompt", session, text=text)

    def stop(self, session: str) -> Dict[str, Any]:
        return self.send("stop", session)

    def notify(self, session: str, text: str = "Claude is waiting for your input") -> Dict[str, Any]:
        return self.send("notify", session, text=text)

    def end(self, session: str, reason: str = "other") -> Dict[str, Any]:
        return self.send("end", session, reason)

    def raw(self, event: str, session: Optional[str], data: bytes) -> Dict[str, Any]:
        return self.send("raw", event, session or "-", text=base64.b64encode(data).decode("ascii"))

    def kill(self) -> None:
        """SIGKILL (a crashed terminal: no SessionEnd) and reap, so the PID is really gone."""
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kernel that ignores SIGKILL
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def start_fake_claude(root: Path, settings: Path, env: Dict[str, str], cwd: Path) -> FakeClaude:
    """A fake Claude Code outside a :class:`Sandbox` (a test with folders and settings of its own, e.g. the frozen
    app's): ``root/bin/claude`` links to this Python, so the process is named ``claude`` as Claude Code's is."""
    link = root / "bin" / "claude"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(sys.executable)
    fake = FakeClaude(link, settings, env, cwd, root / "fake-claude.stderr")
    name = psutil.Process(fake.pid).name()
    assert name == "claude", f"the fake Claude Code is named {name!r}, not 'claude'"
    return fake


class Sandbox:
    """Private Claude config dir, registry, log folder and settings.json; starts fake Claude Codes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.registry = root / "registry"
        self.logs = root / "logs"
        self.settings = self.config / "settings.json"
        self.bin = root / "bin"
        for folder in (self.config, self.logs, self.bin):
            folder.mkdir(parents=True, exist_ok=True)
        # The trick that makes the interpreter look like Claude Code (see fake_claude.py's docstring).
        self.link = self.bin / "claude"
        self.link.symlink_to(sys.executable)
        self.fakes: List[FakeClaude] = []

    @property
    def env(self) -> Dict[str, str]:
        """The environment Claude Code runs in: nothing of this test's PYTHONPATH, the sandbox's folders."""
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update(
            CLAUDE_CONFIG_DIR=str(self.config),
            ORCHESTRAY_REGISTRY_DIR=str(self.registry),
            ORCHESTRAY_LOG_DIR=str(self.logs),
        )
        return env

    def install(self) -> None:
        """The hooks for the Claude Code the fake stands in for (the pinned real one): every event."""
        hook_settings.install(str(self.settings), check_import=False,
                              events=hook_settings.events_for(FAKE_CLAUDE_VERSION))

    def claude(self, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None) -> FakeClaude:
        fake = FakeClaude(
            self.link,
            self.settings,
            env if env is not None else self.env,
            cwd or self.root,
            self.root / f"fake-claude-{len(self.fakes)}.stderr",
        )
        self.fakes.append(fake)
        name = psutil.Process(fake.pid).name()
        assert name == "claude", f"the fake Claude Code is named {name!r}, not 'claude'"
        return fake

    def close(self) -> None:
        for fake in self.fakes:
            fake.kill()

    # ---- the registry, as a user would look at it ----------------------------------------------------

    def entry_path(self, session: str, registry: Optional[Path] = None) -> Path:
        return (registry or self.registry) / f"{session}.json"

    def entry(self, session: str, registry: Optional[Path] = None) -> Dict[str, Any]:
        return json.loads(self.entry_path(session, registry).read_text(encoding="utf-8"))

    def sessions(self, registry: Optional[Path] = None) -> List[str]:
        folder = registry or self.registry
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))

    def log_text(self) -> str:
        path = self.logs / HOOK_LOG_NAME  # hooks log apart from the tray (tray.core.log)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """The real command line, `python -m tray ...`, in the sandbox's environment."""
        env = self.env
        env["PYTHONPATH"] = str(REPO)
        completed = subprocess.run(
            [sys.executable, "-m", "tray", *args],
            env=env,
            cwd=str(self.root),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
        return completed



def git(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd))
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=str(cwd),
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )



# --------------------------------------------------------------------------------------------------------
# What Claude Code would show or hand to the model
# --------------------------------------------------------------------------------------------------------


def only_hook(reply: Dict[str, Any]) -> Dict[str, Any]:
    """The single Orchestray hook of an event, checked to have behaved as Claude Code needs."""
    assert len(reply["hooks"]) == 1, reply
    hook = reply["hooks"][0]
    assert_clean(hook)
    return hook


def assert_clean(hook: Dict[str, Any]) -> None:
    """Exit 0 in time, nothing on stderr (Claude Code shows stderr as a hook error), stdin fully read."""
    assert hook["exit_code"] == 0, hook
    assert not hook["timed_out"], hook
    assert hook["stderr"] == "", hook
    assert hook["stdin_error"] is None, hook
    assert hook["json_error"] is None, hook


def assert_silent(reply: Dict[str, Any]) -> None:
    hook = only_hook(reply)
    assert hook["stdout"] == "", hook
    assert reply["context"] == [], reply


def role_context(reply: Dict[str, Any]) -> str:
    """SessionStart's stdout must be Claude Code's JSON form, naming the event and telling the role."""
    hook = only_hook(reply)
    data = json.loads(hook["stdout"])
    specific = data["hookSpecificOutput"]
    assert specific["hookEventName"] == reply["event"]
    assert reply["context"] == [specific["additionalContext"]]
    return specific["additionalContext"]


def stat_of(path: Path):
    info = path.stat()
    return info.st_mtime_ns, info.st_ino, path.read_bytes()

