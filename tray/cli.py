"""The `orchestray` command line: a thin shell over the core (README.md, "Command line"; docs/decisions.md).

Exit codes: 0 done; 1 refused (the action would break a rule; one line on stderr says why); 2 bad usage or bad
input. No traceback ever reaches the user: details go to the log file.
Imports stay light: nothing here pulls in pystray, Pillow or plyer unless the tray itself is started.
One module past 400 lines because it is the whole argument grammar and its one exit-code discipline; each
command body is a few lines over the core.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from typing import Any, Callable, NoReturn, Optional, Sequence

from tray import __version__
from tray.core.paths import SESSION_ENV
from tray.hooks.events import SUBCOMMANDS

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad usage or bad input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _registry(args: argparse.Namespace):
    from tray.core.paths import registry_dir
    from tray.core.registry import Registry

    registry = Registry(registry_dir(getattr(args, "registry_dir", None)))
    registry.check_modes()
    return registry


def _warn(line: str) -> None:
    if sys.stderr is not None:  # a windowed Windows program has no stderr: the log has the line
        sys.stderr.write(f"orchestray: warning: {line}\n")


def _print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeError, LookupError):
        # A file name that is not text (raw bytes on Linux) or a console code page without some character:
        # escape it rather than fail or write bytes a JSON reader would reject.
        text = json.dumps(data, indent=2, ensure_ascii=True)
    sys.stdout.write(text + "\n")


def _resolve_session_id(args: argparse.Namespace, registry) -> str:
    """--session-id, else $CLAUDE_CODE_SESSION_ID, else the entry of the calling Claude Code (or shell) process."""
    if getattr(args, "session_id", None) is not None:  # an explicit empty id is refused, not ignored
        return args.session_id
    from_env = os.environ.get(SESSION_ENV)
    if from_env:
        return from_env
    owned = _session_of_pid(registry, args)
    if owned is None:
        raise UsageError(
            "no session given: pass --session-id, or run this inside Claude Code "
            f"(which sets ${SESSION_ENV})"
        )
    return owned


def _caller_pid(args: argparse.Namespace) -> int:
    if getattr(args, "pid", None):
        return args.pid
    from tray.core.ancestry import session_pid

    return session_pid()


def _session_of_pid(registry, args: argparse.Namespace) -> Optional[str]:
    from tray.core.entry import Entry

    pid = _caller_pid(args)
    for record in registry.scan():
        if isinstance(record, Entry) and record.pid == pid:
            return record.session_id
    return None


# --- commands -------------------------------------------------------------------------------------------


def cmd_register(args: argparse.Namespace) -> int:
    from tray.core.actions import register

    registry = _registry(args)
    pid = _caller_pid(args)
    session_id = args.session_id  # an explicit --session-id, even an empty one, is validated, never ignored
    if session_id is None:
        session_id = os.environ.get(SESSION_ENV) or _session_of_pid(registry, args) or _new_session_id()
    cwd = os.path.abspath(args.cwd) if args.cwd else os.getcwd()
    result = register(registry, session_id, pid, cwd, role=args.role)
    if args.verbose:
        print(f"{result.entry.role} {result.entry.session_id} pid {result.entry.pid}")
    else:
        print(result.entry.role)
    return EXIT_OK


def cmd_deregister(args: argparse.Namespace) -> int:
    from tray.core.actions import deregister

    registry = _registry(args)
    session_id = _resolve_session_id(args, registry)
    if deregister(registry, session_id):
        print(f"deregistered {session_id}")
    else:
        print(f"{session_id} was not registered")
    return EXIT_OK


def cmd_vacate(args: argparse.Namespace) -> int:
    from tray.core.actions import vacate

    registry = _registry(args)
    entry = vacate(registry, _resolve_session_id(args, registry))
    print(f"{entry.session_id} is vacating: promote a worker to take over")
    print(handover_line(entry.cwd, entry.started_ts))
    return EXIT_OK


def handover_line(cwd: str, started: float, now: Optional[float] = None) -> str:
    """Where the project's HANDOVER.md is and whether this session wrote it (fresh) or it is older."""
    from tray.core import handover
    from tray.core.fmt import format_age
    from tray.core.projects import ProjectResolver

    root = ProjectResolver().resolve(cwd).root
    found = handover.look(root)
    if not found.exists:
        return (f"no HANDOVER.md in {root}: write one there before you go (`orchestray handover --create` or the "
                "tray's menu makes one from the template)")
    assert found.modified is not None
    age = format_age((time.time() if now is None else now) - found.modified)
    if found.fresh(started):
        return f"HANDOVER.md: {found.path} (fresh: written {age} ago, during this session)"
    return f"HANDOVER.md: {found.path} is older than this session (written {age} ago): bring it up to date"


