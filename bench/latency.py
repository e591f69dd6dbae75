"""One-shot latencies that used to be wall-clock limits inside tests, measured here against a floor instead.

- The frozen app's start (`dist/orchestray/orchestray --version`, or `$ORCHESTRAY_FROZEN`) against a bare
  `python -c pass` and `python -m tray --version` from the source tree: what a user waits for at every CLI
  call and every hook of a frozen install.
- A notification with no D-Bus at all (every Linux backend of the chain fails): a fresh interpreter that tries
  the whole chain against a dead bus address, against the same interpreter with an empty chain (start-up and
  imports only). The tray must give up quickly and keep polling; the ratio says what giving up costs.

Run through `bench/bench.py --only latency`; a timed assert in a test would fail on a loaded CI machine and
pass on a fast one without telling anyone anything.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable

NOTIFY_SCRIPT = """
import sys
from tray.platform import notify
chain = notify.build_chain("linux", icon=None) if sys.argv[1] == "chain" else []
sys.exit(0 if notify.ChainNotifier(chain).notify("title", "body") is False else 3)
"""


def frozen_binary() -> Optional[str]:
    configured = os.environ.get("ORCHESTRAY_FROZEN", "")
    path = configured or os.path.join(REPO, "dist", "orchestray", "orchestray")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def _runner(argv: List[str], env: Dict[str, str], expect: int = 0) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        if done.returncode != expect:
            raise RuntimeError(f"{argv[:3]} exited {done.returncode}: {done.stderr[-300:]!r}")

    return run


def _rows(times: Dict[str, List[float]], floor: str) -> Dict[str, Dict[str, float]]:
    base = statistics.median(times[floor])
    return {
        name: {"median_ms": statistics.median(samples) * 1000, "ratio": statistics.median(samples) / base}
        for name, samples in times.items()
    }


def bench_latency(rounds: int, interleaved: Callable[..., Dict[str, List[float]]]) -> Dict[str, Any]:
    """Both measurements; `interleaved` is bench.py's shuffled-rounds runner."""
    results: Dict[str, Any] = {"rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="orchestray-bench-latency-") as workdir:
        env = dict(os.environ, PYTHONPATH=REPO, ORCHESTRAY_LOG_DIR=os.path.join(workdir, "log"),
                   ORCHESTRAY_CONFIG_DIR=os.path.join(workdir, "config"),
                   ORCHESTRAY_STATE_DIR=os.path.join(workdir, "state"))
        frozen = frozen_binary()
        if frozen:
            variants = {
                "bare python": _runner([PY, "-c", "pass"], env),
                "python -m tray --version": _runner([PY, "-m", "tray", "--version"], env),
                "frozen --version": _runner([frozen, "--version"], env),
            }
            results["frozen"] = {"binary": frozen, "rows": _rows(interleaved(variants, rounds), "bare python")}
        else:
            results["frozen"] = {"status": "not measured: no frozen build (bash packaging/build-linux.sh)"}
        dead = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        dead["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={workdir}/no-such-dir/bus"
        variants = {
            "empty chain": _runner([PY, "-c", NOTIFY_SCRIPT, "empty"], dead),
            "whole chain, dead bus": _runner([PY, "-c", NOTIFY_SCRIPT, "chain"], dead),
        }
        results["dead_bus"] = {"rows": _rows(interleaved(variants, max(5, rounds // 2)), "empty chain")}
    return results


def markdown(latency: Dict[str, Any]) -> List[str]:
    out: List[str] = []
    frozen = latency["frozen"]
    if "rows" in frozen:
        out += [
            f"**Frozen app start** (`{os.path.relpath(frozen['binary'], REPO)} --version`, a whole process; "
            f"medians of {latency['rounds']} interleaved runs)",
            "",
            "| command | median ms | × bare python |",
            "| --- | ---: | ---: |",
        ]
        out += [f"| `{name}` | {row['median_ms']:.1f} | {row['ratio']:.2f} |" for name, row in frozen["rows"].items()]
        out.append("")
    else:
        out += [f"**Frozen app start**: {frozen['status']}", ""]
    out += [
        "**Notifications with no D-Bus** (a fresh interpreter sends one notification through the Linux chain to "
        "a dead bus address; the floor is the same interpreter with an empty chain)",
        "",
        "| run | median ms | × floor |",
        "| --- | ---: | ---: |",
    ]
    out += [f"| {name} | {row['median_ms']:.1f} | {row['ratio']:.2f} |"
            for name, row in latency["dead_bus"]["rows"].items()]
    out.append("")
    return out
