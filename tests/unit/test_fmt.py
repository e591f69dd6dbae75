"""`fmt.printable`: what the CLI prints of a name it read from disk."""

from __future__ import annotations

import pytest

from tray.core.fmt import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain/folder é 名", "plain/folder é 名"),
        ("a\nb", "a\\nb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b", "c1\\x9b"),
        ("txt\u202egnp.exe", "txt\\u202egnp.exe"),
    ],
)
def test_controls_are_shown_escaped_and_text_is_kept(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_undecodable_bytes_stay_for_the_console_to_escape() -> None:
    name = b"\xff-raw.json".decode("utf-8", "surrogateescape")
    assert printable(name) == name
    assert printable(name).encode("utf-8", "surrogateescape") == b"\xff-raw.json"
