"""The actions that change the registry: register, deregister, vacate, promote, clean.

Each one holds the registry lock for its whole read-modify-write, re-reads the registry and re-checks liveness
inside the lock (never trusting an older snapshot), writes atomically, and never removes the entry of a live
process. One module of about 400 lines because they are one discipline: every rule that changes the registry,
and what goes with an entry (its activity file), is here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

from tray.core.activity import activity_dir, remove_activity
from tray.core.entry import (
    ROLE_ORCHESTRATOR,
    ROLE_VACATING,
    ROLE_WORKER,
    ROLES,
    Entry,
    InvalidCwd,
    Unreadable,
    check_cwd,
    check_session_id,
    new_entry,
    utc_now_iso,
    valid_session_id,
)
from tray.core.fields import PROMOTED_AT, PROMOTION_PENDING, VACATED_AT
from tray.core.fsutil import TEMP_SUFFIX, NotOurs, fit_name, private_dir, replace, unlink_quietly
from tray.core.liveness import LivenessProbe, process_create_time
from tray.core.projects import ProjectResolver
from tray.core.registry import Registry
from tray.core.snapshot import ProjectView, Session, Snapshot, build_snapshot

# A file that cannot be parsed may be a writer's half-done work: leave it this long before cleaning it away.
UNREADABLE_GRACE_SECONDS = 300.0
QUARANTINE_DIR = ".quarantine"
# An activity file without an entry is kept this long: a prompt hook repairing a lost registration writes its
# activity first. Past it, the file (it holds the user's last prompt) goes with `clean`.
ORPHAN_ACTIVITY_GRACE = 60.0


class ActionRefused(Exception):
    """The action would break a rule of the protocol (exit code 1)."""


class BadInput(ValueError):
    """The request itself is wrong: unknown session, no such process, bad role (exit code 2)."""


def _fresh(registry: Registry, resolver: Optional[ProjectResolver]) -> Snapshot:
    return build_snapshot(registry, resolver, LivenessProbe())


def _project_of(snapshot: Snapshot, session: Session) -> ProjectView:
    view = snapshot.project(session.project.key)
    assert view is not None  # every session belongs to a project of its own snapshot
    return view


@dataclass(frozen=True)
class RegisterResult:
    entry: Entry
    created: bool  # False when the session was already registered and nothing changed
    replaced: Optional[str] = None  # the session id this one replaced (same process, e.g. after /clear)


def register(
    registry: Registry,
    session_id: str,
    pid: int,
    cwd: str,
    role: Optional[str] = None,
    resolver: Optional[ProjectResolver] = None,
) -> RegisterResult:
    """Register a session and decide its role by the orchestrator rule (docs/protocol.md, "Roles")."""
    check_session_id(session_id)
    if role is not None and role not in ROLES:
        raise BadInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if process_create_time(pid) is None:
        raise BadInput(f"no running process has pid {pid}")
    try:
        cwd = check_cwd(cwd)  # never write an entry the registry would call unreadable
    except InvalidCwd as bad:
        raise BadInput(str(bad)) from None
    resolver = resolver or ProjectResolver()
    project = resolver.resolve(cwd)
    with registry.lock():
        snapshot = _fresh(registry, resolver)
        own = snapshot.session(session_id)
        if own is not None and own.alive and own.entry.pid == pid and role in (None, own.role):
            return RegisterResult(own.entry, created=False)
        unreadable_own = next((u for u in snapshot.unreadable if u.session_id == session_id), None)
        if unreadable_own is not None:
            raise ActionRefused(
                f"the registry file of session {session_id} is unreadable ({unreadable_own.error}); "
                f"fix or remove {unreadable_own.path}"
            )
        predecessor = next(
            (s for s in snapshot.sessions if s.alive and s.entry.pid == pid and s.session_id != session_id),
            None,
        )
        others_orchestrating = [
            s
            for s in snapshot.sessions
            if s.alive
            and s.project.key == project.key
            and s.role == ROLE_ORCHESTRATOR
            and s.session_id != session_id
            and s is not predecessor
        ]
        inherited = predecessor.role if predecessor is not None else (own.role if own is not None else None)
        wanted = role or inherited
        if wanted == ROLE_ORCHESTRATOR and others_orchestrating:
            if role == ROLE_ORCHESTRATOR:
                holder = others_orchestrating[0]
                raise ActionRefused(
                    f"project {project.name} already has a live orchestrator: {holder.session_id} "
                    f"(pid {holder.entry.pid}); use 'orchestray promote --force' to take over"
                )
            wanted = None
        if wanted is None:
            wanted = ROLE_WORKER if others_orchestrating else ROLE_ORCHESTRATOR
        base = predecessor.entry if predecessor is not None else (own.entry if own is not None else None)
        entry = new_entry(session_id, pid, cwd, wanted)
        if base is not None:
            # After `/clear` the new id inherits everything, a promotion not yet told included: the notice
            # (read HANDOVER.md) then reaches the new conversation at its first prompt.
            started = base.started_at if base.pid == pid else entry.started_at
            entry = entry.replace(extra=dict(base.extra), started_at=started)
        written = registry.write(entry)
        if predecessor is not None:
            registry.remove(predecessor.session_id)
            remove_activity(registry.directory, predecessor.session_id)
        return RegisterResult(written, created=True, replaced=predecessor.session_id if predecessor else None)


def deregister(registry: Registry, session_id: str) -> bool:
    """Remove a session's own entry (it is ending), and its activity. True if there was an entry.

    A FIFO, a folder or a device under the entry's name is not an entry anybody wrote: like `clean`, we leave it
    alone and say so (`NotOurs`: one line), after removing the activity (the session did end).
    """
    check_session_id(session_id)
    with registry.lock():
        remove_activity(registry.directory, session_id)
        path = registry.path_for(session_id)
        if os.path.lexists(path) and not _movable(path):
            raise NotOurs(f"{path} is not a regular file; left alone (not an entry Orchestray can remove)")
        return registry.remove(session_id)


def _live_session(snapshot: Snapshot, session_id: str) -> Session:
    session = snapshot.session(session_id)
    if session is None:
        if any(u.session_id == session_id for u in snapshot.unreadable):
            raise BadInput(f"the registry file of session {session_id} is unreadable")
        raise BadInput(f"no session {session_id} in the registry")
    if not session.alive:
        raise ActionRefused(f"session {session_id} is not running (pid {session.entry.pid} is gone)")
    return session


def vacate(registry: Registry, session_id: str) -> Entry:
    """The orchestrator hands over: its role becomes `vacating` until a worker is promoted."""
    check_session_id(session_id)
    with registry.lock():
        session = _live_session(_fresh(registry, None), session_id)
        if session.role == ROLE_VACATING:
            return session.entry
        if session.role != ROLE_ORCHESTRATOR:
            raise ActionRefused(f"session {session_id} is a {session.role}; only the orchestrator can vacate")
        extra = dict(session.entry.extra, **{VACATED_AT: utc_now_iso()})
        return registry.write(session.entry.replace(role=ROLE_VACATING, extra=extra))


@dataclass(frozen=True)
class PromoteResult:
    entry: Entry
    demoted: Tuple[str, ...] = ()  # live orchestrators turned into workers (--force)
    removed: Tuple[str, ...] = ()  # dead orchestrators' entries removed
    already: bool = False


def promote(registry: Registry, session_id: str, force: bool = False) -> PromoteResult:
    """Make a live worker the orchestrator of its project (docs/decisions.md, "Promotion under a live orchestrator")."""
    check_session_id(session_id)
    with registry.lock():
        snapshot = _fresh(registry, None)
        session = _live_session(snapshot, session_id)
        if session.role == ROLE_ORCHESTRATOR:
            return PromoteResult(session.entry, already=True)
        view = _project_of(snapshot, session)
        rivals = [s for s in view.orchestrators if s.session_id != session_id]
        if rivals and not force:
            holder = rivals[0]
            raise ActionRefused(
                f"project {view.name} has a live orchestrator {holder.session_id} (pid {holder.entry.pid}); "
                "use --force to demote it"
            )
        for rival in rivals:
            registry.write(rival.entry.replace(role=ROLE_WORKER))
        dead = [s for s in view.stale if s.role == ROLE_ORCHESTRATOR]
        for corpse in dead:
            registry.remove(corpse.session_id)
            remove_activity(registry.directory, corpse.session_id)  # its last prompt goes with its entry
        extra = dict(session.entry.extra)
        extra.update({PROMOTED_AT: utc_now_iso(), PROMOTION_PENDING: True})
        written = registry.write(session.entry.replace(role=ROLE_ORCHESTRATOR, extra=extra))
        return PromoteResult(
            written,
            demoted=tuple(r.session_id for r in rivals),
            removed=tuple(c.session_id for c in dead),
        )


def take_promotion_notice(registry: Registry, session_id: str) -> Optional[Entry]:
    """If this session was promoted and not yet told, clear the flag and return its entry (told once)."""
    with registry.lock():
        record = registry.get(session_id)
        if not isinstance(record, Entry) or not record.extra.get(PROMOTION_PENDING):
            return None
        extra = {k: v for k, v in record.extra.items() if k != PROMOTION_PENDING}
        return registry.write(record.replace(extra=extra))


@dataclass(frozen=True)
class CleanResult:
    removed: Tuple[Session, ...] = ()  # dead sessions' entries
    quarantined: Tuple[Unreadable, ...] = ()  # unreadable files past the grace period, moved aside
    waiting: Tuple[Unreadable, ...] = ()  # unreadable files still within the grace period
    ignored: Tuple[Unreadable, ...] = ()  # folders, pipes, devices named *.json: never touched
    temporaries: Tuple[str, ...] = field(default=())  # our own half-written temp files left by a crash
    activities: Tuple[str, ...] = field(default=())  # activity files (the last prompt) whose entry is gone
    problems: Tuple[str, ...] = ()  # one line per thing that could not be done; the rest was still done


def clean(
    registry: Registry,
    dry_run: bool = False,
    grace: float = UNREADABLE_GRACE_SECONDS,
    now: Optional[float] = None,
) -> CleanResult:
    """Remove stale entries; move unreadable files older than `grace` into `.quarantine/` (nothing is lost).

    One file that cannot be moved (or removed) is a line in `problems`, never the end of the clean: every
    other file is still handled.
    """
    now = time.time() if now is None else now
    if not os.path.lexists(registry.directory):  # nothing to clean; do not create the folder
        return CleanResult()
    with registry.lock():
        snapshot = _fresh(registry, None)
        dead = tuple(s for s in snapshot.sessions if not s.alive)
        ignored: List[Unreadable] = []
        old: List[Unreadable] = []
        young: List[Unreadable] = []
        for record in snapshot.unreadable:  # one pass: this ran in quadratic time with thousands of files
            if not _movable(record.path):
                ignored.append(record)
            elif record.mtime and now - record.mtime >= grace:
                old.append(record)
            else:
                young.append(record)
        temporaries = tuple(_old_temporaries(registry.directory, now, grace))
        # Every entry's own activity stays here (a dead one's goes with its entry below).
        kept = {s.session_id for s in snapshot.sessions} | {u.session_id for u in snapshot.unreadable}
        orphans = tuple(_orphan_activities(registry.directory, kept, now))
        result = CleanResult(
            removed=dead, quarantined=tuple(old), waiting=tuple(young), ignored=tuple(ignored),
            temporaries=temporaries, activities=orphans,
        )
        if dry_run:
            return result
        problems: List[str] = []
        removed: List[Session] = []
        for session in dead:
            # Re-check with a fresh probe at the last moment: a PID can only die, never come back to life
            # for the same startedAt, but we stay on the safe side regardless.
            if LivenessProbe().alive(session.entry.pid, session.entry.reference_ts(time.time())):
                continue
            try:
                registry.remove(session.session_id)
                removed.append(session)
            except OSError as error:
                problems.append(f"could not remove {session.entry.path}: {error.strerror or error}")
                continue
            remove_activity(registry.directory, session.session_id)
        for name in orphans:
            remove_activity(registry.directory, name)
        moved = _quarantine_all(registry.directory, old, now, problems)
        for record in moved:  # an entry moved aside is gone from the registry: its last prompt goes too
            if valid_session_id(record.session_id):
                remove_activity(registry.directory, record.session_id)
        for path in temporaries:
            unlink_quietly(path)
        return dataclasses.replace(result, removed=tuple(removed), quarantined=moved, problems=tuple(problems))


def _orphan_activities(directory: str, kept: Set[str], now: float) -> List[str]:
    """Activity files (and our leftover temporaries there) of sessions that have no entry any more.

    Only files older than ORPHAN_ACTIVITY_GRACE: the prompt hook of a session whose registration was lost
    writes its activity a moment before it registers again. Folders and anything else are left alone, a link is
    removed as a link (never what it points to), and a `.activity` that is not our own folder is not looked at.
    """
    folder = activity_dir(directory)
    try:
        fd = private_dir(folder, create=False)
    except (NotOurs, OSError):
        return []
    found = []
    try:
        for name in os.listdir(fd if fd is not None else folder):
            session_id = name.split(".", 1)[0] if name.endswith(".tmp") else name
            if session_id in kept or not valid_session_id(session_id):
                continue
            try:
                info = os.lstat(name, dir_fd=fd) if fd is not None else os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)) and (
                now - info.st_mtime >= ORPHAN_ACTIVITY_GRACE
            ):
                found.append(name)
    except OSError:
        return []
    finally:
        if fd is not None:
            os.close(fd)
    return sorted(found)


def _movable(path: str) -> bool:
    """Only plain files and links are moved aside; a folder or device named *.json is left alone."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def _quarantine_all(
    directory: str, records: List[Unreadable], now: float, problems: List[str]
) -> Tuple[Unreadable, ...]:
    """Move each record's file into `.quarantine/`; what could not be moved is said in `problems`."""
    if not records:
        return ()
    target_dir = os.path.join(directory, QUARANTINE_DIR)
    try:
        fd = private_dir(target_dir)
    except NotOurs as refused:
        problems.append(f"unreadable files left in place: {refused}")
        return ()
    except OSError as error:
        problems.append(f"unreadable files left in place: cannot create {target_dir}: {error.strerror or error}")
        return ()
    moved: List[Unreadable] = []
    try:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
        taken = set(os.listdir(fd if fd is not None else target_dir))
        for record in records:
            name = _quarantine_name(os.path.basename(record.path), stamp, taken)
            try:
                if fd is not None:
                    replace(record.path, name, dst_dir_fd=fd)
                else:
                    replace(record.path, os.path.join(target_dir, name))
            except OSError as error:
                problems.append(f"could not move aside {record.path}: {error.strerror or error}")
                continue
            taken.add(name)
            moved.append(record)
    finally:
        if fd is not None:
            os.close(fd)
    return tuple(moved)


def _quarantine_name(name: str, stamp: str, taken: Set[str]) -> str:
    """`<name>.<stamp>[.<n>]`, never an earlier quarantined file's name, within the file-name limit.

    A 255-byte file name plus the stamp is too long for any file system: the name is shortened to fit.
    """
    counter = 1
    while True:
        suffix = f".{stamp}" + (f".{counter}" if counter > 1 else "")
        candidate = fit_name(name, len(suffix)) + suffix
        if candidate not in taken:
            return candidate
        counter += 1


def _old_temporaries(directory: str, now: float, grace: float) -> List[str]:
    found: List[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in names:
        if name.startswith(".") and name.endswith(TEMP_SUFFIX) and ".json." in name:
            path = os.path.join(directory, name)
            try:
                if now - os.lstat(path).st_mtime >= grace:
                    found.append(path)
            except OSError:
                continue
    return found
