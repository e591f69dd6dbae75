"""`orchestray hooks install|uninstall|status`: the command-line shell over `tray.hooks.settings`."""

from __future__ import annotations

import argparse
import sys

from tray.core.paths import settings_path
from tray.hooks import settings as hs


def run_hooks_command(args: argparse.Namespace) -> int:
    """Exit 0 done, 2 when settings.json is unusable (it is then left untouched)."""
    path = settings_path(args.settings)
    try:
        if args.action == "install":
            result = hs.install(path)
            print(result.message)
            for warning in result.warnings:
                sys.stderr.write(f"orchestray: warning: {warning}\n")
            if args.registry_shim:
                import os

                shim = hs.write_registry_shim(os.path.dirname(path))
                print(f"{'wrote' if shim.changed else 'kept'} {shim.path}")
        elif args.action == "uninstall":
            print(hs.uninstall(path).message)
            if args.registry_shim:
                import os

                if hs.remove_registry_shim(os.path.dirname(path)):
                    print(f"removed {os.path.join(os.path.dirname(path), hs.SHIM_NAME)}")
        else:
            report = hs.status(path)
            print(report.format())
            return 0
    except hs.SettingsError as error:
        sys.stderr.write(f"orchestray: {error}\n")
        return 2
    return 0
