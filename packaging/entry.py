"""Entry script of the frozen Orchestray programs: dispatches exactly like the ``orchestray`` command.

``orchestray`` with no arguments starts the tray (``tray.cli.main`` does that); ``hook EVENT`` takes the same
fast path as ``python -m tray hook EVENT`` (no argparse), because Claude Code runs it on every prompt.
"""

import os
import sys


def _fix_streams() -> None:
    """A windowed program (Windows ``console=False``) has no stdin/stdout/stderr: give it null ones, so a print,
    a log handler or argparse's error message cannot raise on ``None``."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - lives as long as we do


def main() -> int:
    _fix_streams()
    argv = sys.argv[1:]
    if sys.platform == "darwin":
        # Finder/LaunchServices may add a process serial number argument to an .app it starts.
        argv = [arg for arg in argv if not arg.startswith("-psn_")]
    if argv[:1] == ["hook"]:  # and only then: the tray and the other commands never load the handlers
        from tray.hooks.handlers import hook_call

        done = hook_call(argv)  # the hot path first, without the command line's imports
        if done is not None:
            return done
    from tray.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
