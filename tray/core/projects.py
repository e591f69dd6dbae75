"""Which project a session belongs to: the git repository containing its `cwd`, through worktrees.

Reads files only (no `git` subprocess: the hook must stay fast), and caches by folder. Path rules are
parameterised by a path module (`ntpath` or `posixpath`) so Windows behaviour is testable on Linux.

A project's key is how two sessions are found to share a project (one orchestrator each). macOS volumes are
case-insensitive by default, so `~/Code/Proj` and `~/code/proj` are one folder there, and a session started from
each spelling must not make two projects with an orchestrator each. So on this machine's own paths the key is
case-folded (and NFC-normalised: APFS ignores that difference too) when the file system answers to the folder's
name in another case as the very same folder; a case-sensitive volume (Linux, a case-sensitive APFS) keeps it
as spelt. Windows keys are case-folded by `ntpath` already.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Protocol, Tuple

from tray.core.fsutil import ReadRefused, read_regular_file

GIT_FILE_LIMIT = 4096


class PathModule(Protocol):
    """What is used of a path module (`os.path`, `ntpath`, `posixpath`): each of them is one."""

    def normcase(self, s: str, /) -> str: ...
    def normpath(self, path: str, /) -> str: ...
    def join(self, a: str, /, *paths: str) -> str: ...
    def isabs(self, s: str, /) -> bool: ...
    def dirname(self, p: str, /) -> str: ...
    def basename(self, p: str, /) -> str: ...
    def splitdrive(self, p: str, /) -> Tuple[str, str]: ...


@dataclass(frozen=True)
class Project:
    key: str  # normalised, for comparison (case-folded on Windows)
    root: str  # as found on disk, for display and for opening files
    name: str
    source: str = ""  # "" for this machine's registry, else the spec of the source it came from (`ssh:devbox`)


def normalise(path: str, pathmod: PathModule = os.path) -> str:
    """The comparison form of a path: `C:/X/` equals `c:\\x` under ntpath; untouched case under posixpath."""
    return pathmod.normcase(pathmod.normpath(path))


def answers_to_other_case(folder: str) -> bool:
    """True when ``folder``'s file system finds it under its name in another case (a case-insensitive volume):
    its last component with a cased letter is swapped, and both must be the same folder (two stats)."""
    parts = os.path.normpath(folder).split(os.sep)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index].swapcase() != parts[index]:
            swapped = os.sep.join([*parts[:index], parts[index].swapcase(), *parts[index + 1 :]])
            try:
                return os.path.samefile(folder, swapped)
            except (OSError, ValueError):
                return False
    return False


def _read_small(path: str) -> Optional[str]:
    """A small git metadata file (`.git`, `commondir`), or None: a FIFO, a device or a huge file is not read.

    Through the non-blocking reader: a FIFO named `.git` once hung `register` while it held the registry lock.
    """
    try:
        return read_regular_file(path, GIT_FILE_LIMIT, follow=True).decode("utf-8", "replace")
    except (OSError, ReadRefused):
        return None


def _main_worktree_of_gitdir(gitdir: str, pathmod: PathModule, read: Callable[[str], Optional[str]]) -> str:
    """Given a worktree's private git dir, the folder of the repository that owns it.

    Linked worktrees have `commondir` (normally `../..`) pointing at the shared `.git`; the project is the
    folder holding that `.git`, or the common dir itself for a bare repository.
    """
    common = read(pathmod.join(gitdir, "commondir"))
    if common is None:
        return ""
    common = common.strip()
    common_dir = pathmod.normpath(common if pathmod.isabs(common) else pathmod.join(gitdir, common))
    if pathmod.basename(common_dir).lower() == ".git":
        return pathmod.dirname(common_dir)
    return common_dir


def find_project_root(
    cwd: str,
    pathmod: PathModule = os.path,
    read: Callable[[str], Optional[str]] = _read_small,
    exists: Callable[[str], bool] = os.path.lexists,
    isdir: Callable[[str], bool] = os.path.isdir,
) -> str:
    """The folder that names the project of `cwd` (see module docstring); `cwd` itself outside git."""
    start = pathmod.normpath(cwd)
    current = start
    while True:
        dot_git = pathmod.join(current, ".git")
        if exists(dot_git):
            if isdir(dot_git):
                return current
            content = read(dot_git) or ""
            first = content.strip().splitlines()[0] if content.strip() else ""
            if first.startswith("gitdir:"):
                target = first[len("gitdir:") :].strip()
                gitdir = pathmod.normpath(target if pathmod.isabs(target) else pathmod.join(current, target))
                main = _main_worktree_of_gitdir(gitdir, pathmod, read)
                if main:
                    return main
            return current  # a submodule, or a .git file we do not understand: the folder itself
        parent = pathmod.dirname(current)
        if parent == current:
            return start
        current = parent


ROOT_NAME = "filesystem root"


def project_name(root: str, pathmod: PathModule = os.path) -> str:
    """The folder's name; the top of a file system (`/`, `C:\\`, `\\\\server\\share\\`) is not a name, so it
    gets a descriptive one: `filesystem root` or `drive C:`."""
    name = pathmod.basename(root.rstrip("\\/"))
    if name and name != root.rstrip("\\/"):
        return name
    drive, rest = pathmod.splitdrive(root)
    if drive and rest.strip("\\/") == "":
        return f"drive {drive}" if drive.endswith(":") else f"share {drive}"
    if root.strip("\\/") == "" or root.rstrip("\\/") == drive:
        return ROOT_NAME
    return name or root


class ProjectResolver:
    """Caches project resolution per cwd; the CLI's role decision and the tray's grouping both use it."""

    def __init__(self, pathmod: PathModule = os.path) -> None:
        self.pathmod = pathmod
        self._cache: Dict[str, Project] = {}

    def resolve(self, cwd: str) -> Project:
        cached = self._cache.get(cwd)
        if cached is not None:
            return cached
        pathmod = self.pathmod
        # Another platform's paths cannot be looked up on this disk: normalise only.
        start = cwd
        if pathmod is os.path and os.path.lexists(cwd) and not os.path.isdir(cwd):
            # A cwd that is a file (a hand-edited or hostile entry): a process works in a folder, so the
            # project is the folder holding that file, never a project named after the file.
            start = os.path.dirname(os.path.normpath(cwd)) or cwd
        root = find_project_root(start) if pathmod is os.path else pathmod.normpath(cwd)
        key = normalise(root, pathmod)
        if pathmod is os.path and os.name != "nt" and answers_to_other_case(root):
            key = unicodedata.normalize("NFC", key).casefold()
        project = Project(key=key, root=root, name=project_name(root, pathmod))
        self._cache[cwd] = project
        return project

