"""Running an Orchestray command on another source: the one module that knows `ssh`, `wsl.exe` and `docker exec`.

Each transport is the user's own program (their ssh config and agent, their WSL, their docker), never a server
of ours. The program can be replaced through an environment variable holding a command line split like a shell
would (`ORCHESTRAY_SSH_COMMAND="ssh -F /path/config"`, like git's GIT_SSH_COMMAND), also for recorded fakes in
tests. The argument lists:

- ssh: `ssh -o BatchMode=yes -o ConnectTimeout=N -- HOST WORD...`. ssh joins the words after the host into one
  line for the remote user's shell, so every word is quoted here (`shlex.quote`); the words come from
  `tray/core/sources.py`, which builds them from checked values only. BatchMode: a password or host-key
  prompt fails at once instead of hanging a thread that nobody can answer.
- wsl: `wsl.exe -d DISTRO --exec WORD...`: no shell at all.
- docker: `docker exec CONTAINER WORD...`: no shell at all.

Every run has a deadline and an output cap; a process that passes either is killed (it was started by us, in
its own process group) and the run says so. `failure` turns a failed run into the one line the menu shows.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, List, Mapping, Optional, Sequence, Union

from tray.core.sources import Source, SourceKind

ENV_COMMANDS = {
    SourceKind.SSH: ("ORCHESTRAY_SSH_COMMAND", "ssh"),
    SourceKind.WSL: ("ORCHESTRAY_WSL_COMMAND", "wsl.exe"),
    SourceKind.DOCKER: ("ORCHESTRAY_DOCKER_COMMAND", "docker"),
}
CONNECT_TIMEOUT = 5  # seconds ssh may take to connect
DEFAULT_TIMEOUT = 20.0  # seconds a whole run may take
DEFAULT_LIMIT = 4 * 1024 * 1024  # bytes of output read from a run; more is refused
ERROR_LIMIT = 64 * 1024
NOT_INSTALLED = 127  # what a POSIX shell (and docker exec) returns for a command it cannot find


def program(kind: SourceKind, env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The transport's own program and options: the environment's override, else the plain program name."""
    variable, default = ENV_COMMANDS[kind]
    configured = (os.environ if env is None else env).get(variable, "").strip()
    try:
        words = shlex.split(configured) if configured else []
    except ValueError:
        words = []
    return words or [default]


def argv(source: Source, remote: Sequence[str], env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The local argument list that runs `remote` (an argument list) on `source`."""
    base = program(source.kind, env)
    if source.kind == SourceKind.SSH:
        return [*base, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", "--", source.target,
                *(shlex.quote(word) for word in remote)]
    if source.kind == SourceKind.WSL:
        return [*base, "-d", source.target, "--exec", *remote]
    return [*base, "exec", source.target, *remote]


@dataclass(frozen=True)
class Result:
    code: Optional[int]  # None: it did not run to its end (not started, timed out, too much output)
    out: bytes = b""
    err: bytes = b""
    problem: str = ""  # why there is no code: "not started: ...", "timed out", "too much output"

    @property
    def ok(self) -> bool:
        return self.code == 0


def drain(stream: IO[bytes], limit: int, into: bytearray, over: threading.Event) -> None:
    while True:
        chunk = stream.read1(65536)  # type: ignore[attr-defined]
        if not chunk:
            return
        if len(into) + len(chunk) > limit:
            over.set()
            return
        into += chunk


def kill(process: subprocess.Popen[bytes]) -> None:
    """End the run we started: its whole process group where there is one (ssh may have started a proxy)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def start(source: Source, remote: Sequence[str],
          env: Optional[Mapping[str, str]] = None) -> Union[subprocess.Popen[bytes], str]:
    """Start `remote` on `source` with piped output, in its own process group (so `kill` ends all of it); or
    the one line saying why it could not start."""
    command = argv(source, remote, env)
    try:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except OSError as error:
        return f"cannot run {command[0]}: {error.strerror or error}"


def run(source: Source, remote: Sequence[str], timeout: float = DEFAULT_TIMEOUT, limit: int = DEFAULT_LIMIT,
        env: Optional[Mapping[str, str]] = None, cancel: Optional[threading.Event] = None) -> Result:
    """Run `remote` on `source`, with a deadline and an output cap; never raises for a failed run. Setting
    `cancel` (the tray is quitting) ends the run at once."""
    process = start(source, remote, env)
    if isinstance(process, str):
        return Result(None, problem=process)
    out, err = bytearray(), bytearray()
    over = threading.Event()
    assert process.stdout is not None and process.stderr is not None
    readers = [threading.Thread(target=drain, args=(process.stdout, limit, out, over), daemon=True),
               threading.Thread(target=drain, args=(process.stderr, ERROR_LIMIT, err, threading.Event()),
                                daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    problem = ""
    while process.poll() is None:
        if over.is_set():
            problem = f"more than {limit // 1024} KB of output"
            break
        if time.monotonic() >= deadline:
            problem = f"no answer within {timeout:g} s"
            break
        if cancel is not None and cancel.is_set():
            problem = "cancelled"
            break
        try:
            process.wait(0.05)
        except subprocess.TimeoutExpired:
            pass
    if problem:
        kill(process)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        kill(process)
    for reader in readers:
        reader.join(2)
    for stream in (process.stdout, process.stderr):
        stream.close()
    if not problem and over.is_set():
        problem = f"more than {limit // 1024} KB of output"
    return Result(None if problem else process.returncode, bytes(out), bytes(err), problem)


def decode(data: bytes) -> str:
    """Text from a transport: wsl.exe writes its own messages in UTF-16, everything else is UTF-8."""
    if len(data) >= 2 and data.count(b"\x00") * 3 >= len(data):
        return data.decode("utf-16-le", "replace").lstrip("\ufeff")
    return data.decode("utf-8", "replace")


def last_line(data: bytes) -> str:
    lines = [line.strip() for line in decode(data).splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def failure(source: Source, result: Result) -> str:
    """The one line the menu shows for a failed run (after the source's name)."""
    if result.problem:
        if result.problem.startswith("cannot run"):
            return result.problem
        return f"unreachable — {result.problem}"
    said = last_line(result.err)
    said_lower = said.lower()
    if result.code == NOT_INSTALLED or (result.code == 126 and "not found" in said_lower) or (
            "executable file not found" in said_lower):
        return f"Orchestray is not installed on {source.name}"
    if source.kind == SourceKind.SSH and result.code == 255:
        if said.startswith("ssh: connect to host") or said.startswith("ssh: Could not resolve"):
            said = said.rsplit(": ", 1)[-1]
        return f"unreachable — {said or 'ssh failed'}"
    if source.kind == SourceKind.WSL and (result.code is None or result.code < 0 or result.code >= 2**31
                                          or "distribution" in said_lower or "wsl" in said_lower):
        return f"unreachable — {said or f'wsl.exe exit {result.code}'}"
    if source.kind == SourceKind.DOCKER and result.code in (1, 125) and (
            said_lower.startswith("error") or "daemon" in said_lower):
        for prefix in ("Error response from daemon: ", "Error: "):
            if said.startswith(prefix):
                said = said[len(prefix):]
        return f"unreachable — {said}"
    return f"Orchestray failed there (exit {result.code}){': ' + said if said else ''}"
