"""`python -m tray` behaves exactly like the `orchestray` command."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "hook":
        # The hot path (every Claude Code prompt): skip the command line's imports altogether.
        from tray.hooks.handlers import run_hook_argv

        sys.exit(run_hook_argv(sys.argv[2:]))
    from tray.cli import main

    sys.exit(main())
