"""Claude Code task-list files as the client (2.1.332) writes them: `<config>/tasks/<list>/<n>.json`, indented
JSON, with the client's `.lock` and `.highwatermark` beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from tray.core import tasklists


def task(task_id: str, subject: str, status: str = "pending", owner: str = "", blocked_by=(), **extra: Any):
    data: Dict[str, Any] = {"id": task_id, "subject": subject, "description": f"{subject}, in detail",
                            "activeForm": f"Doing {subject}", "status": status, "blocks": [],
                            "blockedBy": list(blocked_by)}
    if owner:
        data["owner"] = owner
    data.update(extra)
    return data


def write_list(config: Path, list_id: str, tasks: List[Dict[str, Any]]) -> Path:
    folder = config / "tasks" / tasklists.sanitize(list_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").write_text("")
    (folder / ".highwatermark").write_text(str(len(tasks)))
    for item in tasks:
        (folder / f"{item['id']}.json").write_text(json.dumps(item, indent=2))  # as the client writes them
    return folder
