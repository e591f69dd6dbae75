"""Human-readable bits shared by the CLI summary and the tray menu."""

from __future__ import annotations


def format_age(seconds: float) -> str:
    """`42s`, `5m`, `3h 12m`, `2d 4h`: short enough for a menu line."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def shorten_middle(text: str, limit: int) -> str:
    """Keep both ends of a long path or id: the start says where, the end says which."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]
