"""TRAFFIC.md: who works on what in a project, which files are claimed, recent handoffs.

The protocol keeps this as three Markdown tables in the project root, written by people and by sessions, so
the parser is tolerant of the hand edits such files get: tables are found by their `##` heading, columns by
their header name (reordered, extra or missing columns are fine), a short row just has empty cells, escaped
pipes (`\\|`) stay in their cell, backticks around a path are dropped. A file that is not text, is not a
regular file, is too large, or holds none of the three tables is reported as unreadable (`Traffic.problem`) and
never rewritten. Hand-written (no Markdown library): a Markdown parser would give us HTML-ish trees and still
leave the column mapping and the tolerance rules to us; the tables are a handful of lines.

Matching a table's "Session" to a registered session: the cell names the full session id, a prefix of it (at
least the 8 characters the menu shows), or the branch the session's folder has checked out (the worktree
pattern gives every session its own branch); hand-picked names like `S26` that match neither stay unmatched.

Orchestray writes TRAFFIC.md only to create it where it is missing (`create`), and then without ever replacing
a file that appeared meanwhile.

One module past 400 lines because reading the tables, matching them to sessions and rewriting the one table
the user lets us keep current share one model of the file (headings, column maps, row spans).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from tray.core.fsutil import ReadRefused, atomic_write_bytes, read_regular, read_regular_file

TRAFFIC_FILE = "TRAFFIC.md"
#: A coordination file is a few kilobytes; a megabyte is far beyond any real one, and bounds the tray's work.
SIZE_LIMIT = 1024 * 1024
GIT_HEAD_LIMIT = 4096
#: A session cell shorter than this never matches a session id by prefix (`S2` must not match `S2a…`).
MIN_ID_PREFIX = 8

SESSIONS = "sessions"
CLAIMS = "claims"
HANDOFFS = "handoffs"

#: `## heading` words that select each table (lower case, matched as substrings).
_SECTION_WORDS = ((SESSIONS, ("active session", "sessions")), (CLAIMS, ("claim",)), (HANDOFFS, ("handoff", "handover")))

#: Header names (lower case, spaces collapsed) accepted for each column.
_COLUMNS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    SESSIONS: {
        "session": ("session", "session id", "id", "name"),
        "role": ("role",),
        "domain": ("domain", "scope", "task", "area"),
        "branch": ("branch",),
        "updated": ("last update", "last updated", "updated", "update"),
    },
    CLAIMS: {
        "file": ("file", "files", "path", "paths"),
        "by": ("claimed by", "claimed_by", "by", "owner", "session"),
        "since": ("since", "claimed", "at", "time"),
    },
    HANDOFFS: {
        "source": ("from",),
        "target": ("to",),
        "branch": ("branch",),
        "status": ("status",),
    },
}

TEMPLATE = """# Traffic Control — {project}

## Active Sessions
| Session | Role | Domain | Branch | Last Update |
|---------|------|--------|--------|-------------|

## Claimed Files
| File | Claimed By | Since |
|------|------------|-------|

## Recent Handoffs
| From | To | Branch | Status |
|------|----|--------|--------|
"""


@dataclass(frozen=True)
class ActiveRow:
    session: str
    role: str = ""
    domain: str = ""
    branch: str = ""
    updated: str = ""


@dataclass(frozen=True)
class Claim:
    file: str
    by: str
    since: str = ""


@dataclass(frozen=True)
class Handoff:
    source: str
    target: str = ""
    branch: str = ""
    status: str = ""


@dataclass(frozen=True)
class Traffic:
    """A parsed TRAFFIC.md. `exists` False: there is none; `problem` non-empty: there is one we cannot read."""

    exists: bool = True
    problem: str = ""
    sessions: Tuple[ActiveRow, ...] = ()
    claims: Tuple[Claim, ...] = ()
    handoffs: Tuple[Handoff, ...] = ()

    @property
    def readable(self) -> bool:
        return self.exists and not self.problem


MISSING = Traffic(exists=False)


# --- parsing -----------------------------------------------------------------------------------------------


_PIPE = re.compile(r"(?<!\\)\|")


def _split_row(line: str) -> List[str]:
    """`| a | b \\| c |` -> ['a', 'b | c']: pipes split cells unless escaped; the outer pipes are optional."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells = _PIPE.split(text)
    return [_clean_cell(cell) for cell in cells]


