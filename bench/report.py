"""How a benchmark here hands over its results: the Markdown table on stdout (what bench/RESULTS.md and the README
quote) and, when asked (``--json FILE``), the same numbers with that table under ``"markdown"`` in a JSON file."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional


def publish(results: Dict[str, Any], table: str, json_path: Optional[str]) -> None:
    """Print ``table``; with ``json_path``, write ``results`` and the table there (its folder made if missing)."""
    print(table)
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(dict(results, markdown=table), handle, indent=2)
            handle.write("\n")
