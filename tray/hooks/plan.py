"""What ``install`` and ``uninstall`` change in parsed settings: pure functions, no files.

* **Only our hooks are touched.** Everything else (other keys, other events, other groups, other hooks in a
  group, the order of keys) comes back exactly as it was parsed.
* For each event the first hook of ours with the right subcommand is updated in place (a changed interpreter
  path or form replaces, never duplicates), further copies are removed (and their groups, if that emptied
  them); when there is none, a new group ``{"matcher": "", "hooks": [ours]}`` is appended, so that uninstall
  can drop the whole group and no user group is ever edited.
* Uninstall removes ours from every event (also events a later version may no longer manage). A group, an
  event list, or ``"hooks"`` itself is removed only when it was non-empty and became empty because of us.
  Known normalisation: an empty ``"hooks": {}`` or an empty event list that existed before ``install`` is gone
  after ``uninstall``; Claude Code treats both exactly like an absent key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from tray.hooks.invocation import HOOK_TIMEOUT_SECONDS, hook_subcommand
from tray.hooks.jsonfile import check_structure


@dataclass(frozen=True)
class InstallPlan:
    """What :func:`plan_install` changed, per event."""

    added: Tuple[str, ...]
    updated: Tuple[str, ...]
    unchanged: Tuple[str, ...]
    duplicates_removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.duplicates_removed)


def group_hooks(group: Any) -> Optional[List[Any]]:
    """A group's hook list, or None for a group we do not understand (left exactly as it is)."""
    if isinstance(group, dict) and isinstance(group.get("hooks"), list):
        return group["hooks"]
    return None


def _entry(value: Union[str, Mapping[str, Any]], timeout: int) -> Dict[str, Any]:
    if isinstance(value, str):
        return {"type": "command", "command": value, "timeout": timeout}
    return dict(value)


def plan_install(
    settings: Mapping[str, Any],
    entries: Mapping[str, Union[str, Mapping[str, Any]]],
    timeout: int = HOOK_TIMEOUT_SECONDS,
) -> Tuple[Dict[str, Any], InstallPlan]:
    """Return a copy of ``settings`` with our hook for each event of ``entries``, and what changed.

    ``entries``: event -> the hook entry to write (see ``invocation.hook_entry``), or a shell command line
    (written with ``timeout``).
    """
    check_structure(settings, "settings")
    data: Dict[str, Any] = copy.deepcopy(dict(settings))
    hooks = data.setdefault("hooks", {})
    added: List[str] = []
    updated: List[str] = []
    unchanged: List[str] = []
    duplicates = 0
    for event, value in entries.items():
        wanted = _entry(value, timeout)
        sub = hook_subcommand(wanted)
        groups = hooks.get(event)
        found = []
        for group_index, group in enumerate(groups or []):
            for hook_index, hook in enumerate(group_hooks(group) or []):
                if hook_subcommand(hook) == sub:
                    found.append((group_index, hook_index))
        if not found:
            if groups is None:
                groups = hooks[event] = []
            groups.append({"matcher": "", "hooks": [wanted]})
            added.append(event)
            continue
        first_group, first_hook = found[0]
        members = groups[first_group]["hooks"]
        before = members[first_hook]
        # Our keys replace theirs; a key the user added (statusMessage...) stays. `args` goes with the form.
        hook = {key: value for key, value in before.items() if key not in ("args",) or "args" in wanted}
        hook.update(wanted)
        members[first_hook] = hook
        (updated if hook != before else unchanged).append(event)
        emptied = set()
        for group_index, hook_index in reversed(found[1:]):
            dupes = groups[group_index]["hooks"]
            del dupes[hook_index]
            duplicates += 1
            if not dupes:
                emptied.add(group_index)
        for group_index in sorted(emptied, reverse=True):
            del groups[group_index]
    return data, InstallPlan(tuple(added), tuple(updated), tuple(unchanged), duplicates)


def plan_uninstall(settings: Mapping[str, Any]) -> Tuple[Dict[str, Any], Tuple[str, ...]]:
    """Return a copy of ``settings`` without any hook of ours, and the event of each hook removed."""
    check_structure(settings, "settings")
    data: Dict[str, Any] = copy.deepcopy(dict(settings))
    hooks = data.get("hooks")
    if not hooks:
        return data, ()
    removed: List[str] = []
    for event in list(hooks):
        groups = hooks[event]
        if not groups:
            continue
        kept_groups = []
        for group in groups:
            members = group_hooks(group)
            if members:
                kept = [hook for hook in members if hook_subcommand(hook) is None]
                if len(kept) != len(members):
                    removed.extend([event] * (len(members) - len(kept)))
                    if not kept:
                        continue
                    group["hooks"] = kept
            kept_groups.append(group)
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if removed and not hooks:
        del data["hooks"]
    return data, tuple(removed)
