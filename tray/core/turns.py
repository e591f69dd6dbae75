"""Turn changes that fire no hook, read from what Claude Code itself records, when the tray looks.

The hooks mark a turn's start (`UserPromptSubmit`: working), its end (`Stop`, or `StopFailure` when the API
failed: waiting) and a permission prompt (`Notification`: needs you). Two changes fire no hook at all (observed
with Claude Code 2.1.332): the user approving a permission (the session works again) and Esc (the turn is
interrupted; the session waits). A hook on every tool call (`PreToolUse`/`PostToolUse`) would see the first one
only, and at the price of a process start per tool call (see `bench/turn_signals.py` and docs/decisions.md).
Instead, when a snapshot is built, the sessions the hooks left "working" or "needs you" (and only those) are
checked against:

1. Claude Code's own session file, `<config>/sessions/<pid>.json`, which the client rewrites whenever its
   state changes (`status`: `busy`, `idle`, or `waiting` for a permission). It is used when it names the same
   process and session id and changed after the hooks' record.
2. Without a usable session file (another version of Claude Code), the tail of the session's transcript, whose
   path the hooks recorded: an interruption marker (`[Request interrupted by user`) after the hooks' record
   ends the turn; a tool result after a permission prompt means the permission was answered.

Each read is bounded and never blocks (regular files only, non-blocking open, size caps: the transcript is
read from its last 64 KiB), and anything unexpected leaves the hooks' record as it is. Nothing is written: the
result is only what the snapshot shows.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from typing import Any, Dict, Iterator, Optional

from tray.core.activity import ATTENTION, WAITING, WORKING, Activity
from tray.core.fsutil import ReadRefused, read_regular_file

STATUS_FILE_LIMIT = 64 * 1024
TRANSCRIPT_TAIL = 64 * 1024
INTERRUPTED_MARK = "[Request interrupted by user"
#: Claude Code's `status` in its session file -> our activity state.
CLIENT_STATES = {"busy": WORKING, "idle": WAITING, "waiting": ATTENTION}


def refine(activity: Activity, pid: int, session_id: str) -> Activity:
    """The session's activity as Claude Code last recorded it, when that is newer than the hooks' record."""
    if activity.state == WAITING or not activity.transcript:
        return activity
    config = claude_config_of(activity.transcript)
    status = client_status(config, pid, session_id) if config else None
    if status is not None:
        return _from_status(activity, *status)
    return _from_transcript(activity)


def claude_config_of(transcript: str) -> str:
    """`<config>/projects/<project>/<session>.jsonl` -> `<config>`; "" for any other shape."""
    project_dir = os.path.dirname(transcript)
    projects = os.path.dirname(project_dir)
    if os.path.basename(projects) != "projects" or not transcript.endswith(".jsonl"):
        return ""
    return os.path.dirname(projects)


def client_status(config: str, pid: int, session_id: str) -> Optional[tuple[str, float, str]]:
    """(state, since, detail) from Claude Code's `sessions/<pid>.json`, or None when it is absent or not ours."""
    try:
        data = json.loads(read_regular_file(os.path.join(config, "sessions", f"{pid}.json"), STATUS_FILE_LIMIT))
    except (OSError, ReadRefused, ValueError, RecursionError):  # any parse error: not ours to understand
        return None
    if not isinstance(data, dict) or data.get("pid") != pid or data.get("sessionId") != session_id:
        return None
    state = CLIENT_STATES.get(str(data.get("status")))
    updated = data.get("statusUpdatedAt", data.get("updatedAt"))
    if state is None or isinstance(updated, bool) or not isinstance(updated, (int, float)) or updated <= 0:
        return None
    waiting_for = data.get("waitingFor")
    return state, float(updated) / 1000.0, waiting_for if isinstance(waiting_for, str) else ""


def _from_status(activity: Activity, state: str, since: float, detail: str) -> Activity:
    if state == activity.state or since <= activity.since:
        # Older than the hooks' record: Claude Code has not caught up yet (at a prompt the hook can write first),
        # or the file is left over from a client that no longer updates it. The hooks' record stands.
        return activity
    return activity.moved_to(state, since, detail if state == ATTENTION else "")


def _from_transcript(activity: Activity) -> Activity:
    latest: Optional[Activity] = None
    for entry in transcript_tail(activity.transcript):
        kind = entry.get("type")
        if kind not in ("user", "assistant"):
            continue
        when = _timestamp(entry.get("timestamp"))
        if when is None or when < activity.since:
            continue
        if kind == "user" and _interrupted(entry):
            latest = activity.moved_to(WAITING, when, "interrupted")
        elif kind == "user" and activity.state == ATTENTION and _has_tool_result(entry):
            latest = activity.moved_to(WORKING, when)
        elif kind == "user" and latest is not None and latest.state == WAITING:
            latest = None  # a new prompt after the interruption: its own hook decides
    return latest or activity


def transcript_tail(path: str, limit: int = TRANSCRIPT_TAIL) -> Iterator[Dict[str, Any]]:
    """The JSON objects of the whole lines in the last `limit` bytes of a transcript; nothing if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        start = max(0, info.st_size - limit)
        os.lseek(fd, start, os.SEEK_SET)
        raw = os.read(fd, limit)
    except OSError:
        return
    finally:
        os.close(fd)
    lines = raw.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first line is cut
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a line being written, or not ours to understand (nested too deeply, huge numbers)
        if isinstance(entry, dict):
            yield entry


def _timestamp(value: object) -> Optional[float]:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _blocks(entry: Dict[str, Any]) -> list[Any]:
    message = entry.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def _interrupted(entry: Dict[str, Any]) -> bool:
    return any(isinstance(b, dict) and b.get("type") == "text" and str(b.get("text", "")).startswith(INTERRUPTED_MARK)
               for b in _blocks(entry))


def _has_tool_result(entry: Dict[str, Any]) -> bool:
    return any(isinstance(b, dict) and b.get("type") == "tool_result" for b in _blocks(entry))
