"""A real OpenSSH server on 127.0.0.1 for tests: a second Orchestray "host" reached the way a user reaches one.

Why: sessions on another machine (issue #16, ``orchestray sources add ssh:HOST``) are reached through the
system's own ``ssh`` client, so the only honest proof is a real ``sshd`` answering a real ``ssh``: key
authentication, host-key checking, ``BatchMode``, a remote login environment, a connection that dies when the
host goes away. This module starts Debian's ``/usr/sbin/sshd`` as a foreground process of the test, with
everything it needs (host key, client key, ``authorized_keys``, ``known_hosts``, both configs) in a folder of
the test, and ends every process it started by PID. One module past 400 lines (most of it this docstring and
the two config files) because the server, its keys and configs, and the process tree it kills are one life cycle.

The remote side is a separate Orchestray world on the same machine, set up the way a real box would be: sshd's
own ``SetEnv`` gives every session a ``PATH`` whose first entry is the bin folder of the Python running the tests
(so ``orchestray`` is this checkout's, as if installed there), a private ``HOME`` and ``CLAUDE_CONFIG_DIR``, and
``ORCHESTRAY_REGISTRY_DIR`` / ``_CONFIG_DIR`` / ``_STATE_DIR`` / ``_LOG_DIR`` of the test's choosing
(:class:`RemoteWorld`). Nothing of the test process's environment reaches a session (sshd builds a fresh one),
so a remote command can never see the local registry by accident. The session's working folder is the login
user's real home (sshd always changes to it), so remote commands should take absolute paths.

How a test uses it (fixture ``sshd_server`` in tests/conftest.py, a started server with the defaults)::

    def test_remote(sshd_server):
        env = {**os.environ, **sshd_server.env()}  # ORCHESTRAY_SSH_COMMAND="ssh -F <dir>/ssh_config"
        # the product runs: shlex.split(env["ORCHESTRAY_SSH_COMMAND"]) + ["devbox", "orchestray", "status", "--json"]
        done = sshd_server.run("orchestray", "status", "--json")       # the same, from the test
        assert json.loads(done.stdout)["registry"] == str(sshd_server.remote.registry)
        sshd_server.kill_all()   # the host goes away: listener AND open connections; next ssh exits 255 at once
        sshd_server.start()      # back, same port, same host key
        sshd_server.freeze()     # a hung host: TCP connects, no SSH banner (ssh waits for its ConnectTimeout)
        sshd_server.thaw()

Other set-ups: ``with start_sshd(tmp_path / "ssh", control_master=True) as server:`` (connection sharing:
later connections take ~7 ms instead of ~200 ms), ``orchestray_installed=False`` (no ``orchestray`` on the
remote PATH: exit 127), ``bin_dir=`` (another folder holding an ``orchestray``, e.g. the frozen app's),
``extra_env=`` (more variables for every remote session), ``password_auth=True, authorize_client=False`` (a
server that would ask for a password; only ``BatchMode`` keeps ssh from prompting).

Call :func:`require_sshd` first (the fixture does): it skips the test when ``/usr/sbin/sshd`` or ``ssh`` is
missing, and fails it instead under ``ORCHESTRAY_REQUIRE_DESKTOP=1`` or ``ORCHESTRAY_NO_SKIP=1`` (as in CI, where
``scripts/install-linux-deps.sh --test`` installs openssh-server). It also skips off Linux: macOS has an sshd
too, but with other paths and defaults that nobody has verified.

Attributes: ``alias`` ("devbox"), ``port``, ``config_path`` (the client config), ``ssh_command`` (the value of
``ORCHESTRAY_SSH_COMMAND``), ``ssh_argv`` (the same, split), ``remote`` (a :class:`RemoteWorld`), ``pid`` (the
listener), ``log_path`` (sshd's own log, ``LogLevel VERBOSE``). ``stop()`` ends only the listener: like a real
sshd, connections already open stay up (their per-connection sshd processes are separate); ``kill_all()`` also
kills those and everything running under them, so every open ``ssh`` ends with status 255.

Findings (OpenSSH 9.2p1, Debian 12, as root on 2 shared cores): a plain connection takes about 200 ms; the default
key exchange (sntrup761x25519) costs ~100 ms more than ``curve25519-sha256``, so the client config pins that one;
sshd refuses to start without the privilege separation folder ``/run/sshd``, created here if missing; with
``UsePAM no`` a locked account is refused, so the server logs in the current user (root in CI) with
``PermitRootLogin prohibit-password``; ``StrictModes no`` because the key files live in a temporary folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

import psutil

#: Debian's OpenSSH server (openssh-server); sshd must be started by an absolute path (it re-executes itself).
SSHD = "/usr/sbin/sshd"
#: The variable the product reads for its ssh command line (like git's GIT_SSH_COMMAND; split with shlex).
SSH_COMMAND_ENV = "ORCHESTRAY_SSH_COMMAND"
#: The host alias the client config defines.
HOST_ALIAS = "devbox"
#: Debian packages that provide sshd, ssh and ssh-keygen (for the skip message).
DEBIAN_PACKAGES = "openssh-server openssh-client"
#: Seconds any single step (start, stop, a kill) may take before it counts as failed.
STEP_TIMEOUT = 30.0
#: The folder sshd insists on for privilege separation.
PRIVSEP_DIR = "/run/sshd"
#: Under either (CI sets both) a missing sshd fails the test instead of skipping it.
REQUIRE_ENVS = ("ORCHESTRAY_REQUIRE_DESKTOP", "ORCHESTRAY_NO_SKIP")


def missing_tools() -> List[str]:
    """What this harness needs that is not here: Linux (it is built on and for Debian's OpenSSH; macOS has an sshd
    too, with other paths and defaults, which nobody has verified) and the OpenSSH programs."""
    if not sys.platform.startswith("linux"):
        return [f"Linux (this is {sys.platform})"]
    missing = [] if os.access(SSHD, os.X_OK) else [SSHD]
    return missing + [tool for tool in ("ssh", "ssh-keygen") if shutil.which(tool) is None]


def require_sshd() -> None:
    """Skip the calling test when sshd or ssh is missing, naming the Debian packages; under
    ``ORCHESTRAY_REQUIRE_DESKTOP=1`` or ``ORCHESTRAY_NO_SKIP=1`` (as in CI) fail instead."""
    import pytest

    missing = missing_tools()
    if not missing:
        return
    message = f"needs {', '.join(missing)} (Debian: apt-get install {DEBIAN_PACKAGES})"
    required = [name for name in REQUIRE_ENVS if os.environ.get(name) == "1"]
    if required:
        pytest.fail(f"{message}; {required[0]}=1 turns this skip into a failure")
    pytest.skip(message)


@dataclasses.dataclass(frozen=True)
class RemoteWorld:
    """The folders the remote Orchestray uses: what sessions through this sshd get in their environment."""

    home: Path
    claude: Path
    registry: Path
    config: Path
    state: Path
    log: Path

    @classmethod
    def under(cls, root: Path) -> RemoteWorld:
        """Every folder below ``root`` (the registry where Claude Code's own default would put it)."""
        return cls(home=root / "home", claude=root / "home" / ".claude", registry=root / "home" / ".claude" / "active",
                   config=root / "config", state=root / "state", log=root / "log")

    def env(self) -> Dict[str, str]:
        return {
            "HOME": str(self.home),
            "CLAUDE_CONFIG_DIR": str(self.claude),
            "ORCHESTRAY_REGISTRY_DIR": str(self.registry),
            "ORCHESTRAY_CONFIG_DIR": str(self.config),
            "ORCHESTRAY_STATE_DIR": str(self.state),
            "ORCHESTRAY_LOG_DIR": str(self.log),
        }

    def create(self) -> None:
        for folder in (self.home, self.claude, self.registry, self.config, self.state, self.log):
            folder.mkdir(parents=True, exist_ok=True)


class SshServerError(RuntimeError):
    """sshd did not start or stop as it should; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (sshd then binds it; a lost race is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; raise naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SshServerError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def _gone(process: psutil.Process) -> bool:
    """True once ``process`` has exited (a zombie counts: its parent, maybe init, reaps it, not us)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _signal(processes: Sequence[psutil.Process], signum: int) -> None:
    """Send ``signum`` to each process still running (psutil refuses a PID that was reused meanwhile)."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process.send_signal(signum)


class SshServer:
    """One sshd on 127.0.0.1 with its keys, configs and remote world in ``workdir``. See the module docstring."""

    def __init__(self, workdir: Path, *, alias: str = HOST_ALIAS, remote: Optional[RemoteWorld] = None,
                 orchestray_installed: bool = True, control_master: bool = False, password_auth: bool = False,
                 authorize_client: bool = True, extra_env: Optional[Mapping[str, str]] = None,
                 bin_dir: Optional[str] = None) -> None:
        self.workdir = Path(workdir)
        self.alias = alias
        self.remote = remote or RemoteWorld.under(self.workdir / "remote")
        self.orchestray_installed = orchestray_installed
        self.control_master = control_master
        self.password_auth = password_auth
        self.authorize_client = authorize_client
        self.extra_env = dict(extra_env or {})
        # Where the remote `orchestray` comes from: this Python's bin folder (the checkout's editable install).
        self.bin_dir = bin_dir or os.path.dirname(sys.executable)
        import pwd  # Unix only; this module is imported (by conftest) on Windows too

        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0
        self.host_key = self.workdir / "host_ed25519"
        self.client_key = self.workdir / "client_ed25519"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.known_hosts = self.workdir / "known_hosts"
        self.sshd_config = self.workdir / "sshd_config"
        self.config_path = self.workdir / "ssh_config"
        self.pid_file = self.workdir / "sshd.pid"
        self.log_path = self.workdir / "sshd.log"
        # The control socket's path must fit in a Unix socket address (108 bytes): a short folder of its own.
        self._control_dir: Optional[str] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        # Per-connection sshd processes of listeners already stopped: kill_all() ends them too.
        self._sessions: List[psutil.Process] = []
        self._frozen: List[psutil.Process] = []
        self._prepared = False

    # ---- what a test hands to the product ---------------------------------------------------------

    @property
    def ssh_argv(self) -> List[str]:
        """The ssh command line, without the host: ``["ssh", "-F", "<workdir>/ssh_config"]``."""
        return ["ssh", "-F", str(self.config_path)]

    @property
    def ssh_command(self) -> str:
        """The ssh command line as ``ORCHESTRAY_SSH_COMMAND`` holds it (shell-quoted)."""
        return shlex.join(self.ssh_argv)

    def env(self) -> Dict[str, str]:
        """``{ORCHESTRAY_SSH_COMMAND: ssh_command}``: merge it into the environment of the local Orchestray."""
        return {SSH_COMMAND_ENV: self.ssh_command}

    @property
    def remote_env(self) -> Dict[str, str]:
        """What every session through this sshd gets (sshd's ``SetEnv``), on top of sshd's own basics."""
        path = "/usr/local/bin:/usr/bin:/bin"
        if self.orchestray_installed:
            path = f"{self.bin_dir}:{path}"
        return {"PATH": path, "LANG": "C.UTF-8", **self.remote.env(), **self.extra_env}

    @property
    def pid(self) -> Optional[int]:
        """The listener's PID while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ---- life cycle ---------------------------------------------------------------------------------

    def start(self) -> SshServer:
        """Start the listener (again: on the same port, with the same keys) and wait until it answers SSH."""
        if self.running:
            raise SshServerError("sshd is already running")
        if not self._prepared:
            self._prepare()
        attempts = 1 if self.port else 5  # a first start may lose the free port to another process: pick again
        for attempt in range(attempts):
            if not self.port or attempt:
                self.port = free_port()
            self._write_configs()
            if self._launch():
                return self
        raise SshServerError(f"sshd could not bind a port after {attempts} tries{self._log_tail()}")

    def stop(self) -> None:
        """End the listener only (SIGTERM, by PID): new connections are refused, open ones stay up."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            self._sessions.extend(psutil.Process(process.pid).children())
        process.terminate()
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a frozen listener handles SIGTERM only once it runs again
        try:
            process.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STEP_TIMEOUT)
        self._frozen = [p for p in self._frozen if p.pid != process.pid]

    def kill_all(self) -> None:
        """The host goes away: SIGKILL the listener, every per-connection sshd and all they run, by PID.

        The tree is frozen first (SIGSTOP, from the top down) so that nothing can fork a process we would miss;
        then everything is killed and waited for. Every open ``ssh`` to this server then exits with 255.
        """
        tree = self._tree(freeze=True)
        _signal(tree, signal.SIGKILL)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=STEP_TIMEOUT)
        deadline = time.monotonic() + STEP_TIMEOUT
        for process in tree:
            while not _gone(process):
                if time.monotonic() > deadline:
                    raise SshServerError(f"process {process.pid} of sshd survived SIGKILL")
                time.sleep(0.02)
        self._sessions = []
        self._frozen = []

    def restart(self) -> SshServer:
        """``stop()`` then ``start()`` on the same port (open connections survive, as with a real restart)."""
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """A hung host: SIGSTOP the listener and every session. The kernel still accepts TCP connections, but no
        SSH banner comes, so a client waits for its ConnectTimeout (or forever without one)."""
        self._frozen = self._tree(freeze=True)

    def thaw(self) -> None:
        """Undo :meth:`freeze` (SIGCONT to what it stopped)."""
        _signal(self._frozen, signal.SIGCONT)
        self._frozen = []

    def close(self) -> None:
        """End everything this server started: the client's shared connection, sshd and all its sessions."""
        try:
            self._end_control_master()
        finally:
            self.kill_all()
            if self._control_dir is not None:
                shutil.rmtree(self._control_dir, ignore_errors=True)
                self._control_dir = None

    def __enter__(self) -> SshServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- running commands on the remote side -------------------------------------------------------

    def argv(self, *remote_args: str, ssh_options: Sequence[str] = ()) -> List[str]:
        """The argv that runs ``remote_args`` there: the ssh command, options, the alias, one quoted command."""
        if not remote_args:
            raise ValueError("a remote command is needed (without one ssh would start a login shell)")
        return [*shlex.split(self.ssh_command), *ssh_options, self.alias, shlex.join(remote_args)]

    def run(self, *remote_args: str, ssh_options: Sequence[str] = (), timeout: float = 60.0,
            input: Optional[str] = None) -> subprocess.CompletedProcess[str]:
        """Run one command on the remote side through ``ssh`` and return what came back (never raises on exit)."""
        return subprocess.run(self.argv(*remote_args, ssh_options=ssh_options), input=input, capture_output=True,
                              text=True, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)

    def log_text(self) -> str:
        """sshd's log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # ---- internals ----------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Keys, authorized_keys, the remote world, the privilege separation folder: once per server."""
        program = os.path.join(self.bin_dir, "orchestray")
        if self.orchestray_installed and not os.access(program, os.X_OK):
            raise SshServerError(f"no {program}: install Orchestray into this Python's environment (pip install -e .)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for key, comment in ((self.host_key, "orchestray-test-host"), (self.client_key, "orchestray-test-client")):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                               check=True, capture_output=True, timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
        public = Path(f"{self.client_key}.pub").read_text(encoding="ascii")
        self.authorized_keys.write_text(public if self.authorize_client else "", encoding="ascii")
        self.remote.create()
        if self.control_master:
            self._control_dir = tempfile.mkdtemp(prefix="osh-", dir="/tmp")
        if not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
            os.chmod(PRIVSEP_DIR, 0o755)
        self._prepared = True

    def _write_configs(self) -> None:
        for name, value in self.remote_env.items():
            if not value or re.search(r"[\s\"'\\]", value):
                raise ValueError(f"SetEnv cannot carry {name}={value!r} (empty, blanks, quotes or backslashes)")
        set_env = " ".join(f"{name}={value}" for name, value in self.remote_env.items())
        yes_no = "yes" if self.password_auth else "no"
        self.sshd_config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.pid_file}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            f"AllowUsers {self.user}\n"
            "UsePAM no\n"
            "StrictModes no\n"
            f"PasswordAuthentication {yes_no}\n"
            f"KbdInteractiveAuthentication {yes_no}\n"
            "PermitRootLogin prohibit-password\n"
            "PermitUserRC no\n"
            "PrintMotd no\n"
            "LogLevel VERBOSE\n"
            f"SetEnv {set_env}\n",
            encoding="utf-8",
        )
        host_public = Path(f"{self.host_key}.pub").read_text(encoding="ascii").split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_public[0]} {host_public[1]}\n", encoding="ascii")
        lines = [
            f"Host {self.alias}",
            "  HostName 127.0.0.1",
            f"  Port {self.port}",
            f"  User {self.user}",
            f"  IdentityFile {self.client_key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.known_hosts}",
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  KexAlgorithms curve25519-sha256",
        ]
        if self._control_dir is not None:
            lines += ["  ControlMaster auto", f"  ControlPath {self._control_dir}/cm-%C", "  ControlPersist 60"]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _launch(self) -> bool:
        """Start sshd and wait until it answers; False if it could not bind its port (the caller retries)."""
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        checked = subprocess.run([SSHD, "-t", "-f", str(self.sshd_config)], capture_output=True, text=True,
                                 timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
        if checked.returncode != 0:
            raise SshServerError(f"sshd -t refused the config: {checked.stderr.strip()}")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.sshd_config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, start_new_session=True,
            )
        process = self._process
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            if process.poll() is not None:
                if re.search(r"Bind to port \d+ .* failed|Cannot bind any address", self.log_text()):
                    return False
                raise SshServerError(f"sshd exited with {process.returncode}{self._log_tail()}")
            if self._pid_file_holds(process.pid) and self._answers():
                return True
            if time.monotonic() > deadline:
                self.kill_all()
                raise SshServerError(f"sshd did not answer on port {self.port} in {STEP_TIMEOUT:.0f} s"
                                     f"{self._log_tail()}")
            time.sleep(0.02)

    def _pid_file_holds(self, pid: int) -> bool:
        """sshd writes its PidFile after it has bound the port."""
        try:
            return self.pid_file.read_text(encoding="ascii").strip() == str(pid)
        except OSError:
            return False

    def _answers(self) -> bool:
        """The port accepts a connection and sends an SSH banner."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as probe:
                return probe.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def _tree(self, freeze: bool) -> List[psutil.Process]:
        """The listener, earlier listeners' sessions, and all their descendants; optionally SIGSTOPped top-down so
        that none of them can start a process we would not see."""
        roots: List[psutil.Process] = []
        if self.running and self._process is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                roots.append(psutil.Process(self._process.pid))
        roots += [p for p in self._sessions if not _gone(p)]
        seen: Dict[int, psutil.Process] = {}
        todo = list(roots)
        while todo:
            process = todo.pop()
            if process.pid in seen or _gone(process):
                continue
            if freeze:
                _signal([process], signal.SIGSTOP)
            seen[process.pid] = process
            with contextlib.suppress(psutil.NoSuchProcess):
                todo.extend(process.children())
        return list(seen.values())

    def _end_control_master(self) -> None:
        """End the client's shared connection (ControlMaster), found by PID through ``ssh -O check``."""
        if self._control_dir is None:
            return
        checked = subprocess.run([*self.ssh_argv, "-O", "check", self.alias], capture_output=True, text=True,
                                 timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
        match = re.search(r"Master running \(pid=(\d+)\)", checked.stderr)
        if match is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            master = psutil.Process(int(match.group(1)))
            master.terminate()
            _, alive = psutil.wait_procs([master], timeout=STEP_TIMEOUT)
            _signal(alive, signal.SIGKILL)

    def _log_tail(self, lines: int = 15) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return (":\n" + "\n".join(tail)) if tail else ""


@contextlib.contextmanager
def start_sshd(workdir: Path, **options: object) -> Iterator[SshServer]:
    """A started :class:`SshServer` (keyword options as its constructor's), closed by PID afterwards."""
    server = SshServer(workdir, **options)  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.close()
