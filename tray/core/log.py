"""The log files: where details go when the user is shown one line.

Two files, because of who writes them. The tray is one long-lived process: `orchestray.log`, rotated by size
(1 MB x 3), and the tray is its only writer. Hooks and one-shot commands are many short processes that may
overlap each other and the tray: they append to `hooks.log` and never roll it over while it is open, because on
Windows a rollover (a rename) fails while another process holds the file, and a shared rotating file would be
renamed under the tray's feet. `hooks.log` is trimmed when a process opens it: above 1 MB it is renamed to
`hooks.log.1` if nobody holds it, else it is simply appended to (the next opener retries).

Set up lazily: the hook path only pays for `logging` when something goes wrong.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # the annotation only; `logging` itself is imported when first needed
    import logging

LOG_ENV = "ORCHESTRAY_LOG_DIR"
LOG_NAME = "orchestray.log"  # the tray's
HOOK_LOG_NAME = "hooks.log"  # hooks and one-shot commands
TRAY = "tray"
HOOKS = "hooks"
MAX_BYTES = 1_000_000
BACKUPS = 3
_configured: Optional[str] = None
_role = HOOKS


def log_dir() -> str:
    configured = os.environ.get(LOG_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    import platformdirs

    return platformdirs.user_log_dir("orchestray", appauthor=False)


def log_path(role: Optional[str] = None) -> str:
    """The file this process logs to (``role``: ``TRAY`` or ``HOOKS``; default: this process's role)."""
    return os.path.join(log_dir(), LOG_NAME if (role or _role) == TRAY else HOOK_LOG_NAME)


def _trim(path: str) -> None:
    """Move a too-big shared log aside, if no other process holds it (on Windows the rename fails then)."""
    try:
        if os.path.getsize(path) > MAX_BYTES:
            os.replace(path, path + ".1")
    except OSError:
        pass


def _file_handler(path: str, role: str) -> logging.Handler:
    """The handler of this process's log file; every file it opens is user-only (0600) in a folder made 0700.

    The logs name projects, sessions and folders: nobody else's business. Each file the handler opens (the first,
    and each one after a rollover) is created 0600; a file left 0644 by an older version is fixed.
    """
    import logging
    import logging.handlers

    from tray.core.private import PRIVATE_FILE, ensure_private_dir

    def private_open(self: logging.FileHandler):  # type: ignore[no-untyped-def]
        # O_NONBLOCK and a regular-file check: a FIFO at the log's name must not stall a hook (it fails, and
        # the process logs to stderr instead); on a regular file the flag changes nothing.
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0),
                     PRIVATE_FILE)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(f"{self.baseFilename} is not a regular file")
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        _open = private_open

    class PrivateFileHandler(logging.FileHandler):
        _open = private_open

    ensure_private_dir(os.path.dirname(path))
    handler: logging.FileHandler
    if role == TRAY:
        handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    else:
        _trim(path)
        handler = PrivateFileHandler(path, encoding="utf-8")  # appends; never renames a file others hold
    try:
        os.chmod(path, PRIVATE_FILE)
    except OSError:
        pass
    return handler


def setup_logging(verbose: bool = False, console: bool = False, role: Optional[str] = None) -> str:
    """Route the `orchestray` loggers to this process's file (and stderr if asked); returns the file's path.

    The tray passes ``role=TRAY``; every other process (hooks, commands) logs as ``HOOKS``. A role given after
    logging was set up for another one moves the handler to the right file.
    """
    global _configured, _role
    import logging

    logger = logging.getLogger("orchestray")
    if role is not None and role != _role:
        _role = role
        if _configured is not None:
            for old in list(logger.handlers):
                logger.removeHandler(old)
                old.close()
            _configured = None
    path = log_path()
    if _configured is None:
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.propagate = False
        formatter = logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
        try:
            handler: logging.Handler = _file_handler(path, _role)
        except OSError:
            handler = logging.StreamHandler(sys.stderr)
            path = "<stderr>"
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        if console and not isinstance(handler, logging.StreamHandler):
            stream = logging.StreamHandler(sys.stderr)
            stream.setFormatter(formatter)
            stream.setLevel(logging.WARNING)
            logger.addHandler(stream)
        _configured = path
    return _configured


def get_logger(name: str = "") -> logging.Logger:
    import logging

    setup_logging()
    return logging.getLogger("orchestray" + ("." + name if name else ""))


def log_exception(message: str) -> None:
    """Log the exception being handled with its traceback; never raises (logging must not break a hook)."""
    try:
        get_logger().exception(message)
    except Exception:  # noqa: BLE001 - the last line of defence
        pass
