"""The log file: where details go when the user is shown one line.

Set up lazily: the hook path only pays for `logging` when something goes wrong.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # the annotation only; `logging` itself is imported when first needed
    import logging

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
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handler: logging.Handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
            )
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
