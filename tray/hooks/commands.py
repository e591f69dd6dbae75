"""`orchestray hooks install|uninstall|status`: the command-line shell over `tray.hooks.settings`."""

from __future__ import annotations

import argparse
import os
import sys

from tray.core.paths import settings_path
from tray.hooks import settings as hs


def run_hooks_command(args: argparse.Namespace) -> int:
    """Exit 0 done; 1 when `status` finds an installed hook that does not really run (one line each on
    stderr); 2 when settings.json is unusable (it is then left untouched)."""
    path = settings_path(args.settings)
    try:
        if args.action == "install":
            form = getattr(args, "form", "auto") or "auto"
            version = hs.claude_code_version()  # which form, and which events, this Claude Code knows
            result = hs.install(path, form=hs.form_for(version) if form == "auto" else form,
                                events=hs.events_for(version))
            print(result.message)
            for warning in result.warnings:
                sys.stderr.write(f"orchestray: warning: {warning}\n")
            if args.registry_shim:
                shim = hs.write_registry_shim(os.path.dirname(path))
                print(f"{'wrote' if shim.changed else 'kept'} {shim.path}")
        elif args.action == "uninstall":
            print(hs.uninstall(path).message)
            if args.registry_shim and hs.remove_registry_shim(os.path.dirname(path)):
                print(f"removed {os.path.join(os.path.dirname(path), hs.SHIM_NAME)}")
        else:
            report = hs.status(path, events=hs.events_for(hs.claude_code_version()))
            print(report.format())
            for line in report.broken_lines():
                sys.stderr.write(f"orchestray: {line}\n")
            return 1 if report.broken else 0
    except hs.SettingsError as error:
        sys.stderr.write(f"orchestray: {error}\n")
        return 2
    return 0