def cmd_spawn(args: argparse.Namespace) -> int:
    from tray.core.projects import ProjectResolver
    from tray.platform.spawn import BadName, SpawnRefused, spawn

    root = ProjectResolver().resolve(os.path.abspath(args.cwd or os.getcwd())).root
    try:
        started = spawn(root, args.name, args.tmux)
    except BadName as bad:
        return _fail(EXIT_BAD_INPUT, str(bad))
    except SpawnRefused as refused:
        return _fail(EXIT_REFUSED, str(refused))
    print(f"started {started.terminal} running claude --worktree in {root}")
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from tray.core.actions import promote

    result = promote(_registry(args), args.session, force=args.force)
    if result.already:
        print(f"{result.entry.session_id} is already the orchestrator")
        return EXIT_OK
    for demoted in result.demoted:
        print(f"demoted {demoted} to worker")
    for removed in result.removed:
        print(f"removed dead orchestrator {removed}")
    print(f"{result.entry.session_id} is now the orchestrator")
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from tray.core.actions import clean
    from tray.core.fmt import printable as shown  # hostile file names must not drive the terminal

    result = clean(_registry(args), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for session in result.removed:
        entry = session.entry
        print(f"{verb} stale {entry.role} {shown(entry.session_id)} (pid {entry.pid}, {shown(session.project.name)})")
    for record in result.quarantined:
        moved = "would move aside" if args.dry_run else "moved aside"
        print(f"{moved} unreadable {shown(os.path.basename(record.path))} ({shown(record.error)})")
    for record in result.waiting:
        name, error = shown(os.path.basename(record.path)), shown(record.error)
        print(f"kept unreadable {name} for now ({error}; may be mid-write)")
    for record in result.ignored:
        print(f"left alone {shown(os.path.basename(record.path))} ({shown(record.error)})")
    if result.activities:
        print(f"{verb} {len(result.activities)} activity file(s) of sessions that are gone")
    if not (result.removed or result.quarantined or result.waiting or result.ignored or result.activities
            or result.problems):
        print("nothing to clean")
    for problem in result.problems:
        sys.stderr.write(f"orchestray: {problem}\n")
    return EXIT_REFUSED if result.problems else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from tray.core.snapshot import build_snapshot

    _print_json(build_snapshot(_registry(args)).list_json())
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from tray.core.snapshot import build_snapshot

    snapshot = build_snapshot(_registry(args))
    if args.json:
        _print_json(snapshot.status_json())
    else:
        from tray.core import projectfiles, tasklists, teams
        from tray.summary import render_summary

        # What the tray's menu shows beside the registry: TRAFFIC.md, HANDOVER.md, task lists, agent teams.
        files = projectfiles.gather(snapshot)
        configs = [tasklists.session_place(s.session_id, s.entry.pid).config for v in snapshot.projects for s in v.live]
        sys.stdout.write(render_summary(snapshot, files=files, teams=teams.read_all(configs)))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    args.json = False
    return cmd_status(args)


def cmd_hooks(args: argparse.Namespace) -> int:
    from tray.hooks.commands import run_hooks_command

    return run_hooks_command(args)


def cmd_hook(args: argparse.Namespace) -> int:
    from tray.hooks.handlers import run_hook

    return run_hook(args.event, registry_dir=getattr(args, "registry_dir", None))


def cmd_tray(args: argparse.Namespace) -> int:
    from tray.app.main import run_tray

    return run_tray(args)


def cmd_self_test(args: argparse.Namespace) -> int:
    from tray.selftest import run

    return run(report_path=args.report, registry_dir=getattr(args, "registry_dir", None), notify=args.notify)


def cmd_autostart(args: argparse.Namespace) -> int:
    from tray.platform import autostart
    from tray.platform.launch import tray_executable

    backend = autostart.for_platform()
    try:
        if args.action == "on":
            backend.enable(autostart.launch_command(executable=tray_executable()))
        elif args.action == "off":
            backend.disable()
    except autostart.AutostartError as error:
        return _fail(EXIT_REFUSED, str(error))
    state = "on" if backend.is_enabled() else "off"
    print(f"start at login: {state} ({backend.describe()})")
    return EXIT_OK


def _spec_of(item: object) -> str:
    """The normalised spec of a stored source (as written when it cannot be parsed)."""
    from tray.core.sources import BadSource, parse_spec

    text = item.get("spec") if isinstance(item, dict) else item
    if not isinstance(text, str):
        return ""
    try:
        kind, target = parse_spec(text)
    except BadSource:
        return text
    return f"{kind}:{target}"


def cmd_sources(args: argparse.Namespace) -> int:
    from tray.app.config import ConfigStore
    from tray.core.sources import BadSource, describe, from_config, make_source, watch_args
    from tray.platform.transport import argv

    store = ConfigStore()
    config = store.load()
    if store.broken:
        return _fail(EXIT_REFUSED, f"{store.problem}: fix or move it before changing sources")
    known, problems = from_config(config.sources)
    for problem in problems:
        _warn(f"config.json: {problem}")
    if args.action == "list":
        if not known:
            print("no other sources: this machine's registry only (add one: orchestray sources add ssh:HOST)")
        for line in describe(known):
            print(line)
        return EXIT_OK
    if not args.spec:
        raise UsageError(f"sources {args.action} needs a source: ssh:HOST, wsl:DISTRO or docker:CONTAINER")
    try:
        source = make_source(args.spec, args.command or "")
    except BadSource as bad:
        raise UsageError(str(bad)) from None
    others = [item for item in config.sources if _spec_of(item) != source.spec]
    if args.action == "remove":
        if len(others) == len(config.sources):
            return _fail(EXIT_REFUSED, f"{source.spec} is not a source (see 'orchestray sources list')")
        config.sources = others
        store.save(config)
        print(f"removed {source.spec}")
        print("a running tray stops following it by itself: no restart needed")
        return EXIT_OK
    config.sources = [*others, source.to_config()]
    store.save(config)
    # ssh's words are quoted for the remote shell already; the others are shown as a shell would take them.
    show = " ".join if source.kind == "ssh" else shlex.join
    follow = argv(source, watch_args(source, config.source_poll_interval))
    print(f"added {source.spec}; the tray follows it with: {show(follow)}")
    print("Orchestray must be installed there, with its hooks: "
          f"{show(argv(source, [*source.command, 'hooks', 'install']))}")
    print("a running tray starts following it by itself: no restart needed")
    return EXIT_OK


def cmd_handover(args: argparse.Namespace) -> int:
    from tray.core import handover
    from tray.core.fsutil import ReadRefused, read_regular_file
    from tray.core.projects import ProjectResolver

    root = ProjectResolver().resolve(os.path.abspath(args.cwd or os.getcwd())).root
    if args.create:
        return _create_from_template("HANDOVER.md", root)
    found = handover.look(root)
    if not found.exists:
        return _fail(EXIT_REFUSED, f"no HANDOVER.md in {root}")  # the tray shows this line for other machines
    if not args.print:
        print(found.path)
        return EXIT_OK
    try:
        data = read_regular_file(found.path, HANDOVER_PRINT_LIMIT, follow=True)
    except ReadRefused as refused:
        return _fail(EXIT_REFUSED, f"{found.path}: {refused}")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    return EXIT_OK


HANDOVER_PRINT_LIMIT = 1024 * 1024


def cmd_traffic(args: argparse.Namespace) -> int:
    """The path of the project's TRAFFIC.md, or with --create a new one from the template (never over a file)."""
    from tray.core import traffic
    from tray.core.projects import ProjectResolver

    root = ProjectResolver().resolve(os.path.abspath(args.cwd or os.getcwd())).root
    if args.create:
        return _create_from_template("TRAFFIC.md", root)
    path = os.path.join(root, traffic.TRAFFIC_FILE)
    if not os.path.isfile(path) or os.path.islink(path):
        return _fail(EXIT_REFUSED, f"no TRAFFIC.md in {root} (orchestray traffic --create makes one from the "
                                   "template)")
    print(path)
    return EXIT_OK


def _create_from_template(name: str, root: str) -> int:
    """HANDOVER.md or TRAFFIC.md from the protocol's template in `root` (the menu's "Create ..."); print its path.
    Refused, and nothing written, when the file (or anything of that name) is there already."""
    from tray.core import handover, traffic
    from tray.core.projects import project_name

    create = handover.create if name == "HANDOVER.md" else traffic.create
    try:
        path = create(root, project_name(root))
    except traffic.AlreadyThere:
        return _fail(EXIT_REFUSED, f"{name} exists already in {root}: left as it is")
    except OSError as error:
        return _fail(EXIT_REFUSED, f"cannot create {name} in {root}: {error.strerror or error}")
    print(f"created {path}")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from tray.watchcmd import run

    if not 0.2 <= args.heartbeat <= 3600:
        raise UsageError("--heartbeat must be between 0.2 and 3600 seconds")
    done = run(_registry(args), sys.stdout.buffer, as_json=args.json, heartbeat=args.heartbeat)
    try:  # the reader is gone: nothing more may be flushed to it at exit (that would print a warning)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return done


# --- parser ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--registry-dir", metavar="DIR", default=argparse.SUPPRESS, help="registry folder (default: ~/.claude/active)"
    )
    parser = _Parser(
        prog="orchestray",
        description="See and keep safe the orchestrator/worker registry of your Claude Code sessions.",
    )
    parser.add_argument("--version", action="version", version=f"orchestray {__version__}")
    parser.add_argument("--registry-dir", metavar="DIR", default=None, help="registry folder")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    tray_cmd = add("tray", cmd_tray, "start the tray icon (the default)")
    tray_cmd.add_argument("--poll-interval", type=float, default=None, metavar="SECONDS")
    tray_cmd.add_argument("--verbose", action="store_true", help="log debug detail")

    reg = add("register", cmd_register, "register this session and print the role it takes")
    reg.add_argument("--session-id", metavar="ID")
    reg.add_argument("--cwd", metavar="DIR", help="the session's folder (default: the current folder)")
    reg.add_argument("--pid", type=int, metavar="PID", help="the session's process (default: Claude Code's)")
    reg.add_argument("--role", choices=["orchestrator", "worker", "vacating"])
    reg.add_argument("--verbose", "-v", action="store_true", help="also print the session id and pid")

    for name, func, text in (
        ("deregister", cmd_deregister, "remove this session's registration"),
        ("vacate", cmd_vacate, "hand over: mark this orchestrator as vacating"),
    ):
        command = add(name, func, text)
        command.add_argument("--session-id", metavar="ID")
        command.add_argument("--pid", type=int, metavar="PID", help=argparse.SUPPRESS)

    add("check", cmd_check, "human summary of every project")
    add("list", cmd_list, "every registry file as JSON")
    status = add("status", cmd_status, "every project's state (add --json for the machine-readable form)")
    status.add_argument("--json", action="store_true")

    promote = add("promote", cmd_promote, "make a live worker its project's orchestrator")
    promote.add_argument("session", metavar="SESSION_ID")
    promote.add_argument("--force", action="store_true", help="demote a live orchestrator to worker")

    spawn = add("spawn", cmd_spawn, "open a terminal running a new worker: claude --worktree in the project's root")
    spawn.add_argument("--name", metavar="N", help="the worktree's name (default: Claude Code picks one)")
    spawn.add_argument("--tmux", action="store_true", help="pass --tmux: the worktree in a detached tmux session")
    spawn.add_argument("--cwd", metavar="DIR", help="a folder of the project (default: the current folder)")

    clean = add("clean", cmd_clean, "remove stale entries")
    clean.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    hooks = add("hooks", cmd_hooks, "install, uninstall or inspect Orchestray's Claude Code hooks")
    hooks.add_argument("action", choices=["install", "uninstall", "status"])
    hooks.add_argument(
        "--settings", metavar="PATH", help="Claude Code settings.json (default: ~/.claude/settings.json)"
    )
    hooks.add_argument("--registry-shim", action="store_true", help="also write registry.py beside settings.json")
    hooks.add_argument(
        "--form",
        choices=["auto", "exec", "shell"],
        default="auto",
        help="install: exec form (program + arguments, no shell; Claude Code 2.1.139 and later) or a shell "
        "command line; auto (default) asks the installed `claude --version`",
    )

    hook = add("hook", cmd_hook, "run a hook handler (Claude Code calls these; reads the hook JSON on stdin)")
    hook.add_argument("event", choices=list(SUBCOMMANDS))

    self_test = add("self-test", cmd_self_test, "check this install (tray backend, notifications, folders, hooks) "
                    "and write a JSON report; exit 0 when every required check passed")
    self_test.add_argument("--report", metavar="FILE", help="write the report to FILE instead of stdout")
    self_test.add_argument("--notify", action="store_true", help="also send a test notification")

    sources = add("sources", cmd_sources, "other machines to show: ssh:HOST, wsl:DISTRO, docker:CONTAINER")
    sources.add_argument("action", choices=["list", "add", "remove"])
    sources.add_argument("spec", nargs="?", metavar="SOURCE", help="ssh:HOST, wsl:DISTRO or docker:CONTAINER")
    sources.add_argument("--command", metavar="CMD", help="how to run Orchestray over there (default: orchestray), "
                         "e.g. /home/me/.local/bin/orchestray")

    handover_cmd = add("handover", cmd_handover, "print the path of the project's HANDOVER.md (--print: its text; "
                       "--create: make it from the template)")
    handover_cmd.add_argument("--cwd", metavar="DIR", help="a folder of the project (default: the current folder)")
    handover_what = handover_cmd.add_mutually_exclusive_group()
    handover_what.add_argument("--print", action="store_true", help="print the file's text instead of its path")
    handover_what.add_argument("--create", action="store_true", help="create it from the template (project and "
                               "date filled in) where there is none")

    traffic_cmd = add("traffic", cmd_traffic, "print the path of the project's TRAFFIC.md (--create: make it from "
                      "the template)")
    traffic_cmd.add_argument("--cwd", metavar="DIR", help="a folder of the project (default: the current folder)")
    traffic_cmd.add_argument("--create", action="store_true", help="create it from the template (project name "
                             "filled in) where there is none")

    watch = add("watch", cmd_watch, "print the status again at each change, until stopped (the tray runs "
                "`watch --json` on other machines)")
    watch.add_argument("--json", action="store_true", help="one JSON line per change (as status --json), and a "
                       "heartbeat line when nothing changed for --heartbeat seconds")
    watch.add_argument("--heartbeat", type=float, default=10.0, metavar="SECONDS")

    autostart = add("autostart", cmd_autostart, "start the tray at login: on, off, or show the status")
    autostart.add_argument("action", choices=["on", "off", "status"])
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--self-test"]:  # alias: `orchestray --self-test [--report FILE]`
        argv = ["self-test", *argv[1:]]
    if argv[:1] == ["hook"]:  # and only then: the tray and the other commands never load the handlers
        from tray.hooks.handlers import hook_call

        done = hook_call(argv)  # the hot path: Claude Code runs it on every prompt; no argparse, never fails
        if done is not None:
            return done
    for stream in (sys.stdout, sys.stderr):
        try:  # a file name that is not valid text must not kill the human output (`check`, `clean`)
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    from tray.core.fsutil import set_warning_sink

    set_warning_sink(_warn)  # what the core says once (a registry open to others, a planted link) reaches the user
    parser = build_parser()
    args = parser.parse_args(argv or ["tray"])
    if not hasattr(args, "func"):
        args = parser.parse_args(["tray"])
    del parser  # the tray runs for days inside dispatch: its resident memory need not hold the whole grammar
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _fail(EXIT_REFUSED, "interrupted")
    except Exception as error:  # noqa: BLE001 - sorted out in _failed: the user sees one line
        return _failed(args, error)