def _clean_cell(cell: str) -> str:
    value = " ".join(cell.replace("\\|", "|").split())
    if len(value) >= 2 and value[0] == value[-1] == "`":
        value = value[1:-1].strip()
    return value


def _is_separator(cells: Sequence[str]) -> bool:
    return bool(cells) and all(re.fullmatch(r":?-{1,}:?", cell) for cell in cells if cell) and any(cells)


def _section_of(heading: str) -> Optional[str]:
    lowered = heading.lower()
    for name, words in _SECTION_WORDS:
        if any(word in lowered for word in words):
            return name
    return None


def _column_map(section: str, header: Sequence[str]) -> Dict[str, int]:
    """Which cell index holds each known column; the first header that names a column wins."""
    found: Dict[str, int] = {}
    for index, name in enumerate(header):
        key = " ".join(name.lower().split())
        for column, aliases in _COLUMNS[section].items():
            if column not in found and key in aliases:
                found[column] = index
                break
    return found


def _rows(lines: Iterable[str]) -> Dict[str, List[Dict[str, str]]]:
    tables: Dict[str, List[Dict[str, str]]] = {}
    section: Optional[str] = None
    columns: Optional[Dict[str, int]] = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("#"):
            section = _section_of(line.lstrip("#"))
            columns = None
            continue
        if section is None:
            continue
        if not _PIPE.search(line):  # GitHub tables may leave out the outer pipes: any unescaped pipe is a row
            if columns is not None and line:
                section, columns = None, None  # the table ended; prose until the next heading
            continue
        cells = _split_row(line)
        if columns is None:
            columns = _column_map(section, cells)
            tables.setdefault(section, [])
            continue
        if _is_separator(cells):
            continue
        row = {column: (cells[index] if index < len(cells) else "") for column, index in columns.items()}
        if any(row.values()):
            tables[section].append(row)
    return tables


def parse(text: str) -> Traffic:
    """Parse TRAFFIC.md's text; a text with none of the three tables is a `Traffic` with a problem."""
    tables = _rows(text.splitlines())
    if not tables:
        return Traffic(problem="no Active Sessions, Claimed Files or Recent Handoffs table")
    sessions = tuple(
        ActiveRow(r.get("session", ""), r.get("role", ""), r.get("domain", ""), r.get("branch", ""),
                  r.get("updated", ""))
        for r in tables.get(SESSIONS, []) if r.get("session")
    )
    claims = tuple(
        Claim(r.get("file", ""), r.get("by", ""), r.get("since", ""))
        for r in tables.get(CLAIMS, []) if r.get("file")
    )
    handoffs = tuple(
        Handoff(r.get("source", ""), r.get("target", ""), r.get("branch", ""), r.get("status", ""))
        for r in tables.get(HANDOFFS, []) if any(r.values())
    )
    return Traffic(sessions=sessions, claims=claims, handoffs=handoffs)


def decode(data: bytes) -> Tuple[str, str]:
    """(text, problem): binary data (a NUL byte, or not UTF-8) is a problem, not text."""
    if b"\0" in data:
        return "", "is not a text file"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return "", "is not UTF-8 text"


