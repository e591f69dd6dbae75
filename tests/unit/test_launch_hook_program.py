"""Frozen installs point their hooks at the small hook program `orchestray-hook` (issue 13), on every OS.

`tray.platform.launch.frozen_hook_program` looks beside the running program (the tray, the CLI, or the .app's
program); a build without it falls back to the console CLI program. Hook entries naming either program are
recognised as ours (so `hooks uninstall` and `hooks status` find them again), in both forms, with Windows paths.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tray.hooks.invocation import FORM_EXEC, FORM_SHELL, hook_entry, hook_subcommand, match_words
from tray.platform import launch

REPO = Path(__file__).resolve().parents[2]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_linux_build_hooks_run_the_hook_program(tmp_path: Path) -> None:
    main = touch(tmp_path / "orchestray" / "orchestray")
    hook = touch(tmp_path / "orchestray" / "orchestray-hook")
    assert launch.hook_prefix(frozen=True, executable=str(main), platform="linux") == [str(hook)]


def test_macos_app_hooks_run_the_hook_program(tmp_path: Path) -> None:
    macos = tmp_path / "Orchestray.app" / "Contents" / "MacOS"
    main, hook = touch(macos / "Orchestray"), touch(macos / "orchestray-hook")
    assert launch.hook_prefix(frozen=True, executable=str(main), platform="darwin") == [str(hook)]


@pytest.mark.parametrize("running", ["orchestray.exe", "OrchestrayTray.exe"])
def test_windows_build_hooks_run_the_hook_program(tmp_path: Path, running: str) -> None:
    folder = tmp_path / "Orchestray"
    for name in ("orchestray.exe", "OrchestrayTray.exe"):
        touch(folder / name)
    hook = touch(folder / "orchestray-hook.exe")
    touch(folder / "orchestray-hook")  # not the Windows name: never chosen there
    prefix = launch.hook_prefix(frozen=True, executable=str(folder / running), platform="win32")
    assert prefix == [str(hook)]


def test_a_build_without_the_hook_program_falls_back_to_the_cli(tmp_path: Path) -> None:
    main = touch(tmp_path / "orchestray")
    assert launch.hook_prefix(frozen=True, executable=str(main), platform="linux") == [str(main)]
    tray = touch(tmp_path / "win" / "OrchestrayTray.exe")
    cli = touch(tmp_path / "win" / "orchestray.exe")
    assert launch.hook_prefix(frozen=True, executable=str(tray), platform="win32") == [str(cli)]


def test_from_python_nothing_changes(tmp_path: Path) -> None:
    touch(tmp_path / "orchestray-hook")  # a stray file beside an interpreter means nothing
    python = touch(tmp_path / "python3")
    assert launch.hook_prefix(frozen=False, executable=str(python))[:2] == [str(python), "-c"]


@pytest.mark.parametrize("form", [FORM_EXEC, FORM_SHELL])
@pytest.mark.parametrize(
    "program",
    [
        "/opt/orchestray/orchestray-hook",
        "/Applications/Orchestray.app/Contents/MacOS/orchestray-hook",
        "C:\\Program Files\\Orchestray\\orchestray-hook.exe",
    ],
)
def test_hook_program_entries_are_ours(form: str, program: str) -> None:
    entry = hook_entry([program], "prompt", form)
    assert hook_subcommand(entry) == "prompt"
    assert hook_subcommand(dict(entry, command=entry["command"].replace("orchestray-hook", "orchestray-hooks"))) is None


def test_match_words_takes_only_our_program_names() -> None:
    assert match_words(["/x/orchestray-hook", "hook", "stop"]) == "stop"
    assert match_words(["/x/ORCHESTRAY-HOOK.EXE", "hook", "stop"]) == "stop"
    assert match_words(["/x/orchestray-hooker", "hook", "stop"]) is None


def test_packaging_builds_the_program_launch_looks_for() -> None:
    spec = importlib.util.spec_from_file_location("packaging_common_names", REPO / "packaging" / "common.py")
    assert spec is not None and spec.loader is not None
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    assert common.HOOK_NAME == launch.HOOK_PROGRAM


def test_the_hook_handlers_never_import_what_the_hook_program_leaves_out() -> None:
    """Every import reachable from packaging/hook_entry.py (function-level ones too, as PyInstaller follows them):
    none of Orchestray's own modules or the GUI libraries the hook program is built without. Standard-library
    leftovers (multiprocessing, asyncio...) are reached only through optional branches of other libraries; the
    frozen tests (tests/e2e/test_frozen_hook.py) run every hook event through the real build."""
    import modulefinder
    import sys

    spec = importlib.util.spec_from_file_location("packaging_common_finder", REPO / "packaging" / "common.py")
    assert spec is not None and spec.loader is not None
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    finder = modulefinder.ModuleFinder(path=[str(REPO), *sys.path])
    finder.run_script(common.HOOK_ENTRY)
    ours_or_gui = [name for name in common.HOOK_EXCLUDES if name.startswith("tray.") or name[0].isupper()
                   or name in ("pystray", "gi", "dbus", "plyer", "six")]
    reached = sorted(m for m in finder.modules for name in ours_or_gui if m == name or m.startswith(name + "."))
    assert reached == []
    assert "tray.hooks.handlers" in finder.modules
