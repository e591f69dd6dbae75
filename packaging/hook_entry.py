"""Entry script of the frozen hook program ``orchestray-hook``: Claude Code's hooks and nothing else.

Why a program of its own: the main frozen program bundles the tray, and PyInstaller runs the start-up hooks of
everything a program bundles (GTK, GObject, multiprocessing, pkgutil...) before the first line of ours, even for
``hook prompt``. This one is built from an analysis of the hook handlers alone (``common.hook_analysis_options``),
so it starts like a minimal PyInstaller program; ``bench/frozen_hook.py`` measures the two side by side.

Accepts the same words as the main program, ``hook EVENT``, so a hook command keeps the shape
``"<program>" hook <event>`` whichever program it names; a bare ``EVENT`` works too.
"""

import sys


def main() -> int:
    from tray.hooks.handlers import run_hook_argv

    args = sys.argv[1:]
    if args[:1] == ["hook"]:
        args = args[1:]
    return run_hook_argv(args)


if __name__ == "__main__":
    sys.exit(main())