def read(root: str) -> Traffic:
    """TRAFFIC.md in the project folder `root`: never blocks (a FIFO is refused), never reads past SIZE_LIMIT."""
    path = os.path.join(root, TRAFFIC_FILE)
    try:
        data = read_regular_file(path, SIZE_LIMIT)
    except FileNotFoundError:
        return MISSING
    except NotADirectoryError:
        return MISSING
    except ReadRefused as refused:
        return Traffic(problem=str(refused))
    except OSError as error:
        return Traffic(problem=f"cannot be read ({error.strerror or error})")
    text, problem = decode(data)
    if problem:
        return Traffic(problem=problem)
    return parse(text)


# --- sessions and claims ------------------------------------------------------------------------------------


def git_branch(folder: str, root: str = "") -> str:
    """The branch checked out in `folder` (walking up to `root`, or the top): '' when detached or unknown.

    Reads `.git/HEAD` (or a worktree's `gitdir:` file and its HEAD) through the non-blocking reader."""
    current = os.path.normpath(folder)
    stop = os.path.normpath(root) if root else ""
    for _ in range(64):
        dot_git = os.path.join(current, ".git")
        head = ""
        if os.path.isdir(dot_git) and not os.path.islink(dot_git):
            head = _small(os.path.join(dot_git, "HEAD"))
        elif os.path.lexists(dot_git):
            pointer = _small(dot_git).strip()
            if pointer.startswith("gitdir:"):
                target = pointer[len("gitdir:"):].strip()
                gitdir = target if os.path.isabs(target) else os.path.join(current, target)
                head = _small(os.path.join(gitdir, "HEAD"))
        if head or os.path.lexists(dot_git):
            head = head.strip()
            return head[len("ref: refs/heads/"):] if head.startswith("ref: refs/heads/") else ""
        parent = os.path.dirname(current)
        if parent == current or (stop and os.path.normcase(current) == os.path.normcase(stop)):
            return ""
        current = parent
    return ""


def _small(path: str) -> str:
    try:
        return read_regular_file(path, GIT_HEAD_LIMIT, follow=True).decode("utf-8", "replace")
    except (OSError, ReadRefused):
        return ""


def _norm(name: str) -> str:
    return name.strip().lower()


def names_match(cell: str, session_id: str, branch: str = "") -> bool:
    """Does a table's session cell (or branch cell) name this session? See the module docstring."""
    value = _norm(cell)
    if not value:
        return False
    sid = _norm(session_id)
    if value == sid or (len(value) >= MIN_ID_PREFIX and sid.startswith(value)):
        return True
    return bool(branch) and value == _norm(branch)


@dataclass(frozen=True)
class SessionTraffic:
    """What TRAFFIC.md says about one registered session."""

    name: str  # the table's name for it (`S26`, a short id)
    domain: str = ""
    branch: str = ""
    claims: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Clash:
    """One file claimed by two or more live sessions."""

    file: str
    session_ids: Tuple[str, ...]


@dataclass(frozen=True)
class ProjectTraffic:
    """TRAFFIC.md as the tray shows it for one project: per live session, and the clashes between them."""

    traffic: Traffic = MISSING
    sessions: Mapping[str, SessionTraffic] = field(default_factory=dict)  # by session id
    clashes: Tuple[Clash, ...] = ()


def for_project(root: str, sessions: Sequence[Tuple[str, str]]) -> ProjectTraffic:
    """Read `root`'s TRAFFIC.md and match it to the live `sessions` ((session id, cwd) of each)."""
    traffic = read(root)
    if not traffic.readable:
        return ProjectTraffic(traffic=traffic)
    return for_sessions(traffic, [(sid, git_branch(cwd, root)) for sid, cwd in sessions])


def _row_for(traffic: Traffic, session_id: str, branch: str) -> Optional[ActiveRow]:
    for row in traffic.sessions:
        if names_match(row.session, session_id, branch):
            return row
    for row in traffic.sessions:  # no row names it: one whose branch column is the session's branch
        if branch and _norm(row.branch) == _norm(branch):
            return row
    return None


