"""The notifier chain: text safety, per-OS composition, fall-through and logging.

``deliver`` (tests/support/notify_delivery.py) runs one notification in a fresh interpreter. Real delivery to
dunst is in tests/desktop/test_notify_desktop.py.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest
from notify_delivery import HOSTILE_BODY, HOSTILE_TITLE, deliver

from tray.platform import notify
from tray.platform.notify import (
    BODY_LIMIT,
    TITLE_LIMIT,
    ChainNotifier,
    NotifySendNotifier,
    OsascriptNotifier,
    PlyerNotifier,
    PystrayNotifier,
    build_chain,
    osascript_script,
    safe_text,
)

# ----- safe_text ---------------------------------------------------------------------------------------------


def test_safe_text_strips_controls_collapses_whitespace_and_caps() -> None:
    assert safe_text("  a\n\tb\r\n  c\x00d\x1b[0m\x7f\x85e  ", 100) == "a b cd[0m e"
    capped = safe_text("word " * 100, 20)
    assert capped == "word word word word…" and len(capped) == 20
    assert safe_text("exactly ten", 11) == "exactly ten"
    assert safe_text(None, 10) == "" and safe_text(42, 10) == "42"


def test_safe_text_counts_utf16_units_and_never_splits_a_character() -> None:
    text = "🙂" * 40  # 80 UTF-16 units
    capped = safe_text(text, TITLE_LIMIT)
    assert len(capped.encode("utf-16-le")) // 2 <= TITLE_LIMIT
    assert capped == "🙂" * 31 + "…"
    assert safe_text("a\ud800b\u202egood", 10) == "abgood"  # lone surrogate and bidi override dropped


def test_safe_text_is_idempotent_on_hostile_input() -> None:
    for limit in (TITLE_LIMIT, BODY_LIMIT):
        once = safe_text(HOSTILE_TITLE, limit)
        assert safe_text(once, limit) == once
        assert len(once) <= limit and once.endswith("…")
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", once)


# ----- chain composition per platform ------------------------------------------------------------------------


class FakeIcon:
    HAS_NOTIFICATION = True

    def __init__(self) -> None:
        self.calls: List[tuple] = []

    def notify(self, message: str, title: str | None = None) -> None:
        self.calls.append((message, title))


class MutedIcon(FakeIcon):
    HAS_NOTIFICATION = False  # pystray's xorg backend


def names(chain: List[Any]) -> List[str]:
    return [n.name for n in chain]


@pytest.mark.parametrize(
    ("platform", "icon", "found", "expected"),
    [
        ("win32", FakeIcon(), None, ["pystray", "plyer"]),
        ("win32", None, None, ["plyer"]),
        ("darwin", FakeIcon(), "/usr/bin/notify-send", ["osascript"]),
        ("linux", FakeIcon(), "/usr/bin/notify-send", ["pystray", "notify-send", "plyer"]),
        ("linux", MutedIcon(), "/usr/bin/notify-send", ["notify-send", "plyer"]),
        ("linux", FakeIcon(), None, ["pystray", "plyer"]),
        ("freebsd14", None, "/usr/local/bin/notify-send", ["notify-send", "plyer"]),
    ],
)
def test_build_chain_per_platform(platform: str, icon: Any, found: str | None, expected: List[str]) -> None:
    chain = build_chain(platform, icon=icon, which=lambda name: found if name == "notify-send" else None)
    assert names(chain) == expected
    assert ChainNotifier(chain).names == expected


def test_build_chain_defaults_to_this_platform_and_looks_up_notify_send_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without arguments: this platform's chain, with the notify-send that PATH finds at call time."""
    found = shutil.which("notify-send")
    explicit = build_chain(sys.platform, icon=None, which=lambda name: found if name == "notify-send" else None)
    default = build_chain(icon=None)
    assert names(default) == names(explicit)
    if sys.platform.startswith("linux"):
        assert names(default) == (["notify-send", "plyer"] if found else ["plyer"])
        if found:
            assert default[0].executable == found
        fake = tmp_path / "bin" / "notify-send"
        fake.parent.mkdir()
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", str(fake.parent))
        chain = build_chain(icon=None)
        assert names(chain) == ["notify-send", "plyer"] and chain[0].executable == str(fake)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert names(build_chain(icon=None)) == ["plyer"]


# ----- osascript (built, never executed here) ----------------------------------------------------------------


def parse_applescript_string(text: str, start: int) -> tuple[str, int]:
    """Decode one AppleScript string literal starting at text[start] == '"'; return (value, end index)."""
    assert text[start] == '"'
    out, i = [], start + 1
    while text[i] != '"':
        if text[i] == "\\":
            i += 1
            assert text[i] in '"\\', f"unexpected escape \\{text[i]}"
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def test_osascript_script_escapes_hostile_title_and_body() -> None:
    script = osascript_script(HOSTILE_TITLE, HOSTILE_BODY)
    prefix = "display notification "
    assert script.startswith(prefix) and "\n" not in script
    body, end = parse_applescript_string(script, len(prefix))
    assert script[end:].startswith(" with title ")
    title, end = parse_applescript_string(script, end + len(" with title "))
    assert end == len(script)  # nothing smuggled after the title literal
    assert title == safe_text(HOSTILE_TITLE, TITLE_LIMIT)
    assert body == safe_text(HOSTILE_BODY, BODY_LIMIT)


