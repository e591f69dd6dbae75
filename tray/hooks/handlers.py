"""The hook handlers Claude Code runs: `orchestray hook session-start|prompt|session-end|stop|stop-failure|...`.

Contract (docs/protocol.md, "Claude Code's hooks"; docs/decisions.md, "Exit codes"): read the hook JSON on
stdin; never fail Claude Code (any error is logged, the handler exits 0 and prints nothing); print only the role
at session start and a promoted worker's one-time notice at its next prompt, as context for the model. The
prompt hook runs on every prompt, so its common case (registered, nothing to say) reads one small file and
imports neither psutil nor argparse. One module past 400 lines because the fast path (hand-parsed argv and
stdin, the JSON-free field scanner) and the handlers it leads to are read and measured together.
"""

from __future__ import annotations

import os
import sys

from tray.core.fields import PROMOTION_PENDING
from tray.core.paths import SESSION_ENV
from tray.hooks.events import EVENT_OF, PROBE_ENV, SUBCOMMANDS
from tray.hooks.hookinput import MAX_STDIN_BYTES, STDIN_DEADLINE_SECONDS, read_stdin  # noqa: F401 - re-exported

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the prompt hook counts milliseconds
if TYPE_CHECKING:
    from typing import IO, Any, Dict, List, Optional

HOOK_LOCK_TIMEOUT = 3.0
EVENTS = SUBCOMMANDS
HOOK_EVENT_NAMES = EVENT_OF


def hook_call(argv: List[str]) -> Optional[int]:
    """Run `hook EVENT ...` without the command line's imports (the hot path); None for anything else.

    Only a known event takes this path, so `orchestray hook --help` and typos still get argparse's answer.
    """
    if len(argv) >= 2 and argv[0] == "hook" and argv[1] in EVENTS:
        return run_hook_argv(argv[1:])
    return None


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
    probe = os.environ.get(PROBE_ENV)
    if probe:
        return answer_probe(event, probe)
    return run_hook(event, registry_dir=registry_dir)


def answer_probe(event: str, nonce: str, stdout: Optional[IO[str]] = None) -> int:
    """Prove that this hook command really runs: load what the handlers load, answer, change nothing.

    Nothing is printed for an unknown event or when an import fails (the prober reports the hook broken).
    """
    try:
        if event not in EVENTS:
            return 0
        import json

        import tray.core.actions  # noqa: F401 - the handlers' dependencies (psutil among them)
        import tray.core.ancestry  # noqa: F401
        import tray.core.registry  # noqa: F401

        out = stdout or sys.stdout
        out.write(json.dumps({"orchestrayProbe": nonce, "event": event}) + "\n")
        out.flush()
    except BaseException:  # noqa: BLE001 - the prober sees the missing answer
        pass
    return 0


class Payload:
    """The hook's stdin, parsed only when a handler needs more than the session id.

    Claude Code also puts the session id in `$CLAUDE_CODE_SESSION_ID`; when the raw JSON visibly carries that
    same id, the prompt hook's common case never imports `json` at all.
    """

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._data: Optional[Dict[str, Any]] = None

    @property
    def data(self) -> Dict[str, Any]:
        if self._data is None:
            self._data = parse_payload(self.raw)
        return self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def string_field(self, key: str) -> str:
        """A top-level string field, read without the `json` module when the text allows it."""
        found = _scan_string_field(self.raw, key)
        if found is None:
            value = self.get(key)
            return value if isinstance(value, str) else ""
        return found

    @property
    def session_id(self) -> str:
        from_env = os.environ.get(SESSION_ENV, "")
        if from_env and _safe_id(from_env) and (not self.raw.strip() or f'"{from_env}"' in self.raw):
            return from_env
        return checked_session_id(self.get("session_id") or from_env)


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _scan_string_field(raw: str, key: str, limit: int = 512):
    """The start (up to `limit` characters) of the string value of `"key":` in compact JSON, or None.

    None means "not sure" (absent, not a string, an escape we do not decode here): the caller then parses the
    JSON properly. Only a key can be followed by a colon, so a value that happens to equal the key is skipped.
    """
    needle = f'"{key}"'
    start = 0
    while True:
        at = raw.find(needle, start)
        if at < 0:
            return None
        before = at - 1
        while before >= 0 and raw[before] in " \t\r\n":
            before -= 1
        if before < 0 or raw[before] not in "{,":  # inside another string (`"x\"prompt"`), not a key
            start = at + 1
            continue
        index = at + len(needle)
        while index < len(raw) and raw[index] in " \t\r\n":
            index += 1
        if index < len(raw) and raw[index] == ":":
            break
        start = at + 1
    index += 1
    while index < len(raw) and raw[index] in " \t\r\n":
        index += 1
    if index >= len(raw) or raw[index] != '"':
        return None
    out: List[str] = []
    index += 1
    while index < len(raw) and len(out) < limit:
        char = raw[index]
        if char == '"':
            return "".join(out)
        if char == "\\":
            escape = raw[index + 1 : index + 2]
            if escape not in _ESCAPES:
                return None  # \uXXXX and anything odd: let json decode it
            out.append(_ESCAPES[escape])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out) if len(out) >= limit else None


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
        payload = Payload(read_stdin(stdin or sys.stdin))
        from tray.core.paths import registry_dir as resolve

        folder = resolve(registry_dir)
        handler = HANDLERS[event]
        text = handler(payload, folder) if handler in FOLDER_HANDLERS else handler(payload, _registry(folder))
        if text:
            import json

            context = {"hookEventName": HOOK_EVENT_NAMES[event], "additionalContext": text}
            out.write(json.dumps({"hookSpecificOutput": context}) + "\n")
            out.flush()
    except BaseException as error:  # noqa: BLE001 - a hook must never fail Claude Code, not even on Ctrl-C
        from tray.core.fsutil import NotOurs

        if isinstance(error, NotOurs):  # a link planted at the registry lock: one line, not a traceback
            from tray.core.log import get_logger

            get_logger("hook").warning("hook %s: %s", event, error)
        else:
            from tray.core.log import log_exception

            log_exception(f"hook {event} failed")
    return 0


