"""`python -m tray` behaves exactly like the `orchestray` command."""

import sys

if __name__ == "__main__":
    # The hot path (every Claude Code prompt) first: it skips the command line's imports altogether.
    if sys.argv[1:2] == ["hook"]:  # and only then: the tray and the other commands never load the handlers
        from tray.hooks.handlers import hook_call

        done = hook_call(sys.argv[1:])
        if done is not None:
            sys.exit(done)
    from tray.cli import main

    sys.exit(main())
