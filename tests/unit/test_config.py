"""The tray's config.json as users (and accidents) leave it: corrupt, not an object, a FIFO, or holding negative,
huge, infinite or mistyped values. The tray starts on defaults with one log line, and keeps the file as it was.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tray.app.config import LIMITS, Config, ConfigStore
from tray.app.controller import TrayController
from tray.core.registry import Registry

DEFAULTS = Config()


class RecordingView:
    def __init__(self) -> None:
        self.shown: List[tuple] = []
        self.notes: List[tuple] = []
        self.first_show = threading.Event()

    def show(self, state, count, title, menu) -> None:
        self.shown.append((state, count, title, menu))
        self.first_show.set()

    def notify(self, title: str, body: str) -> bool:
        self.notes.append((title, body))
        return True

    def stop(self) -> None:
        pass


def config_file(tmp_path: Path, content: Any) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    path = folder / "config.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def config_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    """The warnings that name a config.json (every test has its own folder, so these are ours)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "config.json" in r.getMessage()]


def start_tray_on(path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> TrayController:
    """What `orchestray tray` does with the settings: build the controller, run its poll loop once, stop it."""
    view = RecordingView()
    with caplog.at_level(logging.INFO, logger="orchestray"):
        controller = TrayController(Registry(str(tmp_path / "registry")), view, ConfigStore(str(path.parent)))
        controller.start()
        assert view.first_show.wait(timeout=20), "the poll loop never showed anything"
        controller.stop()
        assert controller._thread is not None
        controller._thread.join(timeout=20)
        assert not controller._thread.is_alive()
    return controller


BROKEN = {
    "truncated": b'{"poll_interval": 2, "notif',
    "empty": b"",
    "binary": b"\xff\xfe\x00garbage\x80",
    "latin-1": '{"notifications": "café"'.encode("latin-1"),
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "huge": b'{"pad": "' + b"x" * (1 << 20) + b'"}',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_corrupt_config_starts_the_tray_on_defaults_with_one_log_line(name, tmp_path, caplog):
    path = config_file(tmp_path, BROKEN[name])
    controller = start_tray_on(path, tmp_path, caplog)
    assert controller.config == DEFAULTS
    [line] = config_warnings(caplog)
    assert str(path) in line and "\n" not in line
    assert path.read_bytes() == BROKEN[name]  # never rewritten just by starting


@pytest.mark.parametrize("content", [[], [{"poll_interval": 1}], "poll_interval", 3, None, True])
def test_a_config_that_is_not_an_object_is_ignored(content, tmp_path, caplog):
    path = config_file(tmp_path, content)
    before = path.read_bytes()
    controller = start_tray_on(path, tmp_path, caplog)
    assert controller.config == DEFAULTS
    assert len(config_warnings(caplog)) == 1
    assert path.read_bytes() == before


def test_a_fifo_named_config_json_does_not_block_the_start(tmp_path, caplog):
    folder = tmp_path / "config"
    folder.mkdir()
    fifo = folder / "config.json"
    os.mkfifo(fifo)  # nobody ever writes into it: a blocking open would hang forever
    started: List[TrayController] = []
    starting = threading.Thread(target=lambda: started.append(start_tray_on(fifo, tmp_path, caplog)), daemon=True)
    starting.start()
    starting.join(timeout=20)
    if starting.is_alive():  # release the blocked reader (a writer end opened and closed), then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        starting.join(timeout=20)
        pytest.fail("starting the tray blocked on a FIFO named config.json")
    [controller] = started
    assert controller.config == DEFAULTS
    assert len(config_warnings(caplog)) == 1
    assert (folder / "config.json").is_fifo()


BAD_VALUES: List[Dict[str, Any]] = [
    {"poll_interval": -1},
    {"poll_interval": 0},
    {"poll_interval": 1e308},  # no timer accepts it: the poll loop would die on its first wait
    {"poll_interval": 10**400},
    {"poll_interval": "fast"},
    {"poll_interval": True},
    {"waiting_notify_after": -180},
    {"waiting_notify_after": 1e300},
    {"notify_per_minute": -6},
    {"notify_per_minute": 0},
    {"notify_per_minute": 10**12},
    {"notify_per_minute": [6]},
    {"notifications": "yes"},
    {"notifications": 0},
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda bad: json.dumps(bad)[:40])
def test_negative_huge_or_mistyped_values_fall_back_to_the_default(bad, tmp_path, caplog):
    (name, value), = bad.items()
    good = {"poll_interval": 1.5, "waiting_notify_after": 30, "notify_per_minute": 3, "notifications": False}
    path = config_file(tmp_path, {**good, name: value})
    controller = start_tray_on(path, tmp_path, caplog)
    expected = Config(**{**good, name: getattr(DEFAULTS, name)})
    assert controller.config == expected
    [line] = config_warnings(caplog)
    assert name in line
    assert controller.limiter.limit == expected.notify_per_minute
    assert controller.watcher.delay == expected.waiting_notify_after


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_infinity_and_nan_fall_back_to_the_default(text, tmp_path, caplog):
    """Python's json reads these (1e400 becomes inf); int(inf) raises, and NaN compares false to everything."""
    body = "{" + ", ".join(f'"{name}": {text}' for name in ("poll_interval", "waiting_notify_after",
                                                             "notify_per_minute")) + "}"
    path = config_file(tmp_path, body.encode())
    controller = start_tray_on(path, tmp_path, caplog)
    assert controller.config == DEFAULTS
    assert not any(math.isnan(v) or math.isinf(v) for v in (controller.config.poll_interval,
                                                             controller.config.waiting_notify_after))
    assert len(config_warnings(caplog)) == 1


def test_good_values_are_used_and_a_too_short_poll_is_raised(tmp_path, caplog):
    path = config_file(tmp_path, {"poll_interval": 0.1, "waiting_notify_after": 600, "notify_per_minute": 2,
                                  "notifications": False, "from_a_newer_version": {"keep": True}})
    controller = start_tray_on(path, tmp_path, caplog)
    assert controller.config == Config(poll_interval=0.5, notifications=False, waiting_notify_after=600.0,
                                       notify_per_minute=2)
    assert config_warnings(caplog) == []
    assert controller.limiter.limit == 2


def test_saving_after_a_corrupt_file_keeps_it_aside(tmp_path):
    path = config_file(tmp_path, BROKEN["truncated"])
    store = ConfigStore(str(path.parent))
    config = store.load()
    config.notifications = False
    store.save(config)
    [aside] = [p for p in path.parent.iterdir() if p.name.startswith("config.json.broken-")]
    assert aside.read_bytes() == BROKEN["truncated"]
    assert json.loads(path.read_text())["notifications"] is False
    assert ConfigStore(str(path.parent)).load().notifications is False


def test_every_number_in_the_config_has_a_range_that_holds_its_default():
    """A numeric setting added without a range would make loading raise (no range to check against)."""
    numbers = [f.name for f in fields(Config) if type(getattr(Config(), f.name)) in (int, float)]
    assert numbers and sorted(numbers) == sorted(LIMITS)
    for name in numbers:
        low, high = LIMITS[name]
        assert 0 < low <= getattr(DEFAULTS, name) <= high, name


def test_a_file_fixed_while_the_tray_runs_is_used_again_and_never_moved_aside(tmp_path):
    """Read again after it was broken (a running tray reloads it): a good file clears the broken state, so the
    next save writes it in place instead of moving the user's good file aside."""
    path = config_file(tmp_path, BROKEN["truncated"])
    store = ConfigStore(str(path.parent))
    store.load()
    assert store.broken and "is unreadable" in store.unusable
    path.write_text(json.dumps({"notify_per_minute": 3}))
    config = store.load()
    assert not store.broken and store.problem == "" and store.unusable == ""
    store.save(config)
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]
    assert json.loads(path.read_text())["notify_per_minute"] == 3
