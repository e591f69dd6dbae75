"""Orchestray: keeps the Claude Code orchestrator/worker registry visible and safe.

This package must stay cheap to import: the Claude Code hooks import it on every prompt.
"""

__version__ = "0.1.0"
APP_NAME = "orchestray"
