"""`orchestray hooks install|uninstall|status`: merging into a user's settings.json without damaging it."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tray.core import fsutil
from tray.hooks import settings as hs
from tray.hooks.settings import (
    BACKUPS_KEPT,
    HOOK_EVENTS,
    SHIM_MARKER,
    SettingsError,
    hook_commands,
    install,
    list_backups,
    orchestray_subcommand,
    plan_install,
    plan_uninstall,
    quote_command,
    split_command,
    status,
    uninstall,
)
from tray.platform import launch

PREFIX = ["/opt/orchestray-test/venv/bin/python", "-m", "tray"]
OTHER_PREFIX = ["/usr/local/other-python/bin/python3.12", "-m", "tray"]
COMMANDS = hook_commands(PREFIX, windows=False)
posix_only = pytest.mark.skipif(os.name != "posix", reason="runs /bin/sh like Claude Code on POSIX")

REALISTIC: Dict[str, Any] = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {
        "allow": ["Bash(npm run test:*)", "Read(~/.zshrc)"],
        "deny": ["Read(./.env)", "Read(./secrets/**)"],
        "defaultMode": "acceptEdits",
    },
    "env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "0", "GREETING": "Grüße, 世界 🚀 — «ok»"},
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh", "padding": 0},
    "hooks": {
        "PreToolUse": [
            {
                "matcher": "Bash",
                "hooks": [{"type": "command", "command": "python3 ~/.claude/check_bash.py", "timeout": 5}],
            }
        ],
        "SessionStart": [
            {"matcher": "startup", "hooks": [{"type": "command", "command": "echo 'bonjour, café' >> ~/log.txt"}]}
        ],
    },
    "includeCoAuthoredBy": False,
    "cleanupPeriodDays": 30,
    "feedbackSurveyRate": 0.05,
    "apiKeyHelper": None,
}


def dump(data: Any, indent: Any = 2) -> bytes:
    """The bytes of a settings file as Claude Code (JSON.stringify(x, null, 2)) writes it."""
    return (json.dumps(data, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")


def strict(data: Any) -> str:
    """Equality that also sees key order and True versus 1."""
    return json.dumps(data, ensure_ascii=False)


def write(path: Any, raw: bytes) -> str:
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(raw)
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def load(path: str) -> Any:
    return json.loads(read(path).decode("utf-8"))


def ours(data: Dict[str, Any], event: str) -> List[Dict[str, Any]]:
    return [
        hook
        for group in data.get("hooks", {}).get(event, [])
        for hook in group.get("hooks", [])
        if orchestray_subcommand(hook.get("command", "")) is not None
    ]


@pytest.fixture
def realistic(tmp_path: Any) -> str:
    return write(tmp_path / ".claude" / "settings.json", dump(REALISTIC))


# ---------------------------------------------------------------------------------------------- round trips


def test_install_then_uninstall_gives_back_the_same_bytes(realistic: str) -> None:
    original = read(realistic)
    result = install(realistic, PREFIX)
    assert result.changed and not result.created
    assert result.added == tuple(HOOK_EVENTS)
    data = load(realistic)
    for event, sub in HOOK_EVENTS.items():
        hooks = ours(data, event)
        assert len(hooks) == 1
        assert hooks[0] == {"type": "command", "command": COMMANDS[event], "timeout": hs.HOOK_TIMEOUT_SECONDS}
        assert hooks[0]["command"].endswith(f" -m tray hook {sub}")

    removed = uninstall(realistic)
    assert removed.changed and sorted(removed.removed) == sorted(HOOK_EVENTS)
    assert read(realistic) == original


def test_install_touches_nothing_but_its_own_entries(realistic: str) -> None:
    install(realistic, PREFIX)
    data = load(realistic)
    assert list(data) == list(REALISTIC)  # key order kept, "hooks" where it was
    for key in REALISTIC:
        if key != "hooks":
            assert strict(data[key]) == strict(REALISTIC[key])
    assert data["hooks"]["PreToolUse"] == REALISTIC["hooks"]["PreToolUse"]
    assert list(data["hooks"])[:2] == ["PreToolUse", "SessionStart"]
    session_start = data["hooks"]["SessionStart"]
    assert session_start[0] == REALISTIC["hooks"]["SessionStart"][0]  # the user's group, untouched, first
    assert session_start[1] == {
        "matcher": "",
        "hooks": [{"type": "command", "command": COMMANDS["SessionStart"], "timeout": hs.HOOK_TIMEOUT_SECONDS}],
    }
    assert "Grüße, 世界 🚀" in read(realistic).decode("utf-8")  # written as UTF-8, not \u escapes


@posix_only
def test_the_installed_stop_and_notification_commands_never_deregister(tmp_path, sleeper) -> None:
    """Run the commands `install` wrote, as Claude Code runs them (`/bin/sh -c`, hook JSON on stdin): Stop and
    Notification, which fire after every answer and at every permission prompt, leave the session's entry as
    it was; only SessionEnd's removes it."""
    from helpers import cli_env

    from tray.core.actions import register
    from tray.core.registry import Registry

    settings_path = tmp_path / "settings.json"
    settings_path.write_text("{}\n")
    install(str(settings_path), [sys.executable, "-m", "tray"])
    hooks = json.loads(settings_path.read_text())["hooks"]
    commands = {event: groups[-1]["hooks"][0]["command"] for event, groups in hooks.items()}
    assert {"Stop", "Notification", "SessionEnd"} <= set(commands)
    registry = tmp_path / "registry"
    register(Registry(str(registry)), "sess-1", sleeper.pid, str(tmp_path))
    entry = registry / "sess-1.json"
    before = entry.read_bytes()
    env = cli_env(str(registry), {"CLAUDE_CODE_SESSION_ID": "sess-1"})

    def run(event: str, **fields: Any) -> None:
        payload = {"session_id": "sess-1", "cwd": str(tmp_path), "hook_event_name": event, **fields}
        done = subprocess.run(["/bin/sh", "-c", commands[event]], input=json.dumps(payload), env=env,
                              cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (event, done.stderr)

    for _ in range(2):
        run("Stop", stop_hook_active=False)
        run("Notification", message="Claude needs your permission to use Bash", notification_type="permission_prompt")
        assert entry.read_bytes() == before
    run("SessionEnd", reason="other")
    assert not entry.exists()


def test_second_install_changes_nothing(realistic: str) -> None:
    install(realistic, PREFIX)
    past = 1_600_000_000_000_000_000
    os.utime(realistic, ns=(past, past))
    before = read(realistic)
    backups = list_backups(realistic)

    again = install(realistic, PREFIX)

    assert not again.changed and again.backup_path is None
    assert "already installed" in again.message
    assert again.unchanged == tuple(HOOK_EVENTS)
    assert read(realistic) == before
    assert os.stat(realistic).st_mtime_ns == past
    assert list_backups(realistic) == backups


def test_uninstall_when_not_installed_changes_nothing(realistic: str) -> None:
    past = 1_600_000_000_000_000_000
    os.utime(realistic, ns=(past, past))
    result = uninstall(realistic)
    assert not result.changed and result.removed == () and "no Orchestray hooks" in result.message
    assert os.stat(realistic).st_mtime_ns == past
    assert list_backups(realistic) == []


@pytest.mark.parametrize("indent", [4, "\t", 2])
def test_formatting_of_the_file_is_kept(tmp_path: Any, indent: Any) -> None:
    path = write(tmp_path / "settings.json", dump(REALISTIC, indent=indent))
    original = read(path)
    install(path, PREFIX)
    assert read(path).splitlines()[1].startswith(b"\t" if indent == "\t" else b" " * indent + b'"')
    uninstall(path)
    assert read(path) == original


def test_crlf_bom_and_missing_final_newline_are_kept(tmp_path: Any) -> None:
    text = json.dumps(REALISTIC, indent=2, ensure_ascii=False).replace("\n", "\r\n")
    original = b"\xef\xbb\xbf" + text.encode("utf-8")
    path = write(tmp_path / "settings.json", original)
    install(path, PREFIX)
    written = read(path)
    assert written.startswith(b"\xef\xbb\xbf") and b"\r\n" in written and b"\n" not in written.replace(b"\r\n", b"")
    uninstall(path)
    assert read(path) == original


# ----------------------------------------------------------------------------------------------- refusals

INVALID = {
    "trailing comma": b'{\n  "model": "opus",\n}\n',
    "not json": b"model = opus\n",
    "unterminated": b'{"model": "opus"',
    "top-level list": b'[{"hooks": {}}]\n',
    "top-level string": b'"settings"\n',
    "top-level null": b"null\n",
    "hooks is a string": b'{"hooks": "SessionStart"}\n',
    "hooks is a list": b'{"hooks": []}\n',
    "hooks is null": b'{"hooks": null}\n',
    "event is an object": b'{"hooks": {"Stop": {"matcher": "", "hooks": []}}}\n',
    "foreign event is a string": b'{"hooks": {"PreToolUse": "echo hi"}}\n',
    "NaN": b'{"cleanupPeriodDays": NaN}\n',
    "two documents": b'{"a": 1}\n{"b": 2}\n',
    "not utf-8": b'{"env": {"X": "\xff\xfe"}}\n',
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_settings_are_refused_and_untouched(tmp_path: Any, name: str) -> None:
    path = write(tmp_path / "settings.json", INVALID[name])
    past = 1_600_000_000_000_000_000
    os.utime(path, ns=(past, past))

    for action in (lambda: install(path, PREFIX), lambda: uninstall(path), lambda: status(path, PREFIX)):
        with pytest.raises(SettingsError) as caught:
            action()
        message = str(caught.value)
        assert "\n" not in message and path in message
        assert caught.value.path == path

    assert read(path) == INVALID[name]
    assert os.stat(path).st_mtime_ns == past
    assert os.listdir(tmp_path) == ["settings.json"]  # no backup, no temp file


def test_syntax_errors_name_line_and_column(tmp_path: Any) -> None:
    path = write(tmp_path / "settings.json", INVALID["trailing comma"])
    with pytest.raises(SettingsError, match=r"line 3 column 1"):
        install(path, PREFIX)


def test_a_prefix_we_would_not_recognise_is_refused(realistic: str) -> None:
    original = read(realistic)
    with pytest.raises(SettingsError, match="does not look like an Orchestray command"):
        install(realistic, ["/usr/bin/python3", "-m", "something_else"])
    assert read(realistic) == original


# --------------------------------------------------------------------------------------- files and links


def test_missing_file_and_folders_are_created(tmp_path: Any) -> None:
    path = str(tmp_path / "new" / "deeper" / "settings.json")
    result = install(path, PREFIX)
    assert result.changed and result.created and result.backup_path is None
    assert set(load(path)["hooks"]) == set(HOOK_EVENTS)
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(path).st_mode) == hs.NEW_FILE_MODE
    removed = uninstall(path)
    # Nothing but our hooks was in it: the file install created is gone again, with no backup left behind.
    assert removed.changed and removed.file_removed and removed.backup_path is None
    assert not os.path.exists(path) and os.listdir(os.path.dirname(path)) == []


def test_a_file_that_was_there_before_install_stays_even_if_empty(tmp_path: Any) -> None:
    path = write(tmp_path / "settings.json", b"{}\n")
    install(path, PREFIX)
    assert not uninstall(path).file_removed
    assert read(path) == b"{}\n"
    assert [n for n in os.listdir(tmp_path) if hs.BACKUP_INFIX not in n] == ["settings.json"]


def test_a_created_file_the_user_added_to_stays(tmp_path: Any) -> None:
    path = str(tmp_path / "settings.json")
    install(path, PREFIX)
    data = load(path)
    data["model"] = "opus"
    write(path, dump(data))
    assert not uninstall(path).file_removed
    assert load(path) == {"model": "opus"}
    assert not [n for n in os.listdir(tmp_path) if n.endswith(hs.CREATED_SUFFIX)]


def test_uninstall_does_not_create_a_missing_file(tmp_path: Any) -> None:
    path = str(tmp_path / "settings.json")
    assert not uninstall(path).changed
    assert not os.path.exists(path)


def test_empty_file_is_an_empty_object(tmp_path: Any) -> None:
    path = write(tmp_path / "settings.json", b"  \n")
    result = install(path, PREFIX)
    assert result.changed and result.backup_path and read(result.backup_path) == b"  \n"
    assert set(load(path)) == {"hooks"}
    uninstall(path)
    assert load(path) == {}


def test_backup_holds_the_original_and_only_a_few_are_kept(realistic: str) -> None:
    original = read(realistic)
    os.chmod(realistic, 0o640)
    result = install(realistic, PREFIX)
    assert result.backup_path and os.path.dirname(result.backup_path) == os.path.dirname(realistic)
    assert os.path.basename(result.backup_path).startswith("settings.json.orchestray-backup-")
    assert read(result.backup_path) == original
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(result.backup_path).st_mode) == 0o640
        assert stat.S_IMODE(os.stat(realistic).st_mode) == 0o640  # the mode survives the replace

    for _ in range(BACKUPS_KEPT + 3):
        uninstall(realistic)
        install(realistic, PREFIX)
    backups = list_backups(realistic)
    assert len(backups) == BACKUPS_KEPT
    assert result.backup_path not in backups  # the oldest went first
    names = sorted(os.listdir(os.path.dirname(realistic)))
    assert names == sorted(["settings.json", *(os.path.basename(b) for b in backups)])  # no temp file left


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_symlinked_settings_file_stays_a_link(tmp_path: Any) -> None:
    real = write(tmp_path / "dotfiles" / "claude-settings.json", dump(REALISTIC))
    link = str(tmp_path / ".claude" / "settings.json")
    os.makedirs(os.path.dirname(link))
    os.symlink(os.path.join("..", "dotfiles", "claude-settings.json"), link)

    result = install(link, PREFIX)

    assert os.path.islink(link) and os.readlink(link) == os.path.join("..", "dotfiles", "claude-settings.json")
    assert result.written_path == os.path.realpath(real)
    assert set(HOOK_EVENTS) <= set(load(real)["hooks"])
    assert result.backup_path and os.path.dirname(result.backup_path) == os.path.dirname(link)
    assert os.listdir(os.path.dirname(real)) == ["claude-settings.json"]  # nothing left in the dotfiles repo
    uninstall(link)
    assert os.path.islink(link) and read(real) == dump(REALISTIC)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_read_only_target_is_refused_without_leftovers(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """home-manager links settings.json into a read-only store: refuse in one line, leave nothing behind."""
    real = write(tmp_path / "store" / "settings.json", dump(REALISTIC))
    link = str(tmp_path / ".claude" / "settings.json")
    os.makedirs(os.path.dirname(link))
    os.symlink(real, link)

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(fsutil, "atomic_write_bytes", read_only)
    with pytest.raises(SettingsError, match="cannot write.*Read-only file system"):
        install(link, PREFIX)
    assert read(real) == dump(REALISTIC)
    assert os.listdir(os.path.dirname(link)) == ["settings.json"]
    assert os.listdir(os.path.dirname(real)) == ["settings.json"]


def test_a_concurrent_write_is_not_lost(realistic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Code rewrites settings.json too: a change between our read and our replace must survive."""
    real_render = hs.render
    calls = []

    def render_while_claude_writes(data: Any, style: Any) -> bytes:
        if not calls:
            changed = dict(REALISTIC, model="sonnet")
            write(realistic, dump(changed))
        calls.append(1)
        return real_render(data, style)

    monkeypatch.setattr(hs, "render", render_while_claude_writes)
    result = install(realistic, PREFIX)
    data = load(realistic)
    assert data["model"] == "sonnet" and len(calls) == 2
    assert all(len(ours(data, event)) == 1 for event in HOOK_EVENTS)
    assert result.backup_path and json.loads(read(result.backup_path))["model"] == "sonnet"
    assert len(list_backups(realistic)) == 1


# ----------------------------------------------------------------------------------- what counts as ours


def test_reinstall_with_another_interpreter_replaces_in_place(realistic: str) -> None:
    install(realistic, OTHER_PREFIX)
    first = load(realistic)
    result = install(realistic, PREFIX)
    assert result.updated == tuple(HOOK_EVENTS) and result.added == ()
    data = load(realistic)
    for event in HOOK_EVENTS:
        assert [hook["command"] for hook in ours(data, event)] == [COMMANDS[event]]
    # same positions: only the command strings differ
    assert strict(data).replace(PREFIX[0], OTHER_PREFIX[0]) == strict(first)
    uninstall(realistic)
    assert read(realistic) == dump(REALISTIC)


def test_a_frozen_install_is_replaced_by_the_module_form_and_back(realistic: str) -> None:
    install(realistic, ["/Applications/Orchestray.app/Contents/MacOS/orchestray"])
    install(realistic, PREFIX)
    assert all(len(ours(load(realistic), event)) == 1 for event in HOOK_EVENTS)
    install(realistic, ["C:\\Program Files\\Orchestray\\orchestray.exe"])
    assert all(len(ours(load(realistic), event)) == 1 for event in HOOK_EVENTS)


def test_duplicates_are_collapsed(tmp_path: Any) -> None:
    mine = {"type": "command", "command": "/old/python -m tray hook prompt", "timeout": 10}
    settings_data = {
        "hooks": {
            "UserPromptSubmit": [
                {"matcher": "", "hooks": [dict(mine)]},
                {"matcher": "", "hooks": [{"type": "command", "command": "echo keep"}, dict(mine)]},
                {"matcher": "", "hooks": [dict(mine)]},
            ]
        }
    }
    path = write(tmp_path / "settings.json", dump(settings_data))
    result = install(path, PREFIX)
    assert result.duplicates_removed == 2 and "UserPromptSubmit" in result.updated
    groups = load(path)["hooks"]["UserPromptSubmit"]
    assert groups == [
        {"matcher": "", "hooks": [dict(mine, command=COMMANDS["UserPromptSubmit"])]},
        {"matcher": "", "hooks": [{"type": "command", "command": "echo keep"}]},
    ]


def test_uninstall_removes_exactly_ours(tmp_path: Any) -> None:
    lookalikes = [
        "/usr/bin/python3 -m tray_helper hook prompt",
        "/usr/bin/python3 -m tray hook prompt --verbose",
        "/usr/bin/python3 -m tray hook unknown-subcommand",
        "orchestray-lint hook prompt",
        "echo hook prompt",
        "-m tray hook prompt",
        "/usr/bin/python3 -m tray 'hook prompt'",
    ]
    foreign = [{"type": "command", "command": command} for command in lookalikes]
    prompt_type = {"type": "prompt", "command": "/usr/bin/python3 -m tray hook prompt"}
    mine = {"type": "command", "command": "'/some where/python' -m tray hook stop", "timeout": 3}
    settings_data = {
        "hooks": {
            "UserPromptSubmit": [{"matcher": "", "hooks": [*foreign, prompt_type]}],
            "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}, mine]}],
            "Notification": [{"matcher": "", "hooks": [mine]}, {"matcher": "idle", "hooks": []}],
            "PostToolUse": [{"matcher": "", "hooks": [mine]}],
        }
    }
    path = write(tmp_path / "settings.json", dump(settings_data))
    result = uninstall(path)
    assert sorted(result.removed) == ["Notification", "PostToolUse", "Stop"]
    assert load(path) == {
        "hooks": {
            "UserPromptSubmit": [{"matcher": "", "hooks": [*foreign, prompt_type]}],
            "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}],
            "Notification": [{"matcher": "idle", "hooks": []}],
        }
    }


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/usr/bin/python3 -m tray hook session-start", "session-start"),
        ("'/home/me/my venv/bin/python' -m tray hook prompt", "prompt"),
        ('"C:\\Users\\Me\\App Data\\python.exe" -m tray hook session-end', "session-end"),
        ("C:\\Python312\\python.exe -m tray hook stop", "stop"),
        ("py -3 -m tray hook notification", "notification"),
        ("/opt/Orchestray/orchestray hook prompt", "prompt"),
        ('"C:\\Program Files\\Orchestray\\Orchestray.EXE" hook prompt', "prompt"),
        ("orchestray hook session-start", "session-start"),
        ("python -m tray hook", None),
        ("echo; python -m tray hook prompt", None),
        ("/usr/bin/env python3 -m tray hook prompt", None),
        ("python -I -m tray hook prompt", "prompt"),
        ("python -m tray.cli hook prompt", None),
        ("/usr/bin/orchestray-dev hook prompt", None),
        ("sh -c 'orchestray hook prompt'", None),
        ("orchestray hook prompt && rm -rf ~", None),
        ("python -m tray hook prompt '", None),
        ("", None),
    ],
)
def test_recognising_our_commands(command: str, expected: Any) -> None:
    assert orchestray_subcommand(command) == expected


def test_windows_quoting_round_trips() -> None:
    """Git Bash runs Windows hooks: every word single-quoted, forward slashes (backslashes would be eaten)."""
    exe = "C:\\Program Files\\Python312\\python.exe"
    command = quote_command([exe, "-m", "tray", "hook", "prompt"], windows=True)
    assert command == "'C:/Program Files/Python312/python.exe' '-m' 'tray' 'hook' 'prompt'"
    assert split_command(command, windows=True) == [exe.replace("\\", "/"), "-m", "tray", "hook", "prompt"]
    assert orchestray_subcommand(command) == "prompt"
    frozen = hook_commands(["C:\\Tools\\orchestray.exe"], windows=True)
    assert frozen["SessionStart"] == "'C:/Tools/orchestray.exe' 'hook' 'session-start'"
    # what earlier versions wrote on Windows is still recognised (and replaced by install)
    assert orchestray_subcommand('"C:\\Program Files\\Python312\\python.exe" -m tray hook prompt') == "prompt"


def test_posix_quoting_handles_spaces_quotes_and_dollars() -> None:
    exe = "/home/me/it's $HOME/bin/python"
    command = quote_command([exe, "-m", "tray", "hook", "prompt"], windows=False)
    assert split_command(command, windows=False) == [exe, "-m", "tray", "hook", "prompt"]
    assert orchestray_subcommand(command) == "prompt"


def test_frozen_executable_is_the_whole_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Orchestray/orchestray")
    assert hs.default_command_prefix() == ["/opt/Orchestray/orchestray"]
    monkeypatch.setattr(sys, "frozen", False)
    prefix = hs.default_command_prefix()
    assert prefix == ["/opt/Orchestray/orchestray", "-c", launch.HOOK_BOOTSTRAP, launch.package_root()]
    assert os.path.isfile(os.path.join(launch.package_root(), "tray", "hook.py"))


def test_a_string_prefix_is_used_verbatim(tmp_path: Any) -> None:
    path = str(tmp_path / "settings.json")
    install(path, "'/x y/python' -m tray")
    assert ours(load(path), "Stop")[0]["command"] == "'/x y/python' -m tray hook stop"


# ------------------------------------------------------------------------------------------------- status


def test_status_of_a_missing_file(tmp_path: Any) -> None:
    report = status(str(tmp_path / "settings.json"), PREFIX)
    assert not report.exists and not report.installed and report.foreign_hooks == 0
    assert "not installed" in report.format()


def test_status_reports_a_missing_program_and_foreign_hooks(realistic: str) -> None:
    before = status(realistic, PREFIX)
    assert not before.installed and not before.partially_installed
    assert before.foreign_hooks == 2 and before.foreign_by_event == {"PreToolUse": 1, "SessionStart": 1}

    install(realistic, PREFIX)  # PREFIX points to a python that does not exist
    report = status(realistic, PREFIX)
    assert report.installed and not report.healthy
    for hook in report.hooks:
        assert hook.installed and hook.current and hook.copies == 1
        assert hook.command == COMMANDS[hook.event]
        assert hook.program == PREFIX[0] and hook.program_exists is False
    assert report.foreign_hooks == 2
    assert "MISSING PROGRAM" in report.format()


def test_status_of_a_healthy_install(realistic: str) -> None:
    prefix = [sys.executable, "-m", "tray"]
    install(realistic, prefix)
    report = status(realistic, prefix)
    assert report.healthy and all(h.program_exists for h in report.hooks)
    assert not status(realistic, OTHER_PREFIX).hooks[0].current  # installed by another interpreter
    ours_data, _ = plan_uninstall(load(realistic))
    write(realistic, dump(ours_data))
    assert not status(realistic, prefix).installed


# --------------------------------------------------------------------------------- as Claude Code runs it


@posix_only
def test_default_command_runs_under_sh_as_claude_code_does(tmp_path: Any) -> None:
    path = str(tmp_path / "settings.json")
    install(path, check_import=False)
    for event, sub in HOOK_EVENTS.items():
        command = ours(load(path), event)[0]["command"]
        # Claude Code runs `/bin/sh -c "<command>"`; let that same shell say which words it sees.
        words = subprocess.run(
            ["/bin/sh", "-c", "printf '%s\\0' " + command], capture_output=True, text=True, check=True
        ).stdout.split("\0")[:-1]
        assert os.path.isabs(words[0]) and os.path.isfile(words[0]) and os.access(words[0], os.X_OK)
        assert words[0] == os.path.abspath(sys.executable)
        assert words[1:] == ["-c", launch.HOOK_BOOTSTRAP, launch.package_root(), "hook", sub]


@posix_only
def test_an_awkward_program_path_survives_the_shell(tmp_path: Any) -> None:
    folder = tmp_path / "it's a $HOME `dir`"
    folder.mkdir()
    program = folder / "orchestray"
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    program.chmod(0o755)
    path = str(tmp_path / "settings.json")
    install(path, [str(program)])
    command = ours(load(path), "UserPromptSubmit")[0]["command"]
    out = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True).stdout
    assert out == "hook\nprompt\n"
    # That program runs, but it is not Orchestray: status runs each hook as Claude Code would and says so.
    report = status(path, [str(program)])
    assert report.installed and not report.healthy and len(report.broken) == len(HOOK_EVENTS)
    assert all("does not run Orchestray" in (h.problem or "") for h in report.hooks)


@posix_only
def test_importable_warning() -> None:
    assert hs.importable_warning(["/bin/false", "-m", "tray"]) is not None
    assert hs.importable_warning(["/bin/true", "-m", "tray"]) is None
    assert hs.importable_warning(["/opt/orchestray"]) is None  # frozen: nothing to import


# --------------------------------------------------------------------------------------- the registry shim


@posix_only
def test_registry_shim_runs_orchestray(tmp_path: Any) -> None:
    echo = tmp_path / "fake-python"
    echo.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    echo.chmod(0o755)
    prefix = [str(echo), "-m", "tray"]
    result = hs.write_registry_shim(str(tmp_path), prefix)
    assert result.changed and result.path == str(tmp_path / "registry.py")
    assert SHIM_MARKER in read(result.path).decode()
    out = subprocess.run(
        [sys.executable, result.path, "register", "--role", "worker"], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["-m", "tray", "register", "--role", "worker"]
    assert not hs.write_registry_shim(str(tmp_path), prefix).changed
    assert hs.remove_registry_shim(str(tmp_path)) and not os.path.exists(result.path)


def test_registry_shim_never_overwrites_a_foreign_script(tmp_path: Any) -> None:
    original = b"#!/usr/bin/env python3\n# the protocol's own registry.py\nprint('hi')\n"
    path = write(tmp_path / "registry.py", original)
    with pytest.raises(SettingsError, match="not written by Orchestray"):
        hs.write_registry_shim(str(tmp_path), PREFIX)
    assert not hs.remove_registry_shim(str(tmp_path))
    assert read(path) == original


# --------------------------------------------------------------------------------------------- properties


def test_an_empty_hooks_object_is_normalised_away(tmp_path: Any) -> None:
    """Documented: `"hooks": {}` (or an empty event list) that existed before install is gone after uninstall."""
    back, _ = plan_uninstall(plan_install({"a": 1, "hooks": {}}, COMMANDS)[0])
    assert back == {"a": 1}
    back, _ = plan_uninstall(plan_install({"hooks": {"Stop": [], "X": []}}, COMMANDS)[0])
    assert back == {"hooks": {"X": []}}


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_commands = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["python -m tray hook promptx", "orchestray-x hook stop", "echo hook prompt", "jq ."]),
).filter(lambda command: orchestray_subcommand(command) is None)
_hooks = st.fixed_dictionaries(
    {"type": st.sampled_from(["command", "prompt"]), "command": _commands},
    optional={"timeout": st.integers(1, 600), "extra": _values},
)
_groups = st.one_of(
    st.fixed_dictionaries({"hooks": st.lists(_hooks, max_size=3)}, optional={"matcher": st.text(max_size=8)}),
    _values,  # groups we do not understand are left alone
)
_events = st.sampled_from([*HOOK_EVENTS, "PreToolUse", "PostToolUse"]) | st.text(min_size=1, max_size=10)


@st.composite
def settings_dicts(draw: Any) -> Dict[str, Any]:
    items = list(draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "hooks"), _values, max_size=4)).items())
    if draw(st.booleans()):
        hooks = draw(st.dictionaries(_events, st.lists(_groups, min_size=1, max_size=3), min_size=1, max_size=4))
        items.insert(draw(st.integers(0, len(items))), ("hooks", hooks))
    return dict(items)


@settings(max_examples=300, deadline=None)
@given(settings_dicts())
def test_property_uninstall_undoes_install_and_install_is_idempotent(original: Dict[str, Any]) -> None:
    installed, plan = plan_install(original, COMMANDS)
    assert plan.changed and plan.added == tuple(HOOK_EVENTS)
    again, second = plan_install(installed, COMMANDS)
    assert not second.changed and strict(again) == strict(installed)
    back, removed = plan_uninstall(installed)
    assert strict(back) == strict(original)
    assert sorted(removed) == sorted(HOOK_EVENTS)
    assert plan_uninstall(original)[1] == ()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_dicts())
def test_property_on_files_bytes_come_back(original: Dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(os.path.join(folder, "settings.json"), dump(original))
        first = install(path, PREFIX)
        installed = read(path)
        assert first.changed
        assert not install(path, PREFIX).changed and read(path) == installed
        uninstall(path)
        assert read(path) == dump(original)
