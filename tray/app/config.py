"""User settings of the tray, kept as JSON under the platform's config folder.

A config file we cannot parse is never overwritten: it is moved aside (`config.json.broken-<time>`) the
first time we need to save, and defaults are used meanwhile.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional

from tray.core.fsutil import ReadRefused, atomic_write_json, read_regular_file, replace

CONFIG_ENV = "ORCHESTRAY_CONFIG_DIR"
STATE_ENV = "ORCHESTRAY_STATE_DIR"
MIN_POLL_SECONDS = 0.5
MAX_CONFIG_BYTES = 256 * 1024


def config_dir() -> str:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    import platformdirs

    return platformdirs.user_config_dir("orchestray", appauthor=False)


def state_dir() -> str:
    configured = os.environ.get(STATE_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    import platformdirs

    return platformdirs.user_state_dir("orchestray", appauthor=False)


@dataclass
class Config:
    poll_interval: float = 2.0
    notifications: bool = True
    waiting_notify_after: float = 180.0  # seconds a session may wait for the user before we notify
    notify_per_minute: int = 6  # beyond this, notifications are summed up into one


class ConfigStore:
    def __init__(self, directory: Optional[str] = None) -> None:
        self.directory = directory or config_dir()
        self.path = os.path.join(self.directory, "config.json")
        self.problem = ""  # one line for the user when the file could not be used
        self._raw: Dict[str, Any] = {}
        self._broken = False

    def load(self) -> Config:
        config = Config()
        try:  # non-blocking and capped: a FIFO or a huge file here must not hang the tray's start
            raw = json.loads(read_regular_file(self.path, MAX_CONFIG_BYTES, follow=True).decode("utf-8"))
        except FileNotFoundError:
            return config
        except (OSError, ReadRefused, ValueError, RecursionError) as error:
            self._broken = True
            self.problem = f"settings file {self.path} is unreadable ({error}); using defaults"
            return config
        if not isinstance(raw, dict):
            self._broken = True
            self.problem = f"settings file {self.path} is not a JSON object; using defaults"
            return config
        self._raw = raw
        for field in fields(Config):
            value = raw.get(field.name)
            default = getattr(config, field.name)
            if isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(config, field.name, value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                setattr(config, field.name, type(default)(value))
        config.poll_interval = max(MIN_POLL_SECONDS, config.poll_interval)
        return config

    def save(self, config: Config) -> None:
        os.makedirs(self.directory, exist_ok=True)
        if self._broken and os.path.exists(self.path):
            stamp = time.strftime("%Y%m%dT%H%M%S")
            replace(self.path, f"{self.path}.broken-{stamp}")
            self._broken = False
        data = dict(self._raw)  # keep keys written by a newer version
        data.update(asdict(config))
        atomic_write_json(self.path, data)
        self._raw = data