def parse_payload(raw: str) -> Dict[str, Any]:
    """The hook's JSON object; garbage gives an empty dict (the environment may still name the session)."""
    import json

    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        from tray.core.log import get_logger

        get_logger("hook").warning("hook stdin is not JSON (%d bytes); using the environment", len(raw))
        return {}
    return data if isinstance(data, dict) else {}


def _registry(folder: str):
    from tray.core.registry import Registry

    return Registry(folder, lock_timeout=HOOK_LOCK_TIMEOUT)


SESSION_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def _safe_id(value: object) -> bool:
    """The rule of `entry.SESSION_ID_RE`, without importing `re`."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and value[0].isascii()
        and value[0].isalnum()
        and SESSION_ID_CHARS.issuperset(value)
    )


def checked_session_id(value: object) -> str:
    if not _safe_id(value):
        from tray.core.entry import check_session_id

        check_session_id(value)  # raises with the standard message
    return value  # type: ignore[return-value]


def cwd_of(payload: Payload) -> str:
    cwd = payload.get("cwd")
    if isinstance(cwd, str) and cwd:
        return cwd
    return os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()


def _register(payload: Payload, registry):
    from tray.core.actions import register
    from tray.core.ancestry import session_pid

    return register(registry, payload.session_id, session_pid(), session_cwd(payload))


def session_cwd(payload: Payload) -> str:
    """The folder to register: the payload's `cwd`, made absolute; one the registry would reject is replaced.

    An entry with a `cwd` holding a NUL or longer than 4,096 characters would be called unreadable by every
    reader and moved aside by `clean` while its session lives: such a `cwd` is logged in one line and the
    folder Claude Code runs the hook in is registered instead.
    """
    from tray.core.entry import InvalidCwd, check_cwd

    given = cwd_of(payload)
    try:
        used = check_cwd(given)
        if used != given and not os.path.isabs(given):
            from tray.core.log import get_logger

            get_logger("hook").warning("relative session folder %r registered as %s", given[:200], used)
        return used
    except InvalidCwd as bad:
        fallback = os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()
        try:
            used = check_cwd(fallback)
        except InvalidCwd:
            used = check_cwd(os.getcwd())
        from tray.core.log import get_logger

        get_logger("hook").warning("%s; registering session folder %s instead", bad, used)
        return used


def on_session_start(payload: Payload, registry) -> str:
    result = _register(payload, registry)
    _mark(registry.directory, result.entry.session_id, "waiting", prompt="",
          transcript=payload.string_field("transcript_path"))
    return role_context(registry, result.entry)


def on_prompt(payload: Payload, registry_dir: str) -> str:
    session_id = payload.session_id
    _mark(registry_dir, session_id, "working", prompt=payload.string_field("prompt"),
          transcript=payload.string_field("transcript_path"))
    raw = _peek(os.path.join(registry_dir, session_id + ".json"))
    if raw is not None and f'"{PROMOTION_PENDING}"' not in raw:
        return ""  # the common case: registered, nothing to say; no JSON parsing, no further import
    registry = _registry(registry_dir)
    if raw is None:
        _register(payload, registry)  # a lost registration (hook missed, file removed): repair silently
        return ""
    from tray.core.actions import take_promotion_notice

    entry = take_promotion_notice(registry, session_id)
    return promotion_notice(entry) if entry is not None else ""


#: SessionEnd reasons after which the same process goes on with another session id (observed with 2.1.332).
SAME_PROCESS_REASONS = ("clear", "resume")


def on_session_end(payload: Payload, registry) -> str:
    """The session ends: its entry goes, with its activity (`actions.deregister` removes both).

    Except for `/clear` and `/resume` inside a session: Claude Code ends the session (reason `clear` or
    `resume`) and at once starts another one, with another id (a new one, or the resumed conversation's), in the
    same process. The entry stays for that `SessionStart`, whose `register` replaces it and so inherits its role
    (orchestrator, worker or vacating), its `startedAt` and a promotion not yet told. Should that SessionStart
    never come, the next prompt's hook (a lost registration) does the same replacement, and a process that exits
    first leaves an ordinary stale entry.
    """
    from tray.core.actions import deregister

    if payload.string_field("reason") in SAME_PROCESS_REASONS:
        return ""
    deregister(registry, payload.session_id)
    return ""


def on_stop(payload: Payload, registry_dir: str) -> str:
    """`Stop` fires after every answer, not at the end of the session: the session now waits for its user.

    Never deregister here (the protocol's original "Stop deletes the registration" would drop a live session).
    """
    _mark_registered(registry_dir, payload.session_id, "waiting")
    return ""


def on_stop_failure(payload: Payload, registry_dir: str) -> str:
    """`StopFailure`: the turn ended in an API error (no `Stop` comes): the session waits for its user."""
    error = str(payload.get("error") or "")
    _mark_registered(registry_dir, payload.session_id, "waiting", detail=f"turn failed: {error or 'API error'}")
    return ""


def on_notification(payload: Payload, registry_dir: str) -> str:
    """Claude Code asks for something: a permission answer (blocked on the user) or input after idling."""
    message = str(payload.get("message") or "")
    kind = str(payload.get("notification_type") or "").lower()
    if kind in ASKING_TYPES or (not kind and "permission" in message.lower()):
        _mark_registered(registry_dir, payload.session_id, "attention", detail=message or kind)
    elif kind in ("", "idle_prompt"):
        _mark_registered(registry_dir, payload.session_id, "waiting", detail=message, keep_since=True)
    return ""  # other kinds (auth_success, elicitation_complete...) change nothing


# Notification types (Claude Code's `notification_type`) where the session is blocked on an answer.
ASKING_TYPES = ("permission_prompt", "elicitation_dialog")


HANDLERS = {
    "session-start": on_session_start,
    "prompt": on_prompt,
    "session-end": on_session_end,
    "stop": on_stop,
    "stop-failure": on_stop_failure,
    "notification": on_notification,
}
# They take the registry folder, not a Registry.
FOLDER_HANDLERS = (on_prompt, on_stop, on_stop_failure, on_notification)


def _mark(registry_dir: str, session_id: str, state: str, detail: str = "", prompt=None,
          keep_since: bool = False, transcript: str = "") -> None:
    """Record the session's activity; a failure is logged and never stops the hook's real work."""
    try:
        from tray.core.activity import read_activity_file, write_activity

        now = None
        if keep_since:
            previous = read_activity_file(os.path.join(registry_dir, ".activity", session_id))
            if previous is not None and previous.state == state:
                now = previous.since
        write_activity(registry_dir, session_id, state, detail, prompt, now=now, transcript=transcript)
    except OSError:
        from tray.core.log import log_exception

        log_exception(f"could not record activity {state} of {session_id}")


def _mark_registered(registry_dir: str, session_id: str, state: str, detail: str = "",
                     keep_since: bool = False) -> None:
    """Activity for a session that is registered: nothing is written for one that is not."""
    if os.path.isfile(os.path.join(registry_dir, session_id + ".json")):
        _mark(registry_dir, session_id, state, detail, keep_since=keep_since)


def _peek(path: str) -> Optional[str]:
    """The entry file's text, '' if it cannot be read, None if there is none: no parsing in the common case.

    A file that is there but unreadable (a FIFO, a link, a folder, too large) is left to the user and the tray;
    the hook never rewrites it, and never waits on it: the non-blocking reader opens no FIFO.
    """
    from tray.core.fsutil import ReadRefused, read_regular_file

    try:
        return read_regular_file(path, 64 * 1024).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except (OSError, ReadRefused):
        return ""


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
    if entry.role == "vacating":  # e.g. after `/clear`: the new conversation must know it is handing over
        return (
            f"Orchestray: you are VACATING project {name}: you handed over as its orchestrator and wait until a "
            f"worker is promoted. Keep HANDOVER.md in {session.project.root} current; take on no new work."
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