def for_sessions(traffic: Traffic, sessions: Sequence[Tuple[str, str]]) -> ProjectTraffic:
    """Match TRAFFIC.md's rows to `sessions` ((session id, branch) of each live session)."""
    if not traffic.readable:
        return ProjectTraffic(traffic=traffic)
    found: Dict[str, SessionTraffic] = {}
    owners: Dict[str, List[str]] = {}  # file -> live session ids claiming it
    shown: Dict[str, str] = {}
    for session_id, branch in sessions:
        row = _row_for(traffic, session_id, branch)
        aliases = [row.session] if row is not None else []
        claims = tuple(
            claim.file for claim in traffic.claims
            if names_match(claim.by, session_id, branch) or any(_norm(claim.by) == _norm(a) for a in aliases if a)
        )
        if row is None and not claims:
            continue
        found[session_id] = SessionTraffic(
            name=row.session if row is not None else "",
            domain=row.domain if row is not None else "",
            branch=(row.branch if row is not None and row.branch else branch),
            claims=claims,
        )
        for file in claims:
            key = _norm(file.strip("./"))
            shown.setdefault(key, file)
            if session_id not in owners.setdefault(key, []):
                owners[key].append(session_id)
    clashes = tuple(Clash(shown[key], tuple(ids)) for key, ids in owners.items() if len(ids) > 1)
    return ProjectTraffic(traffic=traffic, sessions=found, clashes=clashes)


# --- creating -----------------------------------------------------------------------------------------------


class AlreadyThere(Exception):
    """The file exists: Orchestray never replaces a file it is asked to create."""


def create_file(path: str, text: str) -> None:
    """Create `path` with `text`, whole (through a temp file), and never over a file that exists.

    The complete temp file is hard-linked to the name (which fails if anything holds it); where links are not
    supported the name is checked just before the rename instead."""
    class _Linked(Exception):
        pass

    def claim_name(temp: str) -> None:
        try:
            os.link(temp, path)
        except FileExistsError:
            raise AlreadyThere(path) from None
        except OSError:  # no hard links on this file system: check, then rename
            if os.path.lexists(path):
                raise AlreadyThere(path) from None
            return
        raise _Linked()

    if os.path.lexists(path):
        raise AlreadyThere(path)
    try:
        # 0644: a project file, committed and read by the team like any other (not a private registry file).
        atomic_write_bytes(path, text.encode("utf-8"), mode=0o644, before_replace=claim_name)
    except _Linked:
        pass  # the name holds the new file; atomic_write_bytes removed the temp name


def template(project: str) -> str:
    return TEMPLATE.format(project=" ".join(project.split()) or "project")


def create(root: str, project: str) -> str:
    """Create TRAFFIC.md from the template in `root`; its path. Raises AlreadyThere if one exists."""
    path = os.path.join(root, TRAFFIC_FILE)
    create_file(path, template(project))
    return path


# --- keeping Active Sessions current (only where the user turned it on) -----------------------------------------


@dataclass(frozen=True)
class LiveRow:
    """A live session as the Active Sessions table should list it."""

    session_id: str
    role: str
    branch: str = ""


def _table_span(lines: List[str]) -> Optional[Tuple[int, int, int]]:
    """(header index, first data index, end index) of the Active Sessions table in `lines`, or None."""
    section: Optional[str] = None
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith("#"):
            section = _section_of(line.lstrip("#"))
        elif section == SESSIONS and _PIPE.search(line):
            header = index
            index += 1
            if index < len(lines) and _is_separator(_split_row(lines[index])):
                index += 1
            first = index
            while index < len(lines) and _PIPE.search(lines[index]) and not lines[index].strip().startswith("#"):
                index += 1
            return header, first, index
        index += 1
    return None


