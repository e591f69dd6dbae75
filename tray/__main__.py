"""`python -m tray` behaves exactly like the `orchestray` command."""

import sys

from tray.cli import main

if __name__ == "__main__":
    sys.exit(main())
