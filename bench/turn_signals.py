"""What it costs to notice the turn changes that fire no hook (an approved permission, Esc), two ways.

    python bench/turn_signals.py [--rounds N] [--json PATH]

1. A hook on every tool call (`PostToolUse`): Claude Code starts `/bin/sh -c <command>` per tool call and
   waits for it. Measured: the installed hook command (`<python> -c <bootstrap> <repo> hook stop`, which does
   what such a handler would: check the entry, rewrite the activity file) with a PostToolUse-shaped payload
   on stdin, through `/bin/sh -c`, against the floor of any hook, `/bin/sh -c true`. Paid per tool call, by
   every session, while the user waits.
2. Reading it on the tray's side (`tray/core/turns.py`): per poll, for each session the hooks left "working"
   or "needs you", one small read of Claude Code's session file, or the last 64 KiB of a 2 MB transcript when
   there is none; and a whole `build_snapshot` of 20 sessions, all working (refined) against all waiting (not
   refined). Paid by the tray, in the background, once per poll (2 s).

Interleaved rounds in a shuffled order; medians. Numbers only mean something against the floor measured in
the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from report import publish  # noqa: E402  (bench/report.py)
from timing import interleaved  # noqa: E402  (bench/timing.py: this script's folder is on sys.path)

from tray.core import activity as act  # noqa: E402
from tray.core import turns  # noqa: E402
from tray.core.actions import register  # noqa: E402
from tray.core.registry import Registry  # noqa: E402
from tray.core.snapshot import build_snapshot  # noqa: E402
from tray.platform.launch import HOOK_BOOTSTRAP  # noqa: E402

PY = sys.executable


def claude_files(config: str, pid: int, session: str, transcript_bytes: int, status: bool) -> str:
    """A Claude Code config folder with a transcript (and a session file): returns the transcript path."""
    transcript = os.path.join(config, "projects", "-home-me-project", f"{session}.jsonl")
    os.makedirs(os.path.dirname(transcript), exist_ok=True)
    line = json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "x" * 400}]},
                       "timestamp": "2026-12-01T12:00:00.000Z"}) + "\n"
    with open(transcript, "w", encoding="utf-8") as handle:
        handle.write(line * (transcript_bytes // len(line) + 1))
    if status:
        os.makedirs(os.path.join(config, "sessions"), exist_ok=True)
        now = int(time.time() * 1000)
        with open(os.path.join(config, "sessions", f"{pid}.json"), "w", encoding="utf-8") as handle:
            json.dump({"pid": pid, "sessionId": session, "status": "busy", "statusUpdatedAt": now - 60_000,
                       "updatedAt": now, "cwd": "/home/me/project", "kind": "interactive"}, handle)
    return transcript


def bench_hook(rounds: int, workdir: str, sleeper_pid: int) -> Dict[str, Any]:
    registry = os.path.join(workdir, "registry")
    session = "bench-tool-session"
    register(Registry(registry), session, sleeper_pid, workdir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(ORCHESTRAY_REGISTRY_DIR=registry, ORCHESTRAY_LOG_DIR=os.path.join(workdir, "log"),
               CLAUDE_CODE_SESSION_ID=session, CLAUDECODE="1")
    payload = json.dumps({
        "session_id": session, "transcript_path": "/home/me/.claude/projects/x/s.jsonl", "cwd": workdir,
        "permission_mode": "default", "hook_event_name": "PostToolUse", "tool_name": "Bash",
        "tool_input": {"command": "pytest -q", "description": "Run the tests"},
        "tool_response": {"stdout": "x" * 2000, "stderr": "", "interrupted": False}, "tool_use_id": "toolu_1",
    }).encode()
    command = " ".join(_quote(word) for word in (PY, "-c", HOOK_BOOTSTRAP, REPO, "hook", "stop"))

    def run(cmd: str) -> None:
        done = subprocess.run(["/bin/sh", "-c", cmd], input=payload, env=env, capture_output=True, check=False)
        if done.returncode != 0 or done.stdout:
            raise RuntimeError(f"{cmd[:40]}... answered {done.returncode} {done.stdout!r}")

    times = interleaved({"sh -c true": lambda: run("cat >/dev/null; true"), "PostToolUse hook": lambda: run(command)},
                        rounds, warmup=3, seed=7)
    floor = statistics.median(times["sh -c true"])
    return {name: {"median_ms": round(statistics.median(t) * 1000, 2),
                   "ratio_to_floor": round(statistics.median(t) / floor, 2)} for name, t in times.items()}


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def bench_tray(rounds: int, workdir: str, pids: List[int]) -> Dict[str, Any]:
    config = os.path.join(workdir, "claude")
    with_status = claude_files(config, pids[0], "with-status", 2 * 1024 * 1024, status=True)
    without = claude_files(config, 999_999, "transcript-only", 2 * 1024 * 1024, status=False)
    since = time.time()
    status_activity = act.Activity(act.WORKING, since, "", "p", with_status)
    transcript_activity = act.Activity(act.WORKING, since, "", "p", without)
    per_session = interleaved({
        "session file": lambda: turns.refine(status_activity, pids[0], "with-status"),
        "transcript tail (2 MB file)": lambda: turns.refine(transcript_activity, 999_999, "transcript-only"),
    }, rounds * 10, warmup=3, seed=7)

    registries = {}
    for state in (act.WAITING, act.WORKING):
        folder = os.path.join(workdir, f"registry-{state}")
        registry = Registry(folder)
        for index, pid in enumerate(pids):
            session = f"s-{index}"
            register(registry, session, pid, os.path.join(workdir, "project"))
            transcript = claude_files(config, pid, session, 256 * 1024, status=True)
            act.write_activity(folder, session, state, prompt="p", transcript=transcript, now=since)
        registries[state] = registry
    snapshot = interleaved({
        "20 waiting (nothing read)": lambda: build_snapshot(registries[act.WAITING]),
        "20 working (20 session files read)": lambda: build_snapshot(registries[act.WORKING]),
    }, rounds, warmup=3, seed=7)
    floor = statistics.median(snapshot["20 waiting (nothing read)"])
    result: Dict[str, Any] = {
        "per_session_us": {name: round(statistics.median(t) * 1e6, 1) for name, t in per_session.items()},
        "snapshot": {name: {"median_ms": round(statistics.median(t) * 1000, 2),
                            "ratio_to_waiting": round(statistics.median(t) / floor, 2)}
                     for name, t in snapshot.items()},
    }
    return result


def markdown(results: Dict[str, Any]) -> str:
    hook = results["hook"]
    tray = results["tray"]
    rows = ["| per tool call (Claude Code waits) | median ms | × `sh -c true` |", "| --- | ---: | ---: |"]
    rows += [f"| {name} | {v['median_ms']} | {v['ratio_to_floor']} |" for name, v in hook.items()]
    rows += ["", "| per poll, per session left working / needs you (the tray) | median µs |", "| --- | ---: |"]
    rows += [f"| {name} | {v} |" for name, v in tray["per_session_us"].items()]
    rows += ["", "| one `build_snapshot`, 20 live sessions | median ms | × all waiting |", "| --- | ---: | ---: |"]
    rows += [f"| {name} | {v['median_ms']} | {v['ratio_to_waiting']} |" for name, v in tray["snapshot"].items()]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    sleepers = [subprocess.Popen([PY, "-c", "import time; time.sleep(3600)"]) for _ in range(20)]
    try:
        with tempfile.TemporaryDirectory(prefix="orchestray-turns-") as workdir:
            os.environ["ORCHESTRAY_LOG_DIR"] = os.path.join(workdir, "bench-log")
            results = {
                "load_average": list(os.getloadavg()),
                "hook": bench_hook(args.rounds, os.path.join(workdir, "hook"), sleepers[0].pid),
                "tray": bench_tray(args.rounds, os.path.join(workdir, "tray"), [p.pid for p in sleepers]),
            }
    finally:
        for process in sleepers:
            process.kill()
            process.wait(timeout=10)
    publish(results, markdown(results), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