def _render(cells: List[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def active_sessions_text(text: str, live: Sequence[LiveRow], stamp: str) -> Optional[str]:
    """`text` with only the Active Sessions table's rows replaced by one row per live session; None when the
    table is not there or nothing would change.

    A row that already names a live session keeps its name, domain, extra columns and `Last Update`; only its
    role and branch are brought up to date (and then `Last Update` becomes `stamp`). Rows of sessions that are
    not live are dropped; a live session without a row gets one, named by its 8-character id. Every byte
    outside the table's data rows (its header and separator too) stays as it was, line endings included.
    """
    lines = text.splitlines(keepends=True)
    span = _table_span(lines)
    if span is None:
        return None
    header_at, first, end = span
    header = _split_row(lines[header_at])
    columns = _column_map(SESSIONS, header)
    if "session" not in columns:
        return None
    ending = lines[header_at][len(lines[header_at].rstrip("\r\n")):] or "\n"
    old_rows = [(_split_row(line), line) for line in lines[first:end]]
    width = len(header)
    rendered = []

    def place(numbered: Tuple[int, LiveRow]) -> Tuple[int, int]:
        """Rows already in the table keep their order; new sessions follow, in the order given."""
        order, session = numbered
        for index, (row, _line) in enumerate(old_rows):
            named = row[columns["session"]] if columns["session"] < len(row) else ""
            if names_match(named, session.session_id, session.branch):
                return index, order
        return len(old_rows), order

    for _order, session in sorted(enumerate(live), key=place):
        cells: Optional[List[str]] = None
        original = ""
        for row, line in old_rows:
            named = row[columns["session"]] if columns["session"] < len(row) else ""
            if names_match(named, session.session_id, session.branch):
                cells, original = (row + [""] * width)[:max(width, len(row))], line
                break
        if cells is None:
            cells = [""] * width
            cells[columns["session"]] = session.session_id[:MIN_ID_PREFIX]
        changed = False
        for column, value in (("role", session.role), ("branch", session.branch)):
            if column in columns and value and cells[columns[column]] != value:
                cells[columns[column]] = value
                changed = True
        if "updated" in columns and (changed or not cells[columns["updated"]]):
            cells[columns["updated"]] = stamp
            changed = True
        if original and not changed:
            rendered.append(original if original.endswith(("\n", "\r")) else original + ending)
        else:
            rendered.append(_render(cells) + ending)
    if end == len(lines) and end > 0 and not lines[end - 1].endswith(("\n", "\r")) and rendered:
        # The table ends the file without a final newline: so does the new one.
        if first == end:
            rendered[0] = ending + rendered[0]
        rendered[-1] = rendered[-1].rstrip("\r\n")
    new_text = "".join(lines[:first] + rendered + lines[end:])
    if new_text == text:
        return None
    return new_text


class Changed(Exception):
    """TRAFFIC.md changed while we were about to write it: this round is skipped."""


def keep_active_sessions(root: str, live: Sequence[LiveRow], stamp: str) -> bool:
    """Bring `root`'s TRAFFIC.md's Active Sessions table up to date; True when it was rewritten.

    Atomic (a temp file, then replace), keeping the file's permission bits, and compare-and-swap: just before
    the replace the file is read again, and a file that changed meanwhile (a person saving it) is left alone.
    A file that cannot be parsed, or has no Active Sessions table, is never written."""
    path = os.path.join(root, TRAFFIC_FILE)
    try:
        data, info = read_regular(path, SIZE_LIMIT)
    except (OSError, ReadRefused):
        return False
    text, problem = decode(data)
    if problem or not parse(text).readable:
        return False
    new_text = active_sessions_text(text, live, stamp)
    if new_text is None:
        return False
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""

    def unchanged(_temp: str) -> None:
        try:
            again = read_regular_file(path, SIZE_LIMIT)
        except (OSError, ReadRefused):
            raise Changed(path) from None
        if again != data:
            raise Changed(path)

    try:
        atomic_write_bytes(path, bom + new_text.encode("utf-8"), mode=info.st_mode & 0o777,
                           before_replace=unchanged)
    except Changed:
        return False
    return True
