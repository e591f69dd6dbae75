"""The real-sshd harness (tests/support/sshd.py) does what the SSH-source tests rely on: a remote command runs the
remote Orchestray world and never the local one, the host can go away and come back, and ssh never prompts.

Every ssh here is a real OpenSSH client talking to a real sshd on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import subprocess
import time
import uuid
from pathlib import Path
from typing import IO, Iterator, List

import psutil
import pytest
from helpers import run_cli
from sshd import SSH_COMMAND_ENV, STEP_TIMEOUT, SshServer, require_sshd, start_sshd

pytestmark = pytest.mark.sshd


def registry_files(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


def read_line(stream: IO[bytes], timeout: float = STEP_TIMEOUT) -> bytes:
    """One line from a child's pipe, or fail after ``timeout`` (never blocks past it)."""
    deadline = time.monotonic() + timeout
    line = b""
    fd = stream.fileno()
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no complete line within {timeout:.0f} s (got {line!r})"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line += chunk
    return line


@pytest.fixture
def open_session(sshd_server: SshServer) -> Iterator[subprocess.Popen[bytes]]:
    """An established ssh connection running an echo loop on the remote side; ended by PID after the test."""
    process = subprocess.Popen(
        sshd_server.argv("sh", "-c", 'echo started; while read line; do echo "got $line"; done'),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert read_line(process.stdout) == b"started\n", sshd_server.log_text()
        yield process
    finally:
        process.kill()
        process.wait(timeout=STEP_TIMEOUT)


def echo(process: subprocess.Popen[bytes], text: str) -> bytes:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(text.encode() + b"\n")
    process.stdin.flush()
    return read_line(process.stdout)


def test_remote_register_and_status_use_the_remote_registry_not_the_local_one(sshd_server, sleeper, tmp_path):
    local_registry = Path(os.environ["ORCHESTRAY_REGISTRY_DIR"])
    local_before = registry_files(local_registry)
    remote = sshd_server.remote
    project = remote.home / "api"
    project.mkdir()
    session_id = str(uuid.uuid4())

    # Exactly the argv the product builds: ORCHESTRAY_SSH_COMMAND split with shlex, then the alias and the command.
    ssh = shlex.split(sshd_server.env()[SSH_COMMAND_ENV])
    assert ssh == ["ssh", "-F", str(sshd_server.config_path)]
    registered = subprocess.run(
        [*ssh, "devbox", "orchestray", "register", "--session-id", session_id, "--cwd", str(project),
         "--pid", str(sleeper.pid)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert registered.returncode == 0, registered.stderr + sshd_server.log_text()
    assert registered.stdout.strip() == "orchestrator"

    entry = json.loads((remote.registry / f"{session_id}.json").read_text(encoding="utf-8"))
    assert entry["sessionId"] == session_id and entry["pid"] == sleeper.pid and entry["cwd"] == str(project)
    assert registry_files(local_registry) == local_before

    status = sshd_server.run("orchestray", "status", "--json")
    assert status.returncode == 0, status.stderr
    remote_snapshot = json.loads(status.stdout)
    assert remote_snapshot["registry"] == str(remote.registry)
    assert session_id in status.stdout
    assert [p["state"] for p in remote_snapshot["projects"]] == ["ok"], status.stdout

    local = run_cli(["status", "--json"])
    assert json.loads(local.stdout)["registry"] == str(local_registry)
    assert session_id not in local.stdout

    # The remote log, config and state folders are the remote world's too (the test process's are not passed on).
    environment = sshd_server.run("env")
    remote_env = dict(line.split("=", 1) for line in environment.stdout.splitlines() if "=" in line)
    assert remote_env["ORCHESTRAY_LOG_DIR"] == str(remote.log)
    assert remote_env["ORCHESTRAY_CONFIG_DIR"] == str(remote.config)
    assert remote_env["ORCHESTRAY_STATE_DIR"] == str(remote.state)
    assert remote_env["HOME"] == str(remote.home)
    assert SSH_COMMAND_ENV not in remote_env


def test_stop_keeps_open_connections_and_kill_all_ends_them_with_255(sshd_server, open_session):
    port = sshd_server.port
    sshd_server.stop()
    assert not sshd_server.running
    refused = sshd_server.run("true")
    assert refused.returncode == 255 and "Connection refused" in refused.stderr, refused.stderr
    # Like a real sshd's listener, stopping it leaves the established connection working.
    assert echo(open_session, "ping") == b"got ping\n"

    sshd_server.kill_all()
    assert open_session.wait(timeout=STEP_TIMEOUT) == 255
    assert sshd_server.run("true").returncode == 255

    sshd_server.start()
    assert sshd_server.port == port
    back = sshd_server.run("orchestray", "status", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["registry"] == str(sshd_server.remote.registry)


def test_kill_all_of_a_running_server_is_the_host_going_away(sshd_server, open_session):
    listener = sshd_server.pid
    assert listener is not None
    sessions = psutil.Process(listener).children(recursive=True)
    assert sessions, "an open connection has per-connection sshd processes under the listener"

    sshd_server.kill_all()
    assert open_session.wait(timeout=STEP_TIMEOUT) == 255
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sessions)
    gone = sshd_server.run("true", timeout=STEP_TIMEOUT)  # BatchMode and a refused port: no wait, no prompt
    assert gone.returncode == 255 and "Connection refused" in gone.stderr, gone.stderr

    sshd_server.restart()
    assert sshd_server.run("echo", "back").stdout == "back\n"


def test_a_frozen_host_times_out_at_the_banner_and_thaws(sshd_server):
    sshd_server.freeze()
    try:
        hung = sshd_server.run("true", ssh_options=["-o", "ConnectTimeout=2"], timeout=STEP_TIMEOUT)
    finally:
        sshd_server.thaw()
    assert hung.returncode == 255 and "timed out" in hung.stderr, hung.stderr
    assert sshd_server.run("echo", "thawed").stdout == "thawed\n"


def test_a_host_without_orchestray_says_command_not_found(tmp_path):
    require_sshd()
    with start_sshd(tmp_path / "sshd", orchestray_installed=False) as server:
        done = server.run("orchestray", "status", "--json")
    assert done.returncode == 127 and "orchestray" in done.stderr and "not found" in done.stderr, done.stderr


def test_connection_sharing_reuses_one_master_and_close_ends_it(tmp_path):
    require_sshd()
    with start_sshd(tmp_path / "sshd", control_master=True) as server:
        assert server.run("echo", "one").stdout == "one\n"
        checked = subprocess.run([*server.ssh_argv, "-O", "check", "devbox"], capture_output=True, text=True,
                                 timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
        master = re.search(r"Master running \(pid=(\d+)\)", checked.stderr)
        assert master, checked.stderr
        assert server.run("echo", "two").stdout == "two\n"
        assert server.log_text().count("Accepted publickey") == 1, "the second command reused the connection"
        master_process = psutil.Process(int(master.group(1)))
    assert not master_process.is_running() or master_process.status() == psutil.STATUS_ZOMBIE


def run_on_terminal(argv: List[str], until: re.Pattern[bytes]) -> bytes:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal (where ssh would ask for a password) and
    collect what it shows until it exits or ``until`` appears; the process is ended by PID either way."""
    import fcntl  # Unix only (the test module is collected on Windows too)
    import termios

    master, slave = os.openpty()

    def take_terminal() -> None:  # after setsid (start_new_session): the pty becomes the controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                   preexec_fn=take_terminal)
    finally:
        os.close(slave)
    shown = b""
    deadline = time.monotonic() + STEP_TIMEOUT
    try:
        while not until.search(shown) and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last user exited
                break
            if not chunk:
                break
            shown += chunk
    finally:
        process.kill()
        process.wait(timeout=STEP_TIMEOUT)
        os.close(master)
    return shown


def test_batch_mode_never_prompts_for_a_password(tmp_path):
    require_sshd()
    # A server that accepts passwords and does not know the client's key: only BatchMode stands between ssh and a
    # prompt on the terminal.
    with start_sshd(tmp_path / "sshd", password_auth=True, authorize_client=False) as server:
        prompt = re.compile(rb"password:")
        control = run_on_terminal(server.argv("true", ssh_options=["-o", "BatchMode=no"]), prompt)
        assert prompt.search(control), f"without BatchMode ssh should ask; it showed {control!r}"

        batch = run_on_terminal(server.argv("true"), re.compile(rb"Permission denied"))
        assert b"Permission denied" in batch and b"password" in batch, batch  # "(publickey,password,...)"
        assert not prompt.search(batch), batch


def test_require_sshd_skips_here_only_when_allowed(monkeypatch):
    import sshd

    monkeypatch.setattr(sshd, "SSHD", "/nonexistent/sshd")
    for name in sshd.REQUIRE_ENVS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pytest.skip.Exception, match="openssh-server"):
        require_sshd()
    for name in sshd.REQUIRE_ENVS:
        monkeypatch.setenv(name, "1")
        with pytest.raises(pytest.fail.Exception, match=f"{name}=1"):
            require_sshd()
        monkeypatch.delenv(name)
