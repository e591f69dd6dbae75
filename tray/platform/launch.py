"""How Orchestray is launched: from Python or frozen (PyInstaller), as hooks, as the CLI, as the tray at login.

The one module that knows it. Everything that writes a command for another program to run later (the hook
commands in Claude Code's ``settings.json``, the ``registry.py`` shim, the login item) asks here, so a change
of layout (a new frozen program, a moved script) is made in one place.

The hook command from Python is ``<python> -c <HOOK_BOOTSTRAP> <folder holding tray> hook EVENT`` rather than
``<python> <…>/tray/hook.py`` or ``-m tray``, because Claude Code treats exit status 2 of a hook as a *blocking*
error (it erases the user's prompt, or keeps the model going after ``Stop``), and ``python missing_file.py``
exits 2 as soon as the install it points at is gone (``pip uninstall``, a moved virtualenv, ``pip install -e``
over ``pip install .``). ``python -c`` never exits 2 by itself, and the bootstrap catches everything and exits
0 with nothing on stdout; a missing interpreter is the shell's 127 (or, in exec form, a failed spawn), both
non-blocking. The bootstrap holds no quote of either kind and no backslash, so it survives every shell's quoting
(POSIX ``sh``, Git Bash on Windows) unchanged; the package folder travels as its own argument.

Frozen builds run the hooks through ``orchestray-hook``, a small console program built from the hook handlers
alone (``packaging/hook_entry.py``), beside the main program(s) in every build: the main program bundles the
tray, and PyInstaller runs the start-up hooks of all it bundles (GTK, multiprocessing...) before a hook's first
line. A build without it (older, or made by hand from one spec) falls back to the console CLI program (on Windows
``orchestray.exe`` beside the windowed ``OrchestrayTray.exe``).
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

#: Windows frozen build: the windowed tray program and the console CLI program, side by side in one folder.
#: They cannot be called ``orchestray.exe`` and ``Orchestray.exe``: Windows file names are case-insensitive.
WINDOWS_TRAY_EXE = "OrchestrayTray.exe"
WINDOWS_CLI_EXE = "orchestray.exe"
#: The small frozen hook program (``.exe`` on Windows), beside the main program in every build.
HOOK_PROGRAM = "orchestray-hook"
#: The program names a frozen hook command starts with: the hook program, or (older builds) the main program.
FROZEN_HOOK_PROGRAM_NAMES = ("orchestray", HOOK_PROGRAM)

#: The program a hook command gives ``python -c``. ``sys.argv`` is then ``["-c", PACKAGE_ROOT, "hook", EVENT]``.
#: It puts the folder that held Orchestray first on ``sys.path`` (in place of ``''``, the hook's working
#: folder: the user's project, which must never shadow our package), runs the stable entry ``tray.hook.main``,
#: and exits 0 whatever happened: an import error (package gone) is one line on stderr, which Claude Code does not show
#: for exit 0. ``os._exit`` after an explicit flush: no interpreter shutdown step can change the status.
HOOK_BOOTSTRAP = "\n".join(
    (
        "import sys,os",
        "try:",
        " sys.path[0:0 if sys.path[0] else 1]=[sys.argv[1]]",
        " from tray.hook import main",
        " main(sys.argv[2:])",
        "except BaseException as e:",
        " try:",
        "  sys.stderr.write(repr(e)[:500]+chr(10))",
        " except BaseException:",
        "  pass",
        "try:",
        " sys.stdout.flush()",
        "except BaseException:",
        " pass",
        "os._exit(0)",
    )
)
#: What recognises a bootstrap as ours, whatever version of it an older install wrote.
HOOK_BOOTSTRAP_MARK = "from tray.hook import main"


def is_frozen() -> bool:
    """True in a PyInstaller build (its bootloader sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def _frozen(frozen: Optional[bool]) -> bool:
    return is_frozen() if frozen is None else frozen


def _executable(executable: Optional[str]) -> str:
    """``sys.executable`` made absolute, deliberately not resolved through symlinks: a virtualenv's
    ``bin/python`` is a link to the base interpreter, and resolving it would lose the virtualenv."""
    exe = executable or sys.executable
    if not exe:
        raise RuntimeError("cannot tell which program runs Orchestray (sys.executable is empty)")
    return os.path.abspath(exe)


def package_root() -> str:
    """The folder that holds the ``tray`` package (site-packages, or a source checkout)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _program_name(path: str) -> str:
    name = os.path.basename(path).lower()
    return name[:-4] if name.endswith(".exe") else name


def _sibling(name: str, executable: Optional[str] = None) -> Optional[str]:
    folder = os.path.dirname(_executable(executable))
    path = os.path.join(folder, name)
    return path if os.path.isfile(path) else None


def tray_executable(
    frozen: Optional[bool] = None, platform: Optional[str] = None, executable: Optional[str] = None
) -> Optional[str]:
    """The program autostart should launch, or None for ``sys.executable`` (:func:`tray_command`'s own choice).

    Only the frozen Windows build differs: run from the console ``orchestray.exe`` (the CLI), the login item must
    still start the windowed ``OrchestrayTray.exe`` beside it, or a console window would open at every login.
    """
    if _frozen(frozen) and (platform or sys.platform) == "win32":
        return _sibling(WINDOWS_TRAY_EXE, executable)
    return None


def cli_executable(
    frozen: Optional[bool] = None, platform: Optional[str] = None, executable: Optional[str] = None
) -> Optional[str]:
    """The frozen console program that runs the CLI and the hooks (Windows: ``orchestray.exe`` beside the windowed
    tray program; elsewhere the executable itself), or None when not frozen."""
    if not _frozen(frozen):
        return None
    exe = _executable(executable)
    if (platform or sys.platform) == "win32" and _program_name(exe) != "orchestray":
        return _sibling(WINDOWS_CLI_EXE, exe)
    return exe


def frozen_hook_program(platform: Optional[str] = None, executable: Optional[str] = None) -> Optional[str]:
    """The frozen program the hooks run: ``orchestray-hook`` beside the running program, else the console CLI
    program, else None."""
    name = HOOK_PROGRAM + (".exe" if (platform or sys.platform) == "win32" else "")
    return _sibling(name, executable) or cli_executable(True, platform, executable)


def hook_prefix(
    frozen: Optional[bool] = None, executable: Optional[str] = None, platform: Optional[str] = None
) -> List[str]:
    """The argv words a hook command starts with; ``hook EVENT`` follows them.

    Frozen: :func:`frozen_hook_program`. From Python: ``<python> -c HOOK_BOOTSTRAP <package root>``.
    """
    if _frozen(frozen):
        program = frozen_hook_program(platform, executable)
        if program is None:
            raise RuntimeError(f"no console {WINDOWS_CLI_EXE} beside {_executable(executable)} to run the hooks")
        return [program]
    return [_executable(executable), "-c", HOOK_BOOTSTRAP, package_root()]


def cli_command(frozen: Optional[bool] = None, executable: Optional[str] = None) -> List[str]:
    """The argv words of the ``orchestray`` command line itself: the frozen program, else ``<python> -m tray``."""
    exe = _executable(executable)
    return [exe] if _frozen(frozen) else [exe, "-m", "tray"]


def tray_command(
    frozen: Optional[bool] = None, executable: Optional[str] = None, platform: Optional[str] = None
) -> List[str]:
    """The argv that starts the tray (what the login item runs).

    Frozen (PyInstaller): the executable itself with ``tray``; for a macOS .app that is
    ``Orchestray.app/Contents/MacOS/Orchestray``, which launchd can run directly (no ``open -a``).
    From Python: ``[python, "-m", "tray", "tray"]``; on Windows ``pythonw.exe`` is used when it sits next to
    ``python.exe``, so no console window opens at login. The interpreter must be able to import ``tray``
    without the caller's ``PYTHONPATH`` (i.e. Orchestray is installed into it).
    """
    exe = _executable(executable)
    if _frozen(frozen):
        return [exe, "tray"]
    if (platform or sys.platform) == "win32":
        folder, base = os.path.split(exe)
        if base.lower() == "python.exe" and os.path.isfile(os.path.join(folder, "pythonw.exe")):
            exe = os.path.join(folder, "pythonw.exe")
    return [exe, "-m", "tray", "tray"]
