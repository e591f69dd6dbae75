"""Human-readable bits shared by the CLI summary, the tray menu, its tooltip and the notifications."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates: they can make a folder name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
#: What a text cut by `safe_text` ends with.
ELLIPSIS = "\u2026"


def format_age(seconds: float, coarse: bool = False) -> str:
    """`42s`, `5m`, `3h 12m`, `2d 4h`: short enough for a menu line.

    `coarse` says `<1m` for the first minute: the tray refreshes ages at most once a minute, so a count of
    seconds there would be wrong most of the time.
    """
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "<1m" if coarse else f"{seconds}s"
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


def one_line(text: str) -> str:
    """`text` as one line of plain text: whitespace runs (newlines, tabs) become one space; other control
    characters (escape sequences' ESC, NUL, DEL, C1) and bidi overrides are dropped. For menu labels, where a
    folder name with a newline would otherwise make a two-line item."""
    if text.isprintable():  # the common case, and 30x faster: no control, bidi or format character, no
        return " ".join(text.split())  # whitespace but the plain space (all of those are "not printable")
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cs") and char not in _BIDI_CONTROLS:
            kept.append(char)
    return " ".join("".join(kept).split())


def printable(text: str) -> str:
    """`text` for a terminal, every character still identifiable: control characters (newline, ESC, BEL, DEL,
    C1) and bidi overrides are shown escaped (`\\n`, `\\x1b`, `\\u202e`) instead of acting, so a hostile folder
    or file name can neither drive the terminal nor fake a line, and the user can still tell which file it is.
    Undecodable bytes of a file name (surrogate escapes) are kept: the CLI's stdout shows them as `\\xff`."""
    shown = []
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            shown.append(char)
        elif char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            shown.append(char.encode("unicode_escape").decode("ascii"))
        else:
            shown.append(char)
    return "".join(shown)


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def safe_text(text: object, limit: int) -> str:
    """``text`` made safe for any notifier and for the tray's tooltip: one line, no control characters, at most
    ``limit`` UTF-16 units.

    Control characters (C0, C1, DEL), lone surrogates (they cannot be encoded for D-Bus) and bidi overrides
    are dropped; every run of whitespace (newlines, tabs) becomes one space; a text over the limit is cut
    and ends with an ellipsis. Length is counted in UTF-16 code units because that is what Windows caps.
    Idempotent, so every notifier can apply it again.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    cleaned = one_line(text)
    if limit <= 0:
        return ""
    if sum(_utf16_units(c) for c in cleaned) <= limit:
        return cleaned
    out: list[str] = []
    used = 0
    for char in cleaned:
        if used + _utf16_units(char) > limit - 1:  # leave room for the ellipsis
            break
        out.append(char)
        used += _utf16_units(char)
    return "".join(out).rstrip() + ELLIPSIS
