"""Claude Code's shared task lists: which list each session uses, and what the list holds.

The on-disk format, as the Claude Code client (2.1.332) writes and validates it: a list is the folder
`<config>/tasks/<list id>/` (the id with every character outside `[A-Za-z0-9_-]` turned into `-`), each task
one file `<n>.json` (`n` a positive integer) holding `{"id", "subject", "description", "activeForm"?,
"owner"?, "status": "pending" | "in_progress" | "completed", "blocks": [ids], "blockedBy": [ids],
"metadata"?}`; `.lock` and `.highwatermark` beside them are the client's own. A task is blocked, as the client
decides when one is claimed, while any task in its `blockedBy` is not completed.

A session's list is `CLAUDE_CODE_TASK_LIST_ID` from its environment (the variable the protocol has every
sharing terminal export, which the hooks inherit too), else its own session id (the client's default for a
session outside a team); its config folder is its `CLAUDE_CONFIG_DIR`, else `~/.claude`. Both are read from
the session process's environment (psutil), once per process. Task files are read like every other file here:
never blocking, size-capped, regular files only; one that does not parse or does not fit the schema is counted
as unreadable and shown as such.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from tray.core.fsutil import ReadRefused, read_regular_file

LIST_ENV = "CLAUDE_CODE_TASK_LIST_ID"
CONFIG_ENV = "CLAUDE_CONFIG_DIR"
TASK_LIMIT = 256 * 1024  # one task file; the client's are a few hundred bytes
MAX_TASKS = 2000  # files looked at per list: a runaway folder costs the tray a bounded amount of work
STATUSES = ("pending", "in_progress", "completed")
_TASK_FILE = re.compile(r"[1-9][0-9]{0,8}\.json")


def sanitize(list_id: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", list_id)


@dataclass(frozen=True)
class Task:
    id: str
    subject: str
    status: str
    owner: str = ""
    blocked_by: Tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskList:
    list_id: str
    folder: str
    tasks: Tuple[Task, ...] = ()
    unreadable: int = 0
    problem: str = ""  # the folder itself could not be read

    def is_blocked(self, task: Task) -> bool:
        unfinished = {t.id for t in self.tasks if t.status != "completed"}
        return task.status != "completed" and any(b in unfinished for b in task.blocked_by)

    def counts(self) -> Dict[str, int]:
        """open (pending, not blocked) / in progress / blocked / done."""
        found = {"open": 0, "in progress": 0, "blocked": 0, "done": 0}
        for task in self.tasks:
            if task.status == "completed":
                found["done"] += 1
            elif task.status == "in_progress":
                found["in progress"] += 1
            elif self.is_blocked(task):
                found["blocked"] += 1
            else:
                found["open"] += 1
        return found

    def summary(self) -> str:
        """`2 open · 1 in progress · 1 blocked · 3 done` (zeros left out), `⚠ N unreadable` appended."""
        parts = [f"{n} {word}" for word, n in self.counts().items() if n]
        if self.unreadable:
            parts.append(f"⚠ {self.unreadable} unreadable")
        if self.problem:
            parts.append(f"⚠ {self.problem}")
        return " · ".join(parts) or "no tasks"


def parse_task(data: bytes) -> Optional[Task]:
    """A task file's content, or None when it is not one (bad JSON, not the client's schema)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    task_id, subject, status = raw.get("id"), raw.get("subject"), raw.get("status")
    blocked_by, owner = raw.get("blockedBy"), raw.get("owner")
    if not isinstance(task_id, str) or not isinstance(subject, str) or status not in STATUSES:
        return None
    if not isinstance(blocked_by, list) or not all(isinstance(b, str) for b in blocked_by):
        return None
    if owner is not None and not isinstance(owner, str):
        return None
    return Task(task_id, subject, status, owner or "", tuple(blocked_by))


