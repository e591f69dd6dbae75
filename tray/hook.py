"""The stable entry every hook command from Python ends in: ``tray.hook.main(["hook", EVENT, ...])``.

Hook commands written by ``orchestray hooks install`` run ``python -c <bootstrap> <package folder> hook EVENT``
(see ``tray/platform/launch.py``, which says why); the bootstrap imports this module and calls :func:`main`.
Its name and signature are what installed commands depend on across upgrades: keep them.

Run as a script (``python …/tray/hook.py hook EVENT``, the command earlier versions wrote), it still works,
and it too returns 0 whatever happens; ``hooks install`` replaces such commands with the bootstrap form.
"""

import os
import sys


def main(argv: list) -> int:
    """Run ``hook EVENT [--registry-dir DIR]`` (the leading ``hook`` is optional); always returns 0."""
    args = list(argv)
    if args[:1] == ["hook"]:  # `hook prompt`, the shape `orchestray hook prompt` has
        args = args[1:]
    from tray.hooks.handlers import run_hook_argv

    return run_hook_argv(args)


if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        main(sys.argv[1:])
    except BaseException:  # noqa: BLE001 - exit 2 would block Claude Code; nothing may escape
        pass
    try:
        sys.stdout.flush()
    finally:
        os._exit(0)
