"""Open files and folders with the platform's own opener, never through a shell.

Why so careful: the paths we open come from registry entries (a session's ``cwd``) that any local process can
write, and folder names can contain spaces, quotes, ``;`` or ``$(...)``. A shell would interpret those, so the
path is always passed as one element of an argument list (``open`` / ``xdg-open``) or to ``os.startfile``
(ShellExecute, which takes the path as data, not as a command line).

``project_file`` is the other half: the tray's "Open HANDOVER.md" must open exactly that regular file inside
the project, not a symlink planted there that points at ``~/.ssh/id_rsa``'s folder, nor a directory that
happens to be called ``HANDOVER.md``, nor ``handover.md`` found case-insensitively on macOS or Windows.

On Windows a file type nobody associated with a program (a ``.md`` on a fresh machine) makes ``os.startfile``
fail with ``ERROR_NO_ASSOCIATION``; Explorer then offers "How do you want to open this file?", and so do we
(the ``openas`` verb), rather than a notification with a Windows error number.

The platform and the process runners are parameters so the Windows and macOS branches are testable on Linux.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

__all__ = ["open_path", "opener_argv", "child_env", "project_file"]

PathLike = Union[str, "os.PathLike[str]"]
#: winerror of ``os.startfile`` for a file type no program is associated with.
ERROR_NO_ASSOCIATION = 1155


def platform_kind(platform: Optional[str] = None) -> str:
    """"windows", "macos" or "xdg" (every other desktop): which opener and which terminal to use."""
    name = platform or sys.platform
    if name.startswith(("win", "cygwin", "msys")):
        return "windows"
    if name == "darwin":
        return "macos"
    return "xdg"


def opener_argv(path: PathLike, platform: Optional[str] = None) -> List[str]:
    """The argument list that opens ``path`` on macOS (``open``) or other Unixes (``xdg-open``).

    The path is made absolute first, so it can never start with ``-`` (read as an option) or look like a URL
    (``xdg-open`` treats ``scheme:...`` as one). Windows has no argv: it uses ``os.startfile``.
    """
    if platform_kind(platform) == "windows":
        raise ValueError("Windows opens files with os.startfile, not with an argument list")
    absolute = os.path.abspath(os.fspath(path))
    return ["open", absolute] if platform_kind(platform) == "macos" else ["xdg-open", absolute]


def child_env(environ: Optional[Mapping[str, str]] = None, frozen: Optional[bool] = None) -> Dict[str, str]:
    """The environment for a child program such as ``xdg-open``.

    A PyInstaller build points ``LD_LIBRARY_PATH`` at its bundled libraries and keeps the user's value in
    ``LD_LIBRARY_PATH_ORIG``; handing the bundle's path to ``xdg-open`` and the apps it starts makes them load
    our copies of libraries and crash. So, when frozen, the original value is restored (or the variable
    removed when there was none).
    """
    env = dict(os.environ if environ is None else environ)
    if frozen is None:
        from tray.platform.launch import is_frozen

        frozen = is_frozen()
    if frozen:
        original = env.get("LD_LIBRARY_PATH_ORIG")
        if original is not None:
            env["LD_LIBRARY_PATH"] = original
        else:
            env.pop("LD_LIBRARY_PATH", None)
    return env


def _reap(process: Any) -> None:
    """Wait for the opener in the background so it does not linger as a zombie in a long-running tray."""
    wait = getattr(process, "wait", None)
    if callable(wait):
        threading.Thread(target=wait, name="opener-reaper", daemon=True).start()


def open_path(
    path: PathLike,
    *,
    platform: Optional[str] = None,
    popen: Callable[..., Any] = subprocess.Popen,
    startfile: Optional[Callable[..., Any]] = None,
    environ: Optional[Mapping[str, str]] = None,
    frozen: Optional[bool] = None,
) -> None:
    """Open a file or folder with the platform opener and return at once.

    Windows: ``os.startfile``; macOS: ``open PATH``; elsewhere ``xdg-open PATH``, started with an argument
    list (no shell), in a new session, with stdin/stdout/stderr on ``os.devnull`` so the tray's closed or
    windowed streams never matter. Raises ``FileNotFoundError`` if the path does not exist, and ``OSError``
    when the opener cannot be started; the caller logs it.
    """
    target = os.path.abspath(os.fspath(path))
    if not os.path.exists(target):
        raise FileNotFoundError(target)
    if platform_kind(platform) == "windows":
        runner = startfile if startfile is not None else getattr(os, "startfile", None)
        if runner is None:
            raise OSError("os.startfile is not available on this system")
        try:
            runner(target)
        except OSError as error:
            if getattr(error, "winerror", None) != ERROR_NO_ASSOCIATION:
                raise
            try:
                runner(target, "openas")  # Windows' own "How do you want to open this file?"
            except OSError as again:
                kind = os.path.splitext(target)[1] or "such"
                raise OSError(f"no program opens {kind} files here; choose one in Windows' Default apps settings "
                              f"({again.strerror or again})") from again
        return
    process = popen(
        opener_argv(target, platform),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        shell=False,
        env=child_env(environ, frozen),
    )
    _reap(process)


def project_file(project_dir: PathLike, name: str) -> Optional[str]:
    """Return the path of the regular file called exactly ``name`` directly inside ``project_dir``, or None.

    Refused (None): a name with a path separator, ``.`` or ``..``; a name that only matches in another case
    (the match is against ``os.listdir``, so it is case-sensitive even on case-insensitive file systems); a
    symlink (wherever it points; checked with ``os.lstat``), a directory or any other non-regular file; and
    anything whose real path is not directly inside the project's real path. The returned path is built on
    the project's real path, i.e. the very location that was checked.
    """
    if not name or name in (".", "..") or "\0" in name:
        return None
    separators = {os.sep, "/", "\\"} | ({os.altsep} if os.altsep else set())
    if any(sep in name for sep in separators):
        return None
    try:
        root = os.path.realpath(os.fspath(project_dir))
        if name not in os.listdir(root):
            return None
        candidate = os.path.join(root, name)
        info = os.lstat(candidate)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    real = os.path.realpath(candidate)
    if os.path.normcase(os.path.dirname(real)) != os.path.normcase(root):
        return None
    return candidate
