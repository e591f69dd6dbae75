"""Other sources: specs, remote argument lists, the transports' argv, untrusted answers, back-off, failure lines.

The transports run for real where they can (a recorded fake of wsl.exe/docker that runs the remote command on
this machine, `sh -c` standing for ssh's remote shell); a snapshot to parse comes from a real registry with
real processes, through the real `status --json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fake_transport import FakeTransport

from tray.core import remote, sources
from tray.core.actions import register
from tray.core.entry import InvalidSessionId
from tray.core.registry import Registry
from tray.core.snapshot import State, build_snapshot
from tray.core.sources import BadSource, Source, SourceKind, make_source
from tray.platform import transport

DEVBOX = make_source("ssh:devbox")


# --- specs and commands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind", "target"), [
    ("ssh:devbox", SourceKind.SSH, "devbox"),
    ("ssh:me@build.example.org", SourceKind.SSH, "me@build.example.org"),
    ("SSH:devbox", SourceKind.SSH, "devbox"),
    ("wsl:Ubuntu-22.04", SourceKind.WSL, "Ubuntu-22.04"),
    ("docker:my_app.1", SourceKind.DOCKER, "my_app.1"),
])
def test_a_spec_names_a_kind_and_a_target(text: str, kind: SourceKind, target: str) -> None:
    assert sources.parse_spec(text) == (kind, target)
    assert make_source(text).spec == f"{kind}:{target}"


@pytest.mark.parametrize("text", [
    "devbox", "ftp:devbox", "ssh:", "ssh:-oProxyCommand=touch /tmp/x", "ssh:dev box", "ssh:a;b", "wsl:Ub;untu",
    "docker:$(reboot)", "docker:-it", "wsl:" + "x" * 65, "ssh:dev\nbox",
])
def test_a_bad_spec_is_one_line_that_says_what_to_use(text: str) -> None:
    with pytest.raises(BadSource) as refused:
        sources.parse_spec(text)
    assert "\n" not in str(refused.value)


def test_the_remote_command_is_split_like_a_shell_would() -> None:
    assert sources.parse_command("/home/me/.local/bin/orchestray") == ("/home/me/.local/bin/orchestray",)
    assert sources.parse_command("'/opt/my tools/orchestray' --registry-dir /x") == (
        "/opt/my tools/orchestray", "--registry-dir", "/x")
    for bad in ("", "   ", "--registry-dir /x", "'unbalanced", "orchestray\nrm -rf ~", "x" * 2000):
        with pytest.raises(BadSource):
            sources.parse_command(bad)


def test_config_sources_keep_the_good_ones_and_say_why_the_others_are_skipped() -> None:
    found, problems = sources.from_config([
        {"spec": "ssh:devbox", "command": "/home/me/.local/bin/orchestray"},
        "wsl:Ubuntu",
        {"spec": "ssh:devbox"},  # the same twice
        {"spec": "ssh:-oProxyCommand=x"},
        {"command": "orchestray"},
        {"spec": "docker:web", "command": 12},
        42,
    ])
    assert [(s.spec, s.command) for s in found] == [
        ("ssh:devbox", ("/home/me/.local/bin/orchestray",)), ("wsl:Ubuntu", ("orchestray",))]
    assert len(problems) == 5 and all("\n" not in p for p in problems)
    assert sources.from_config({"spec": "ssh:x"}) == ([], ["sources is not a list"])
    assert sources.from_config([s.to_config() for s in found])[0] == found  # stored as it is read


def test_remote_commands_carry_only_checked_session_ids_and_paths() -> None:
    box = make_source("ssh:devbox", "/opt/orchestray --registry-dir /r")
    assert sources.promote_args(box, "abc-123", force=True) == [
        "/opt/orchestray", "--registry-dir", "/r", "promote", "abc-123", "--force"]
    assert sources.vacate_args(box, "abc-123")[-2:] == ["vacate", "--session-id=abc-123"]
    assert sources.handover_args(box, "/home/me/-api", text=True)[-3:] == ["handover", "--cwd=/home/me/-api", "--print"]
    for hostile in ("../../etc/passwd", "-rf", "a b", "x;reboot", "$(id)", ""):
        with pytest.raises(InvalidSessionId):
            sources.promote_args(box, hostile, force=False)
    for path in ("relative/api", "-rf", "/a\nb", "", "/x\x00"):
        with pytest.raises(BadSource):
            sources.handover_args(box, path, text=False)


# --- the transports' argument lists ----------------------------------------------------------------------


def test_ssh_runs_in_batch_mode_with_a_connect_timeout_and_every_remote_word_quoted() -> None:
    box = make_source("ssh:devbox", "'/opt/my tools/orchestray'")
    argv = transport.argv(box, sources.promote_args(box, "abc", False), env={})
    assert argv == ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={transport.CONNECT_TIMEOUT}", "--",
                    "devbox", "'/opt/my tools/orchestray'", "promote", "abc"]
    custom = transport.argv(box, ["x"], env={"ORCHESTRAY_SSH_COMMAND": "ssh -F '/home/me/my config'"})
    assert custom[:3] == ["ssh", "-F", "/home/me/my config"]


def test_what_ssh_sends_is_read_back_word_for_word_by_the_remote_shell(tmp_path: Path) -> None:
    """ssh joins the words after the host with spaces and the remote user's shell splits them again: every word
    must come back as it was, whatever it holds (here `sh -c` plays the remote shell)."""
    hostile = ["/opt/my tools/orchestray", "it's", "$(touch pwned)", "`id`", "a;b", "*", "--cwd=/x y/z", "~"]
    argv = transport.argv(DEVBOX, hostile, env={})
    line = " ".join(argv[argv.index("devbox") + 1:])
    said = subprocess.run(["sh", "-c", f"printf '%s\\0' {line}"], capture_output=True, check=True, cwd=tmp_path)
    assert said.stdout.split(b"\0")[:-1] == [w.encode() for w in hostile]
    assert not (tmp_path / "pwned").exists()


def test_wsl_and_docker_run_the_command_without_a_shell() -> None:
    ubuntu, web = make_source("wsl:Ubuntu"), make_source("docker:web")
    assert transport.argv(ubuntu, ["orchestray", "status", "--json"], env={}) == [
        "wsl.exe", "-d", "Ubuntu", "--exec", "orchestray", "status", "--json"]
    assert transport.argv(web, ["orchestray", "a b"], env={}) == ["docker", "exec", "web", "orchestray", "a b"]
    assert transport.argv(web, ["x"], env={"ORCHESTRAY_DOCKER_COMMAND": "podman --remote"})[:3] == [
        "podman", "--remote", "exec"]


# --- untrusted answers -----------------------------------------------------------------------------------


@pytest.fixture
def far_registry(tmp_path: Path, procs) -> tuple:
    """A second registry ("the other machine") with real processes: api has an orchestrator and a worker,
    web only a dead orchestrator."""
    registry = Registry(str(tmp_path / "far" / "active"))
    api, web = tmp_path / "far" / "api", tmp_path / "far" / "web"
    api.mkdir(parents=True)
    web.mkdir(parents=True)
    boss, worker, gone = procs.many(3)
    register(registry, "boss-1", boss.pid, str(api))
    register(registry, "work-2", worker.pid, str(api))
    register(registry, "dead-3", gone.pid, str(web))
    procs.kill(gone)
    return registry, boss, worker


def test_a_status_answer_gives_the_same_projects_named_after_the_source(far_registry: tuple) -> None:
    registry = far_registry[0]
    there = build_snapshot(registry)
    answer = json.dumps(there.status_json()).encode()
    seen = remote.parse_status(DEVBOX, answer)
    assert [(v.name, v.state) for v in seen.projects] == [
        (f"devbox: {v.name}", v.state) for v in there.projects]
    assert {v.state for v in seen.projects} == {State.OK, State.STALE}
    api = next(v for v in seen.projects if v.state == State.OK)
    assert api.key.startswith("ssh:devbox|") and api.project.source == "ssh:devbox"
    assert api.orchestrator is not None and api.orchestrator.session_id == "boss-1"
    assert api.suggested is not None and api.suggested.session_id == "work-2"


def _answer(**session_changes: object) -> bytes:
    session = {"pid": 4242, "startedAt": "2026-12-01T10:00:00Z", "sessionId": "abc-1", "cwd": "/srv/api",
               "role": "orchestrator", "alive": True}
    session.update(session_changes)
    project = {"key": "/srv/api", "name": "api", "root": "/srv/api", "state": "ok", "orchestrators": [session],
               "workers": [], "vacating": [], "stale": []}
    return json.dumps({"registry": "/home/me/.claude/active", "projects": [project]}).encode()


@pytest.mark.parametrize(("answer", "said"), [
    (b"bash: line 1: orchestray: command not found", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    (b"[]", "not a status object"),
    (b'{"projects": {}}', "not a status object"),
    (b"[" * 100000 + b"]" * 100000, "not JSON"),
    (_answer(sessionId="../../etc/passwd"), "pattern"),
    (_answer(sessionId="a b"), "pattern"),
    (_answer(pid="4242"), "pid"),
    (_answer(pid=True), "pid"),
    (_answer(pid=-1), "pid"),
    (_answer(pid=2**70), "pid"),
    (_answer(role="king"), "role"),
    (_answer(alive="yes"), "alive"),
    (_answer(startedAt="yesterday"), "startedAt"),
    (_answer(startedAt=12), "startedAt"),
    (_answer(cwd="x" * 5000), "cwd"),
    (_answer(cwd=None), "cwd"),
    (json.dumps({"projects": [7]}).encode(), "project is not an object"),
    (json.dumps({"projects": [{"key": "k", "name": "n", "root": "/r", "workers": "all"}]}).encode(), "workers"),
    (json.dumps({"projects": [{"key": "k", "name": "n" * 300, "root": "/r"}]}).encode(), "name"),
    (json.dumps({"projects": [{"key": "k", "name": "n", "root": "/r"}] * 1001}).encode(), "more than 1000"),
    (b" " * (remote.MAX_ANSWER_BYTES + 1), "larger than"),
])
def test_a_malformed_answer_is_one_line_never_half_a_snapshot(answer: bytes, said: str) -> None:
    with pytest.raises(remote.BadAnswer) as bad:
        remote.parse_status(DEVBOX, answer)
    assert said in str(bad.value) and "\n" not in str(bad.value) and len(str(bad.value)) < 200


def test_what_the_menu_shows_of_an_answer_is_one_line_and_bad_activity_is_dropped() -> None:
    answer = json.loads(_answer(activity="waiting", activityAt="2026-12-01T10:05:00Z", lastPrompt="hi\x1b[2Jthere"))
    answer["projects"][0]["name"] = "api\n\x1b[31mred\u202e"
    seen = remote.parse_status(DEVBOX, json.dumps(answer).encode())
    assert seen.projects[0].name == "devbox: api [31mred"
    activity = seen.projects[0].orchestrators[0].activity
    assert activity is not None and activity.state == "waiting" and "\x1b" not in activity.prompt
    for bad in ({"activity": "dancing"}, {"activity": "waiting", "activityAt": "soon"},
                {"activity": "waiting", "activityAt": "9999-12-31T23:59:59Z", "lastPrompt": 5}):
        kept = remote.parse_status(DEVBOX, _answer(**bad)).projects[0].orchestrators[0].activity
        assert kept is None or kept.prompt == ""


def test_merge_sorts_every_source_together_and_counts_only_local_stale(far_registry: tuple, tmp_path: Path,
                                                                       procs) -> None:
    there = remote.parse_status(DEVBOX, json.dumps(build_snapshot(far_registry[0]).status_json()).encode())
    here_registry = Registry(str(tmp_path / "here"))
    folder = tmp_path / "mine"
    folder.mkdir()
    worker = procs.spawn()
    register(here_registry, "mine-1", worker.pid, str(folder), role="worker")
    here = build_snapshot(here_registry)
    merged = remote.merge(here, [there])
    assert [v.state for v in merged.projects] == [State.ORPHANED, State.STALE, State.OK]
    assert merged.session("boss-1") is not None and merged.session("mine-1") is not None
    assert merged.stale_count == 1 and merged.local_stale_count == 0
    assert remote.merge(here, []) is here


# --- back-off and failure lines --------------------------------------------------------------------------


def test_backoff_retries_once_at_the_interval_then_doubles_up_to_the_cap() -> None:
    from tray.app.sources import Backoff

    backoff = Backoff(2.0, cap=30.0)
    delays = [backoff.delay()]
    for _ in range(7):
        backoff.failure()
        delays.append(backoff.delay())
    assert delays == [2.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    backoff.success()
    assert backoff.delay() == 2.0
    for _ in range(5000):
        backoff.failure()
    assert backoff.delay() == 30.0


@pytest.mark.parametrize(("source", "result", "line"), [
    ("ssh:devbox", transport.Result(255, err=b"ssh: connect to host 127.0.0.1 port 22022: Connection refused\r\n"),
     "unreachable — Connection refused"),
    ("ssh:devbox", transport.Result(255, err=b"orch@127.0.0.1: Permission denied (publickey).\n"),
     "unreachable — orch@127.0.0.1: Permission denied (publickey)."),
    ("ssh:devbox", transport.Result(127, err=b"bash: line 1: orchestray: command not found\n"),
     "Orchestray is not installed on devbox"),
    ("ssh:devbox", transport.Result(None, problem="no answer within 20 s"), "unreachable — no answer within 20 s"),
    ("ssh:devbox", transport.Result(None, problem="cannot run ssh: No such file or directory"),
     "cannot run ssh: No such file or directory"),
    ("ssh:devbox", transport.Result(1, err=b"orchestray: something\n"), "Orchestray failed there (exit 1): "
     "orchestray: something"),
    ("wsl:Nope", transport.Result(255, err="There is no distribution with the supplied name.\r\nError code: "
                                           "Wsl/Service/WSL_E_DISTRO_NOT_FOUND\r\n".encode("utf-16-le")),
     "unreachable — Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND"),
    ("docker:web", transport.Result(1, err=b"Error response from daemon: No such container: web\n"),
     "unreachable — No such container: web"),
    ("docker:web", transport.Result(126, err=b'OCI runtime exec failed: exec failed: unable to start container '
                                            b'process: exec: "orchestray": executable file not found in $PATH'),
     "Orchestray is not installed on web"),
])
def test_a_failed_run_is_one_line_naming_what_is_wrong(source: str, result: transport.Result, line: str) -> None:
    assert transport.failure(make_source(source), result) == line


# --- running a transport: deadline, output cap, recorded fakes -------------------------------------------


def test_a_run_past_its_deadline_is_killed_with_its_whole_group(tmp_path: Path) -> None:
    script = tmp_path / "slow-docker"
    script.write_text(f"#!/bin/sh\n{sys.executable} -c 'import time; time.sleep(600)' &\necho $! > {tmp_path}/child\n"
                      "exec sleep 600\n")
    script.chmod(0o755)
    started = time.monotonic()
    result = transport.run(make_source("docker:web"), ["orchestray"], timeout=1.0,
                           env={"ORCHESTRAY_DOCKER_COMMAND": str(script)})
    assert result.code is None and result.problem == "no answer within 1 s"
    assert time.monotonic() - started < 30
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 30
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the run's own child outlived it"
        time.sleep(0.05)


def test_a_run_with_too_much_output_is_cut_and_said(tmp_path: Path) -> None:
    script = tmp_path / "chatty-wsl"
    script.write_text("#!/bin/sh\nexec yes orchestray\n")
    script.chmod(0o755)
    result = transport.run(make_source("wsl:Ubuntu"), ["orchestray"], limit=64 * 1024,
                           env={"ORCHESTRAY_WSL_COMMAND": str(script)})
    assert result.code is None and "more than 64 KB" in result.problem and len(result.out) <= 64 * 1024


def test_a_missing_transport_program_is_said_not_raised() -> None:
    result = transport.run(DEVBOX, ["orchestray"], env={"ORCHESTRAY_SSH_COMMAND": "/nonexistent/ssh"})
    assert result.code is None and transport.failure(DEVBOX, result).startswith("cannot run /nonexistent/ssh")


@pytest.mark.parametrize("kind", ["wsl", "docker"])
def test_status_through_a_recorded_fake_gives_the_far_registry(kind: str, far_registry: tuple,
                                                               tmp_path: Path) -> None:
    fake = FakeTransport(kind, tmp_path)
    far = far_registry[0]
    source = make_source(f"{kind}:box1", f"{sys.executable} -m tray --registry-dir {far.directory}")
    env = {**os.environ, fake.variable: fake.command}
    result = transport.run(source, sources.status_args(source), env=env)
    assert result.ok, result.err
    seen = remote.parse_status(source, result.out)
    assert sorted(v.name for v in seen.projects) == ["box1: api", "box1: web"]
    expected = ["-d", "box1", "--exec"] if kind == "wsl" else ["exec", "box1"]
    assert fake.calls() == [[*expected, sys.executable, "-m", "tray", "--registry-dir", far.directory, "status",
                             "--json"]]


@pytest.mark.parametrize(("kind", "recorded", "line"), [
    ("wsl", "wsl-no-distro", "unreachable — Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND"),
    ("wsl", "wsl-not-installed", "Orchestray is not installed on box1"),
    ("docker", "docker-no-container", "unreachable — No such container: web"),
    ("docker", "docker-stopped", "unreachable — container 3f5c0b2 is not running"),
    ("docker", "docker-not-installed", "Orchestray is not installed on box1"),
    ("docker", "docker-no-daemon", "unreachable — Cannot connect to the Docker daemon at "
                                   "unix:///var/run/docker.sock. Is the docker daemon running?"),
])
def test_recorded_failures_of_wsl_and_docker_are_one_line(kind: str, recorded: str, line: str,
                                                          tmp_path: Path) -> None:
    fake = FakeTransport(kind, tmp_path)
    fake.reply([], recorded)
    source = Source(SourceKind(kind), "box1")
    result = transport.run(source, sources.status_args(source), env={**os.environ, fake.variable: fake.command})
    assert transport.failure(source, result) == line


def test_a_remote_projects_menu_acts_only_over_there_and_says_the_sources_state(tmp_path: Path) -> None:
    """Every action under a remote project carries its source; nothing in it opens, focuses or creates anything
    on this machine (its folders are over there, even when a folder of that name exists here)."""
    from tray.app import menu as m

    here = tmp_path / "srv" / "api"
    here.mkdir(parents=True)  # the same path exists here: still nothing local is offered for the remote project
    answer = json.loads(_answer(cwd=str(here)))
    answer["projects"][0].update(key=str(here), root=str(here))
    worker = dict(answer["projects"][0]["orchestrators"][0], sessionId="work-2", role="worker")
    answer["projects"][0]["workers"] = [worker]
    stale = dict(worker, sessionId="gone-3", alive=False)
    answer["projects"][0]["stale"] = [stale]
    seen = remote.parse_status(DEVBOX, json.dumps(answer).encode())
    settings = m.MenuSettings(sources=("⚠ web: unreachable — No such container: web",))
    menu = m.build_menu(seen, settings, lambda root, name: str(here / name), now=time.time())
    texts = [item.text for item in menu if not item.separator]
    assert texts[0].startswith("● devbox: api — ok (2 sessions, 1 stale)")
    assert "⚠ web: unreachable — No such container: web" in texts
    assert next(i for i in menu if i.text.startswith("Clean up")).enabled is False  # nothing stale here

    def walk(items):  # type: ignore[no-untyped-def]
        return [x for i in items for x in (i, *walk(i.children))]

    inside = walk(menu[0].children)
    kinds = {item.action.kind for item in inside if item.action is not None}
    assert kinds == {m.ActionKind.VACATE, m.ActionKind.PROMOTE, m.ActionKind.OPEN_HANDOVER, m.ActionKind.CLEAN}
    assert all(item.action.source == "ssh:devbox" for item in inside if item.action is not None)