def test_osascript_title_is_always_set_and_argv_has_no_shell() -> None:
    assert osascript_script("", "body") == 'display notification "body" with title "Orchestray"'
    seen: List[dict] = []

    def run(argv: List[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        seen.append({"argv": argv, **kwargs})
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    notifier = OsascriptNotifier(run=run)
    assert notifier.notify('a "b"', "c\\d") is True
    assert seen[0]["argv"] == ["/usr/bin/osascript", "-e", 'display notification "c\\\\d" with title "a \\"b\\""']
    assert "shell" not in seen[0] and seen[0]["timeout"] > 0


# ----- notify-send argv and environment ------------------------------------------------------------------------


def test_notify_send_argv_ends_options_and_names_the_app() -> None:
    argv = NotifySendNotifier("/usr/bin/notify-send").argv("-u critical", "--help")
    assert argv == ["/usr/bin/notify-send", "--app-name=Orchestray", "--", "-u critical", "--help"]


def test_notify_send_doubles_backslashes_in_the_body_only() -> None:
    """notify-send g_strcompress()es the body: ``\\101`` would arrive as ``A`` and ``\\x`` as ``x``."""
    argv = NotifySendNotifier("/usr/bin/notify-send").argv("C:\\dir", "C:\\101\\x\\")
    assert argv[-2:] == ["C:\\dir", "C:\\\\101\\\\x\\\\"]


def test_notify_send_restores_ld_library_path_when_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[dict] = []

    def run(argv: List[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        seen.append(kwargs["env"])
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEI123")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/usr/local/lib")
    assert NotifySendNotifier("/usr/bin/notify-send", run=run).notify("t", "b") is True
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG")
    assert NotifySendNotifier("/usr/bin/notify-send", run=run).notify("t", "b") is True
    assert seen[0]["LD_LIBRARY_PATH"] == "/usr/local/lib"
    assert "LD_LIBRARY_PATH" not in seen[1]


def test_notify_send_failures_are_reported_not_raised() -> None:
    def hangs(argv: List[str], **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    def fails(argv: List[str], **kwargs: Any) -> Any:
        return subprocess.CompletedProcess(argv, 1, b"", b"Could not connect: No such file or directory\n")

    def missing(argv: List[str], **kwargs: Any) -> Any:
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    for run, reason in ((hangs, "did not finish"), (fails, "exited 1: Could not connect"), (missing, "FileNotFound")):
        notifier = NotifySendNotifier("/usr/bin/notify-send", run=run)
        assert notifier.notify("t", "b") is False
        assert reason in notifier.last_error
    nowhere = NotifySendNotifier(run=fails)
    nowhere.executable = None
    assert nowhere.notify("t", "b") is False and "not found" in nowhere.last_error


# ----- pystray and plyer without a desktop ---------------------------------------------------------------------


def test_pystray_notifier_calls_icon_with_body_first_and_capped_texts() -> None:
    icon = FakeIcon()
    assert PystrayNotifier(icon).notify(HOSTILE_TITLE, HOSTILE_BODY) is True
    assert icon.calls == [(safe_text(HOSTILE_BODY, BODY_LIMIT), safe_text(HOSTILE_TITLE, TITLE_LIMIT))]


def test_pystray_notifier_fails_soft() -> None:
    assert PystrayNotifier(MutedIcon()).notify("t", "b") is False

    class Broken(FakeIcon):
        def notify(self, message: str, title: str | None = None) -> None:
            raise OSError("Shell_NotifyIcon failed")

    broken = PystrayNotifier(Broken())
    assert broken.notify("t", "b") is False and "Shell_NotifyIcon failed" in broken.last_error

    def no_daemon(title: str, body: str) -> None:
        raise RuntimeError("org.freedesktop.Notifications was not provided by any .service files")

    icon = FakeIcon()
    checked = PystrayNotifier(icon, send=no_daemon)
    assert checked.notify("t", "b") is False and "not provided" in checked.last_error
    assert icon.calls == []  # pystray's fire-and-forget notify is not used where it cannot report errors


def test_pystray_notifier_sends_over_dbus_itself_only_on_the_gtk_backends() -> None:
    gtk_icon = type("Icon", (FakeIcon,), {"__module__": "pystray._gtk"})()
    indicator_icon = type("Icon", (FakeIcon,), {"__module__": "pystray._appindicator"})()
    win_icon = type("Icon", (FakeIcon,), {"__module__": "pystray._win32"})()
    assert PystrayNotifier(gtk_icon).send is notify.dbus_notify
    assert PystrayNotifier(indicator_icon).send is notify.dbus_notify
    assert PystrayNotifier(win_icon).send is None


def test_plyer_notifier_fails_soft_when_plyer_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plyer", None)  # makes "from plyer import ..." raise ImportError
    notifier = PlyerNotifier("linux", in_flatpak=False)
    assert notifier.notify("t", "b") is False and "ModuleNotFoundError" in notifier.last_error


def test_plyer_notifier_escapes_only_for_the_flatpak_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: List[dict] = []
    fake = type("Plyer", (), {"notification": type("N", (), {"notify": staticmethod(lambda **kw: sent.append(kw))})})
    monkeypatch.setitem(sys.modules, "plyer", fake)
    assert PlyerNotifier("linux", in_flatpak=True).notify("it's", "a\\b") is True
    assert PlyerNotifier("linux", in_flatpak=False).notify("it's", "a\\b") is True
    assert sent[0] == {"title": "it\\'s", "message": "a\\\\b", "app_name": "Orchestray", "timeout": 10}
    assert sent[1]["title"] == "it's" and sent[1]["message"] == "a\\b"


# ----- ChainNotifier ---------------------------------------------------------------------------------------------


class Scripted:
    def __init__(self, name: str, outcome: Any) -> None:
        self.name, self.outcome, self.calls = name, outcome, []
        self.last_error = "" if outcome is True else f"{name} is down"

    def notify(self, title: str, body: str) -> bool:
        self.calls.append((title, body))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_chain_falls_through_logs_why_and_remembers_the_winner(caplog: pytest.LogCaptureFixture) -> None:
    first, second, third = Scripted("a", False), Scripted("b", RuntimeError("boom")), Scripted("c", True)
    chain = ChainNotifier([first, second, third])
    with caplog.at_level(logging.INFO, logger="orchestray.notify"):
        assert chain.notify("t\n1", "b") is True
        assert chain.notify("t2", "b") is True
    assert chain.working == "c"
    assert first.calls[0] == ("t 1", "b")  # cleaned once, before any backend sees it
    text = caplog.text
    assert "backend a failed: a is down" in text and "backend b failed: RuntimeError: boom" in text
    assert text.count("notifications are delivered by c") == 1  # said when it changes, not every time


def test_a_failure_that_quotes_the_notice_is_logged_without_the_prompt(caplog: pytest.LogCaptureFixture) -> None:
    """A session's notice quotes the user's last prompt; a backend whose error echoes its arguments (a D-Bus
    error, osascript, a third-party exception) must not carry that prompt into the log."""
    body = 'Session abc12345 is asking for an answer: focus it to answer. Last prompt: "deploy with hunter2 now".'
    echoing = Scripted("echo", RuntimeError(f"cannot show message {body!r} on this bus"))
    stderr = Scripted("stderr", False)
    stderr.last_error = "notify-send exited 1: invalid body text: " + body[40:90]
    plain = Scripted("plain", RuntimeError("the bus is gone"))
    with caplog.at_level(logging.WARNING, logger="orchestray.notify"):
        assert ChainNotifier([echoing, stderr, plain]).notify("proj: a session needs you", body) is False
    assert "hunter2" not in caplog.text and "focus it to answer" not in caplog.text
    assert "backend echo failed: RuntimeError (its message quotes the notice; not logged)" in caplog.text
    assert "backend stderr failed: notify-send exited 1 (its message" in caplog.text
    assert "backend plain failed: RuntimeError: the bus is gone" in caplog.text  # a reason of its own stays whole


def test_chain_returns_false_when_all_fail_or_empty(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestray.notify"):
        assert ChainNotifier([Scripted("a", False), Scripted("b", False)]).notify("t", "b") is False
        assert ChainNotifier([]).notify("t", "b") is False
    assert "every backend failed (a, b)" in caplog.text
    assert "no notification backend" in caplog.text


# ----- real delivery ---------------------------------------------------------------------------------------------

def test_dead_dbus_fails_soft_and_logs(tmp_path: Path) -> None:
    """No session bus at all: every Linux backend fails, nothing raises, the log says which and why.

    How fast it gives up is measured in bench/ ("Notifications with no D-Bus"), not asserted here.
    """
    env = {
        key: value
        for key, value in __import__("os").environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-such-dir/bus"
    result, log = deliver(env, "chain+pystray", "title", "body")
    assert result["delivered"] is False
    expected = ["pystray", "notify-send", "plyer"] if notify.shutil.which("notify-send") else ["pystray", "plyer"]
    assert result["names"] == expected
    for name in expected:
        assert re.search(rf"orchestray.notify WARNING notification backend {name} failed: \S", log), log
    assert "every backend failed" in log
    assert "Traceback" not in log