def read_list(config: str, list_id: str) -> Optional[TaskList]:
    """The task list `list_id` under the config folder `config`; None when there is no such list."""
    folder = os.path.join(config, "tasks", sanitize(list_id))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    except OSError as error:
        return TaskList(list_id, folder, problem=f"cannot read it ({error.strerror or error})")
    tasks: List[Task] = []
    unreadable = 0
    for name in sorted((n for n in names if _TASK_FILE.fullmatch(n)), key=lambda n: int(n[:-5]))[:MAX_TASKS]:
        try:
            task = parse_task(read_regular_file(os.path.join(folder, name), TASK_LIMIT))
        except FileNotFoundError:
            continue  # deleted while we looked
        except (OSError, ReadRefused):
            task = None
        if task is None or task.id != name[:-5]:
            unreadable += 1
        else:
            tasks.append(task)
    return TaskList(list_id, folder, tuple(tasks), unreadable)


@dataclass(frozen=True)
class Where:
    """Which task list a session uses."""

    config: str
    list_id: str


def where(session_id: str, environ: Optional[Mapping[str, str]], home: str = "") -> Where:
    """From a session process's environment (None: unknown, e.g. another user's process)."""
    env = environ or {}
    config = env.get(CONFIG_ENV) or os.path.join(home or env.get("HOME") or os.path.expanduser("~"), ".claude")
    return Where(config, env.get(LIST_ENV) or session_id)


_cache: Dict[Tuple[int, str], Optional[Dict[str, str]]] = {}


def process_environ(pid: int, session_id: str) -> Optional[Dict[str, str]]:
    """The two variables we need from a process's environment, asked once per (pid, session)."""
    key = (pid, session_id)
    if key in _cache:
        return _cache[key]
    found: Optional[Dict[str, str]]
    try:
        import psutil

        env = psutil.Process(pid).environ()
        found = {k: env[k] for k in (LIST_ENV, CONFIG_ENV, "HOME") if k in env}
    except Exception:  # noqa: BLE001 - gone, another user's, or not supported here: unknown
        found = None
    if len(_cache) > 4096:
        _cache.clear()
    _cache[key] = found
    return found


def session_place(session_id: str, pid: int) -> Where:
    """Where the live session `session_id` (process `pid`) keeps its task list: from its environment."""
    return where(session_id, process_environ(pid, session_id))


def held(task_list: TaskList, session_id: str, own_list: bool) -> Tuple[Task, ...]:
    """The unfinished tasks a session holds: owned by it by name (its id or 8-character prefix), or, in a list
    that is the session's own (named after its id), every task in progress with no other owner."""
    from tray.core.traffic import names_match

    return tuple(
        task for task in task_list.tasks
        if task.status != "completed"
        and (names_match(task.owner, session_id) or (own_list and task.status == "in_progress" and not task.owner))
    )


def for_sessions(sessions: Sequence[Tuple[str, int]]) -> Tuple[Tuple[TaskList, ...], Dict[str, Tuple[Task, ...]]]:
    """The task lists of these live sessions ((session id, pid)), each once, and the tasks each session holds."""
    lists: Dict[Tuple[str, str], TaskList] = {}
    holding: Dict[str, Tuple[Task, ...]] = {}
    present: Dict[str, Optional[Set[str]]] = {}  # per config folder: the names in its `tasks` folder (None: unknown)
    for session_id, pid in sessions:
        place = session_place(session_id, pid)
        config = os.path.normpath(place.config)
        key = (config, sanitize(place.list_id))
        if config not in present:
            try:  # one listing per config instead of one failed listing per session that has no list
                present[config] = set(os.listdir(os.path.join(place.config, "tasks")))
            except FileNotFoundError:
                present[config] = set()
            except OSError:
                present[config] = None  # read_list says what is wrong
        names = present[config]
        if names is not None and key[1] not in names:
            continue
        if key not in lists:
            found = read_list(place.config, place.list_id)
            if found is None:
                continue
            lists[key] = found
        tasks = held(lists[key], session_id, place.list_id == session_id)
        if tasks:
            holding[session_id] = tasks
    return tuple(lists.values()), holding


def as_json(task_list: TaskList) -> Dict[str, Any]:
    return {"list": task_list.list_id, "folder": task_list.folder, **task_list.counts(),
            "unreadable": task_list.unreadable}
