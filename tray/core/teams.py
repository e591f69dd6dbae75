"""Claude Code agent teams: each team a project-like group, its lead the orchestrator, its teammates workers.

The format, as the Claude Code client (2.1.332) writes and checks it: one file per team,
`<config>/teams/<name>/config.json`, a JSON object with `name`, `createdAt`, `leadAgentId`, `leadSessionId`,
`leadProcess` (`{"pid", "pidSpace", "claimedAt", "procStart"?}`, the lead's process) and `members`, a list of
objects each with at least `agentId` and `name` (the client drops members without them; it also writes
`agentType`, `joinedAt`, `tmuxPaneId`, `cwd`, `backendType`, e.g. `"in-process"` for a teammate running inside
the lead's process). A file that is not such an object is shown as unreadable, never guessed at.

Liveness, only where it can be known: the lead is alive or gone as its registry entry says when its
`leadSessionId` is registered; an in-process teammate lives and dies with the lead; anything else (a teammate
in its own tmux pane, a lead that never registered: its `pidSpace` may be another machine's or container's) is
"unknown".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from tray.core.fsutil import ReadRefused, read_regular_file

TEAM_LIMIT = 1024 * 1024  # the client refuses team files over 1 MiB too
MAX_TEAMS = 200
ALIVE = "alive"
GONE = "gone"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Member:
    name: str
    agent_id: str
    backend: str = ""


@dataclass(frozen=True)
class Team:
    name: str
    path: str
    lead_agent_id: str = ""
    lead_session_id: str = ""
    members: Tuple[Member, ...] = ()
    problem: str = ""

    @property
    def lead(self) -> Optional[Member]:
        return next((m for m in self.members if m.agent_id == self.lead_agent_id), None)

    @property
    def teammates(self) -> Tuple[Member, ...]:
        return tuple(m for m in self.members if m.agent_id != self.lead_agent_id)


def parse(name: str, path: str, data: bytes) -> Team:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Team(name, path, problem="not JSON")
    if not isinstance(raw, dict) or not isinstance(raw.get("members"), list):
        return Team(name, path, problem="not a team file (no members list)")
    members = tuple(
        Member(m["name"], m["agentId"], str(m["backendType"]) if isinstance(m.get("backendType"), str) else "")
        for m in raw["members"]
        if isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("agentId"), str)
    )
    lead_agent = raw.get("leadAgentId")
    lead_session = raw.get("leadSessionId")
    given = raw.get("name")
    shown = given if isinstance(given, str) and given else name
    return Team(shown, path, lead_agent if isinstance(lead_agent, str) else "",
                lead_session if isinstance(lead_session, str) else "", members)


def read_teams(config: str) -> List[Team]:
    """Every team under `config`/teams (at most MAX_TEAMS), unreadable ones with their problem."""
    folder = os.path.join(config, "teams")
    try:
        names = sorted(os.listdir(folder))[:MAX_TEAMS]
    except OSError:
        return []
    teams = []
    for name in names:
        path = os.path.join(folder, name, "config.json")
        try:
            data = read_regular_file(path, TEAM_LIMIT)
        except FileNotFoundError:
            continue  # a folder without a team file (being created or removed)
        except NotADirectoryError:
            continue
        except ReadRefused as refused:
            teams.append(Team(name, path, problem=str(refused)))
            continue
        except OSError as error:
            teams.append(Team(name, path, problem=f"cannot be read ({error.strerror or error})"))
            continue
        teams.append(parse(name, path, data))
    return teams


def read_all(configs: Iterable[str]) -> List[Team]:
    seen = set()
    teams: List[Team] = []
    for config in configs:
        key = os.path.normcase(os.path.normpath(config))
        if key not in seen:
            seen.add(key)
            teams.extend(read_teams(config))
    return teams


def liveness(team: Team, registered: Mapping[str, bool]) -> Tuple[str, Dict[str, str]]:
    """(the lead's state, each teammate's state by agent id); `registered`: session id -> alive."""
    lead = ALIVE if registered.get(team.lead_session_id) else UNKNOWN
    if team.lead_session_id in registered and not registered[team.lead_session_id]:
        lead = GONE
    mates = {m.agent_id: (lead if m.backend == "in-process" and lead != UNKNOWN else UNKNOWN)
             for m in team.teammates}
    return lead, mates
