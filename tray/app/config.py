"""User settings of the tray, kept as JSON under the platform's config folder.

A config file we cannot parse is never overwritten: it is moved aside (`config.json.broken-<time>`) the
first time we need to save, and defaults are used meanwhile (a running tray that finds it broken keeps the
settings it has instead: `TrayController.reload_config`). A value of the wrong type or out of its range
(a negative delay, a poll interval of 1e308 s that no timer accepts) falls back to its default; either way
`ConfigStore.problem` holds the one line the tray logs, and loading never raises: the tray must start.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional, Tuple

from tray.core.fsutil import ReadRefused, atomic_write_json, read_regular_file, replace

CONFIG_ENV = "ORCHESTRAY_CONFIG_DIR"
STATE_ENV = "ORCHESTRAY_STATE_DIR"
MIN_POLL_SECONDS = 0.5
MAX_CONFIG_BYTES = 64 * 1024
#: What each number may be: a positive value below the minimum is raised to it (a 0.1 s poll would only burn
#: CPU); anything else outside the range uses the default.
LIMITS: Dict[str, Tuple[float, float]] = {
    "poll_interval": (MIN_POLL_SECONDS, 3600.0),
    "waiting_notify_after": (1.0, 7 * 24 * 3600.0),
    "notify_per_minute": (1, 60),
    "source_poll_interval": (1.0, 3600.0),
}


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
    watch: bool = True  # wake on registry changes and process deaths; False: poll every poll_interval
    #: Projects (their keys) whose TRAFFIC.md Active Sessions table the tray keeps current (the menu's toggle).
    keep_traffic_current: List[str] = field(default_factory=list)
    #: Other machines, distributions and containers to show (`orchestray sources add`): {"spec", "command"}
    #: objects, kept as written; `tray.core.sources.from_config` checks them when they are used.
    sources: List[Any] = field(default_factory=list)
    source_poll_interval: float = 5.0  # seconds between two reads of each other source (an ssh call each)


class ConfigStore:
    def __init__(self, directory: Optional[str] = None) -> None:
        self.directory = directory or config_dir()
        self.path = os.path.join(self.directory, "config.json")
        self.problem = ""  # one line for the user when the file could not be used
        self.unusable = ""  # why the file cannot be used at all ("is not a JSON object"), while `broken`
        self._raw: Dict[str, Any] = {}
        self._broken = False

    @property
    def broken(self) -> bool:
        """The file exists and cannot be used at all (it would be moved aside at the next save)."""
        return self._broken

    def stamp(self) -> Optional[Tuple[int, int, int, int]]:
        """What changes when the file does (its stat identity; a link is followed), None while it is missing:
        a running tray reads the file again only when this differs."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size

    def load(self) -> Config:
        config = Config()
        self.problem, self.unusable, self._broken = "", "", False
        try:
            raw = json.loads(_read_config(self.path))
        except FileNotFoundError:
            self._raw = {}
            return config
        except (OSError, ValueError, RecursionError) as error:
            return self._unusable(config, f"is unreadable ({error})")
        if not isinstance(raw, dict):
            return self._unusable(config, "is not a JSON object")
        self._raw = raw
        ignored: List[str] = []
        for field in fields(Config):  # noqa: F402 - the loop name shadows dataclasses.field only here
            if field.name not in raw:
                continue
            value = raw[field.name]
            default = getattr(config, field.name)
            if field.name == "sources":
                if isinstance(value, list):
                    setattr(config, field.name, list(value))
                else:
                    ignored.append(field.name)
                continue
            if isinstance(default, list):
                if isinstance(value, list) and all(isinstance(item, str) for item in value):
                    setattr(config, field.name, list(value))
                else:
                    ignored.append(field.name)
                continue
            if isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(config, field.name, value)
                else:
                    ignored.append(field.name)
                continue
            low, high = LIMITS[field.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= high:
                ignored.append(field.name)  # also NaN and infinity: no comparison holds for NaN
                continue
            setattr(config, field.name, type(default)(max(low, value)))
        if ignored:
            self.problem = (
                f"settings file {self.path}: ignored {', '.join(ignored)} (wrong type or out of range); "
                "using the defaults for them"
            )
        return config

    def _unusable(self, config: Config, why: str) -> Config:
        self._broken, self.unusable = True, why
        self.problem = f"settings file {self.path} {why}; using defaults"
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


def _read_config(path: str) -> str:
    """The file's text; never blocks on a FIFO and never reads more than `MAX_CONFIG_BYTES` (links are followed:
    dotfile managers link their config files)."""
    try:
        return read_regular_file(path, MAX_CONFIG_BYTES, follow=True).decode("utf-8")
    except ReadRefused as refused:
        raise OSError(str(refused)) from None
