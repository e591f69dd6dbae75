"""Agent teams as Claude Code 2.1.332 writes them (`<config>/teams/<name>/config.json`): parsed, hostile files
shown as unreadable, liveness only where it can be known, and the team in the running controller's menu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest
from controller_world import ORCH, ButtonView

from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import actions, teams
from tray.core.registry import Registry

LEAD_AGENT = "team-lead@alpha-team"


def team_file(config: Path, name: str, lead_session: str = ORCH, extra_members: Any = ()) -> Path:
    """A team file shaped as the client creates it (its lead in-process, then teammates joining)."""
    members: List[Dict[str, Any]] = [
        {"agentId": LEAD_AGENT, "name": "team-lead", "agentType": "team-lead", "joinedAt": 1764590000000,
         "tmuxPaneId": "leader", "cwd": "/p/alpha", "subscriptions": [], "backendType": "in-process"},
        {"agentId": "researcher@alpha-team", "name": "researcher", "agentType": "general-purpose",
         "joinedAt": 1764590100000, "tmuxPaneId": "in-process", "cwd": "/p/alpha", "backendType": "in-process"},
        {"agentId": "tester@alpha-team", "name": "tester", "joinedAt": 1764590200000, "tmuxPaneId": "%3",
         "cwd": "/p/alpha", "backendType": "tmux"},
        *extra_members,
    ]
    data = {"name": name, "createdAt": 1764590000000, "leadAgentId": LEAD_AGENT, "leadSessionId": lead_session,
            "leadProcess": {"pid": 4242, "pidSpace": "host:abc", "claimedAt": 1764590000000}, "members": members}
    path = config / "teams" / name / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_a_team_file_parses_into_lead_and_teammates_and_bad_members_are_dropped(tmp_path: Path):
    team_file(tmp_path, "alpha-team", extra_members=[{"name": "no id"}, "junk", {"agentId": 3, "name": "x"}])
    (team,) = teams.read_teams(str(tmp_path))
    assert team.problem == "" and team.name == "alpha-team" and team.lead_session_id == ORCH
    assert team.lead == teams.Member("team-lead", LEAD_AGENT, "in-process")
    assert [m.name for m in team.teammates] == ["researcher", "tester"]


def test_liveness_is_known_only_through_the_registry_and_in_process_teammates():
    team = teams.parse("t", "/x", (json.dumps({"leadAgentId": "l", "leadSessionId": ORCH, "members": [
        {"agentId": "l", "name": "lead"}, {"agentId": "a", "name": "a", "backendType": "in-process"},
        {"agentId": "b", "name": "b", "backendType": "tmux"}]})).encode())
    assert teams.liveness(team, {ORCH: True}) == (teams.ALIVE, {"a": teams.ALIVE, "b": teams.UNKNOWN})
    assert teams.liveness(team, {ORCH: False}) == (teams.GONE, {"a": teams.GONE, "b": teams.UNKNOWN})
    assert teams.liveness(team, {}) == (teams.UNKNOWN, {"a": teams.UNKNOWN, "b": teams.UNKNOWN})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"members": [{"agentId": "a", "na', "not JSON"),  # half-written
        (b"\x00\x01\x02", "not JSON"),
        (b"[1, 2]", "not a team file (no members list)"),
        (b'{"name": "x", "members": {}}', "not a team file (no members list)"),
        (b" " * (teams.TEAM_LIMIT + 1), "is too large"),
    ],
)
def test_hostile_team_files_are_shown_unreadable(tmp_path: Path, content: bytes, problem: str):
    path = tmp_path / "teams" / "bad" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    (team,) = teams.read_teams(str(tmp_path))
    assert team.name == "bad" and team.problem.startswith(problem)


def test_a_fifo_team_file_is_refused_without_blocking(tmp_path: Path):
    (tmp_path / "teams" / "fifo").mkdir(parents=True)
    os.mkfifo(tmp_path / "teams" / "fifo" / "config.json")
    (tmp_path / "teams" / "empty-folder").mkdir()
    (tmp_path / "teams" / "stray-file").write_text("x")
    found: List[Any] = []
    reader = threading.Thread(target=lambda: found.append(teams.read_teams(str(tmp_path))), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert found and [(t.name, t.problem) for t in found[0]] == [("fifo", "is not a regular file")]


def test_the_tray_shows_the_team_of_a_live_lead_session(tmp_path: Path):
    config = tmp_path / "claude-config"
    team_file(config, "alpha-team")
    broken = config / "teams" / "broken" / "config.json"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00")
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(config))
    lead = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], env=env, stdin=subprocess.PIPE)
    try:
        registry = Registry(str(tmp_path / "reg"))
        (tmp_path / "alpha").mkdir()
        actions.register(registry, ORCH, lead.pid, str(tmp_path / "alpha"))
        controller = TrayController(registry, ButtonView(), ConfigStore(str(tmp_path / "cfg")), focus_problem="")
        controller.poll_once()
        menu = controller.shown[3]  # type: ignore[index]
        (team,) = [item for item in menu if item.text.startswith("⚑ team alpha-team")]
        assert team.text == "⚑ team alpha-team — lead alive (2 teammates)"
        assert [c.text for c in team.children] == [
            f"Lead (orchestrator): team-lead · {ORCH[:8]} · alive",
            "Teammate (worker): researcher · alive",
            "Teammate (worker): tester · unknown",
        ]
        assert any(item.text == "⚠ team broken: unreadable (not JSON)" for item in menu)
    finally:
        lead.kill()
        lead.wait(timeout=10)
