"""The command Claude Code's hooks run: `python /abs/path/to/tray/hook.py EVENT`.

A script path rather than `python -m tray hook EVENT` because `-m` loads runpy and importlib.util, about a
third of the prompt hook's own cost, on every prompt. It puts the folder holding the `tray` package first on
`sys.path` so it works from any install (site-packages, editable, a plain checkout).
"""

import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    from tray.hooks.handlers import run_hook_argv

    args = sys.argv[1:]
    if args[:1] == ["hook"]:  # `hook.py hook prompt`, the shape `orchestray hook prompt` has
        args = args[1:]
    sys.exit(run_hook_argv(args))
