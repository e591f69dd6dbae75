"""Where the registry and Claude Code's settings live.

Resolved from the environment on every call (never cached) so that tests and users can point a single
command at another registry with `ORCHESTRAY_REGISTRY_DIR` or `--registry-dir`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

if TYPE_CHECKING:  # typing costs milliseconds the hook does not have
    from typing import Mapping, Optional

REGISTRY_ENV = "ORCHESTRAY_REGISTRY_DIR"
CLAUDE_CONFIG_ENV = "CLAUDE_CONFIG_DIR"
SESSION_ENV = "CLAUDE_CODE_SESSION_ID"  # set by Claude Code for its hooks and the commands it runs


def claude_config_dir(env: Optional[Mapping[str, str]] = None) -> str:
    """Claude Code's configuration folder: `$CLAUDE_CONFIG_DIR`, else `~/.claude`."""
    env = os.environ if env is None else env
    configured = env.get(CLAUDE_CONFIG_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(os.path.expanduser("~"), ".claude")


def registry_dir(override: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """The registry folder, by precedence: `--registry-dir`, `$ORCHESTRAY_REGISTRY_DIR`, the Claude config dir."""
    env = os.environ if env is None else env
    if override:
        return os.path.abspath(os.path.expanduser(override))
    configured = env.get(REGISTRY_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(claude_config_dir(env), "active")


def settings_path(override: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """Claude Code's user `settings.json`, where the hooks are installed."""
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(claude_config_dir(env), "settings.json")
