"""States and kinds are Enums whose members behave as their string values, so nothing a user or a script sees
changes: JSON output, log lines, formatted labels, and lookups by the plain string all give the same answers.
"""

from __future__ import annotations

import json

from tray.app import menu as m
from tray.app.icon import STATE_COLORS, render_icon
from tray.core import events
from tray.core.snapshot import SEVERITY, State, project_state


def test_members_are_their_values() -> None:
    for enum in (State, events.EventKind, events.OfferKind, m.ActionKind):
        for member in enum:
            assert member == member.value and str(member) == member.value and f"{member}" == member.value
            assert hash(member) == hash(member.value)
            assert enum(member.value) is member
            assert json.loads(json.dumps({member: [member]})) == {member.value: [member.value]}


def test_a_plain_string_finds_a_member_keyed_table_and_the_other_way_round() -> None:
    assert STATE_COLORS["orphaned"] == STATE_COLORS[State.ORPHANED]
    assert {"ok": 1}[State.OK] == 1
    assert render_icon("conflict", 2, size=32).tobytes() == render_icon(State.CONFLICT, 2, size=32).tobytes()


def test_project_state_and_severity_use_the_enum() -> None:
    assert project_state(0, 0, 2) is State.ORPHANED
    assert project_state(2, 0, 0) is State.CONFLICT
    assert [s.value for s in SEVERITY] == ["conflict", "orphaned", "vacating", "stale", "ok", "none"]
