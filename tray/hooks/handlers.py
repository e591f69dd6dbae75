"""The hook handlers Claude Code runs: `orchestray hook session-start|prompt|session-end|stop|notification`.

Contract (DESIGN.md, "Claude Code hooks"): read the hook JSON on stdin; never fail Claude Code (any error is
logged, the handler exits 0 and prints nothing); print only the role at session start and a promoted worker's
one-time notice at its next prompt, as context for the model. The prompt hook runs on every prompt, so its
common case (registered, nothing to say) reads one small file and imports neither psutil nor argparse.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any, Dict, List, Optional

SESSION_ENV = "CLAUDE_CODE_SESSION_ID"
HOOK_LOCK_TIMEOUT = 3.0
MAX_STDIN_BYTES = 1024 * 1024
EVENTS = ("session-start", "prompt", "session-end", "stop", "notification")
HOOK_EVENT_NAMES = {"session-start": "SessionStart", "prompt": "UserPromptSubmit"}


def run_hook_argv(argv: List[str]) -> int:
    """Entry from `orchestray hook EVENT [--registry-dir DIR]`, parsed by hand to stay fast."""
    event = argv[0] if argv else ""
    registry_dir = None
    rest = argv[1:]
    for index, arg in enumerate(rest):
        if arg == "--registry-dir" and index + 1 < len(rest):
            registry_dir = rest[index + 1]
        elif arg.startswith("--registry-dir="):
            registry_dir = arg.split("=", 1)[1]
    return run_hook(event, registry_dir=registry_dir)


def run_hook(
    event: str,
    registry_dir: Optional[str] = None,
    stdin: Optional[IO[str]] = None,
    stdout: Optional[IO[str]] = None,
) -> int:
    """Run one handler; always returns 0."""
    out = stdout or sys.stdout
    try:
        if event not in EVENTS:
            raise ValueError(f"unknown hook event {event!r}")
        payload = read_payload(stdin or sys.stdin)
        text = HANDLERS[event](payload, _registry(registry_dir))
        if text:
            out.write(json.dumps({"hookSpecificOutput": {"hookEventName": HOOK_EVENT_NAMES[event],
                                                         "additionalContext": text}}))
            out.write("\n")
            out.flush()
    except BaseException:  # noqa: BLE001 - a hook must never fail Claude Code, not even on Ctrl-C
        from tray.core.log import log_exception

        log_exception(f"hook {event} failed")
    return 0


def read_payload(stream: IO[str]) -> Dict[str, Any]:
    """The hook's JSON object; garbage gives an empty dict (the environment may still name the session)."""
    try:
        raw = stream.read(MAX_STDIN_BYTES)
    except (OSError, ValueError):
        return {}
    try:
        data = json.loads(raw) if raw and raw.strip() else {}
    except ValueError:
        from tray.core.log import get_logger

        get_logger("hook").warning("hook stdin is not JSON (%d bytes); using the environment", len(raw))
        return {}
    return data if isinstance(data, dict) else {}


def _registry(registry_dir: Optional[str]):
    from tray.core.paths import registry_dir as resolve
    from tray.core.registry import Registry

    return Registry(resolve(registry_dir), lock_timeout=HOOK_LOCK_TIMEOUT)


def session_id_of(payload: Dict[str, Any]) -> str:
    from tray.core.entry import check_session_id

    value = payload.get("session_id") or os.environ.get(SESSION_ENV) or ""
    return check_session_id(value)


def cwd_of(payload: Dict[str, Any]) -> str:
    cwd = payload.get("cwd")
    if isinstance(cwd, str) and cwd:
        return cwd
    return os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()


def _register(payload: Dict[str, Any], registry):
    from tray.core.actions import register
    from tray.core.ancestry import session_pid

    return register(registry, session_id_of(payload), session_pid(), cwd_of(payload))


def on_session_start(payload: Dict[str, Any], registry) -> str:
    result = _register(payload, registry)
    return role_context(registry, result.entry)


def on_prompt(payload: Dict[str, Any], registry) -> str:
    from tray.core.actions import PROMOTION_PENDING, take_promotion_notice

    session_id = session_id_of(payload)
    record = _peek(registry.path_for(session_id))
    if record is None:
        _register(payload, registry)  # a lost registration (hook missed, file removed): repair silently
        return ""
    if not record.get(PROMOTION_PENDING):
        return ""
    entry = take_promotion_notice(registry, session_id)
    return promotion_notice(entry) if entry is not None else ""


def on_session_end(payload: Dict[str, Any], registry) -> str:
    from tray.core.actions import deregister

    deregister(registry, session_id_of(payload))
    return ""


def on_activity(payload: Dict[str, Any], registry) -> str:
    """`Stop` (after every answer) and `Notification`: never deregister here; activity tracking comes later."""
    return ""


HANDLERS = {
    "session-start": on_session_start,
    "prompt": on_prompt,
    "session-end": on_session_end,
    "stop": on_activity,
    "notification": on_activity,
}


def _peek(path: str) -> Optional[Dict[str, Any]]:
    """The entry's raw JSON if the file is there and readable, without validating (the cheap common case)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.loads(handle.read(64 * 1024))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # present but unreadable: leave it to the user and the tray, do not rewrite it
    return data if isinstance(data, dict) else {}


def role_context(registry, entry) -> str:
    """What a session is told at start: its role, and who else works on the project."""
    from tray.core.snapshot import build_snapshot

    snapshot = build_snapshot(registry)
    session = snapshot.session(entry.session_id)
    if session is None:
        return ""
    view = snapshot.project(session.project.key)
    name = session.project.name
    if entry.role == "orchestrator":
        workers = len(view.workers) if view else 0
        return (
            f"Orchestray: you are the ORCHESTRATOR of project {name} ({workers} live worker(s)). "
            f"Coordinate through TRAFFIC.md in {session.project.root}; before your context fills up, write "
            "HANDOVER.md there and run `orchestray vacate`."
        )
    holder = view.orchestrator if view else None
    who = f"{holder.session_id} (pid {holder.entry.pid})" if holder else "none live"
    return (
        f"Orchestray: you are a {entry.role.upper()} in project {name}; the orchestrator is {who}. "
        f"Claim your task scope in TRAFFIC.md in {session.project.root} before editing files."
    )


def promotion_notice(entry) -> str:
    from tray.core.projects import ProjectResolver

    project = ProjectResolver().resolve(entry.cwd)
    handover = os.path.join(project.root, "HANDOVER.md")
    where = f"Read {handover} first: it is the previous orchestrator's handover." if os.path.isfile(handover) else (
        f"There is no HANDOVER.md in {project.root}; check TRAFFIC.md for the state of the work."
    )
    return f"Orchestray: you have been PROMOTED to orchestrator of project {project.name}. {where}"