def _failed(args: argparse.Namespace, error: Exception) -> int:
    """The exit code and the one line for what a command raised. The exception classes are imported once one
    was raised: the tray runs for days inside `dispatch` and needs none of their modules (actions.py) at rest."""
    from tray.core.actions import ActionRefused, BadInput
    from tray.core.entry import InvalidSessionId
    from tray.core.fsutil import NotOurs
    from tray.core.lock import LockTimeout

    if isinstance(error, ActionRefused):
        return _fail(EXIT_REFUSED, str(error))
    if isinstance(error, (BadInput, InvalidSessionId, UsageError)):
        return _fail(EXIT_BAD_INPUT, str(error))
    if isinstance(error, LockTimeout):
        return _fail(EXIT_REFUSED, f"{error}; try again")
    if isinstance(error, NotOurs):
        return _fail(EXIT_REFUSED, str(error))
    if isinstance(error, BrokenPipeError):
        return EXIT_OK
    if isinstance(error, OSError):
        from tray.core.log import log_exception

        log_exception(f"orchestray {args.command}: {error}")
        where = f": {error.filename}" if error.filename else ""
        return _fail(EXIT_BAD_INPUT, f"{error.strerror or error}{where}")
    from tray.core.log import log_exception, log_path

    log_exception(f"orchestray {args.command} failed")
    return _fail(EXIT_BAD_INPUT, f"internal error: {error} (details in {log_path()})")


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"orchestray: {message}\n")
    return code


def _new_session_id() -> str:
    """A fresh session id; `uuid` (and the C module it loads) only for the command that needs one, not for the
    tray, which starts from this module."""
    import uuid

    return str(uuid.uuid4())
