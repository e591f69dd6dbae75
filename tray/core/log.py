"""The log file: where details go when the user is shown one line.

Set up lazily: the hook path only pays for `logging` when something goes wrong.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

LOG_ENV = "ORCHESTRAY_LOG_DIR"
LOG_NAME = "orchestray.log"
_configured: Optional[str] = None


def log_dir() -> str:
    configured = os.environ.get(LOG_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    import platformdirs

    return platformdirs.user_log_dir("orchestray", appauthor=False)


def log_path() -> str:
    return os.path.join(log_dir(), LOG_NAME)


def setup_logging(verbose: bool = False, console: bool = False) -> str:
    """Route the `orchestray` loggers to a rotating file (and stderr if asked); returns the file's path."""
    global _configured
    import logging
    import logging.handlers

    path = log_path()
    logger = logging.getLogger("orchestray")
    if _configured is None:
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.propagate = False
        formatter = logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
        try:
            handler: logging.Handler = _private_file_handler(path)
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


def _private_file_handler(path: str):  # -> logging.Handler
    """A rotating handler whose files are user-only (0600) in a folder created 0700.

    The log names projects, sessions and folders: it is nobody else's business. Every file the handler opens,
    the first and each one after a rollover, is created 0600; a file left 0644 by an older version is fixed.
    """
    import logging.handlers

    from tray.core.fsutil import PRIVATE_FILE, ensure_private_dir

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def _open(self):  # type: ignore[no-untyped-def]
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            fd = os.open(self.baseFilename, flags, PRIVATE_FILE)
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    ensure_private_dir(os.path.dirname(path))
    handler = PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    try:
        os.chmod(path, PRIVATE_FILE)
    except OSError:
        pass
    return handler


def get_logger(name: str = ""):  # -> logging.Logger, typed loosely to keep `logging` out of the import path
    import logging

    setup_logging()
    return logging.getLogger("orchestray" + ("." + name if name else ""))


def log_exception(message: str) -> None:
    """Log the exception being handled with its traceback; never raises (logging must not break a hook)."""
    try:
        get_logger().exception(message)
    except Exception:  # noqa: BLE001 - the last line of defence
        pass
