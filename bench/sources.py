"""Reading another machine: one `status --json` call per poll against one long-lived `watch --json`, over a real
sshd on 127.0.0.1 (tests/support/sshd.py) serving a registry of 10 live sessions in 4 projects.

Measured in the same run, with the floor first:
- floor: `ssh devbox true` (a connection and nothing else), wall time and this machine's CPU;
- poll: `ssh devbox orchestray status --json`, wall time, CPU here (the ssh client) and over there (sshd and the
  Orchestray it starts: the listener's reaped children);
- stream: `ssh devbox orchestray watch --json --heartbeat 5` left running while nothing changes, CPU here (its
  ssh) and over there (its sshd and the watch process), and the delay from a registry write over there to the
  line that reports it.
The tray's default is a 5 s interval (`source_poll_interval`), so the table gives CPU seconds per minute at 5 s:
12 calls for the poll, 60 s of idle stream (heartbeats included). Ratios are against the floor.

    python bench/sources.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.dirname(os.path.abspath(__file__)), os.path.join(REPO, "tests", "support")]

from report import publish  # noqa: E402 - needs sys.path above
from sshd import start_sshd  # noqa: E402

from tray.core.actions import register  # noqa: E402
from tray.core.registry import Registry  # noqa: E402

INTERVAL = 5.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its living descendants, and the descendants it has reaped."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])
        for child in root.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


def timed_calls(argv: List[str], count: int, listener: int) -> Dict[str, float]:
    walls: List[float] = []
    here0, there0 = children_cpu(), tree_cpu(listener)
    for _ in range(count):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, timeout=60)
        walls.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stderr
    return {"wall_ms": statistics.median(walls) * 1000, "here_cpu_ms": (children_cpu() - here0) / count * 1000,
            "there_cpu_ms": (tree_cpu(listener) - there0) / count * 1000}


def read_line(stream: Any, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "no line in time"
        chunk = os.read(stream.fileno(), 1)
        assert chunk, "the stream ended"
        line += chunk
    return line


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    calls, idle, changes = (5, 10.0, 3) if args.quick else (15, 60.0, 10)
    import psutil

    with tempfile.TemporaryDirectory(prefix="orchestray-bench-sources-") as tmp:
        sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(10 + changes)]
        try:
            with start_sshd(Path(tmp) / "ssh") as server:
                far = Registry(str(server.remote.registry))
                for index, sleeper in enumerate(sleepers[:10]):
                    folder = Path(tmp) / f"project-{index % 4}"
                    folder.mkdir(exist_ok=True)
                    register(far, f"s-{index}", sleeper.pid, str(folder))
                ssh = server.ssh_argv + ["-o", "BatchMode=yes", server.alias]
                listener = server.pid
                assert listener is not None
                floor = timed_calls([*ssh, "true"], calls, listener)
                poll = timed_calls([*ssh, "orchestray", "status", "--json"], calls, listener)
                stream = subprocess.Popen([*ssh, "orchestray", "watch", "--json", f"--heartbeat={INTERVAL:g}"],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                try:
                    assert stream.stdout is not None
                    read_line(stream.stdout)
                    there = [p for p in psutil.Process(listener).children(recursive=True)]
                    here0 = sum(psutil.Process(stream.pid).cpu_times()[:2])
                    there0 = sum(sum(p.cpu_times()[:2]) for p in there)
                    time.sleep(idle)  # nothing changes: heartbeats only (this is the measurement window)
                    here_idle = sum(psutil.Process(stream.pid).cpu_times()[:2]) - here0
                    there_idle = sum(sum(p.cpu_times()[:2]) for p in there) - there0
                    rss = {"here_ssh_mb": psutil.Process(stream.pid).memory_info().rss / 2**20,
                           "there_mb": sum(p.memory_info().rss for p in there) / 2**20}
                    delays = []
                    for index, sleeper in enumerate(sleepers[10:]):
                        started = time.perf_counter()
                        register(far, f"new-{index}", sleeper.pid, str(Path(tmp) / "project-0"))
                        while b"new-%d" % index not in read_line(stream.stdout):
                            pass
                        delays.append(time.perf_counter() - started)
                finally:
                    stream.kill()
                    stream.wait(10)
        finally:
            for sleeper in sleepers:
                sleeper.kill()
                sleeper.wait(10)
    per_minute = 60.0 / INTERVAL
    result = {
        "floor_ssh_true": floor,
        "poll_status_json": poll,
        "poll_per_minute_cpu_ms": {"here": poll["here_cpu_ms"] * per_minute,
                                   "there": poll["there_cpu_ms"] * per_minute},
        "stream_idle_per_minute_cpu_ms": {"here": here_idle * 1000 * 60 / idle,
                                          "there": there_idle * 1000 * 60 / idle},
        "stream_change_to_line_ms": {"median": statistics.median(delays) * 1000, "max": max(delays) * 1000},
        "poll_change_to_shown_ms_expected": INTERVAL * 1000 / 2 + poll["wall_ms"],
        "stream_rss": rss,
        "ratios": {"poll_wall_over_floor": poll["wall_ms"] / floor["wall_ms"]},
    }
    here_min, there_min = result["poll_per_minute_cpu_ms"], result["stream_idle_per_minute_cpu_ms"]
    table = "\n".join([
        "| reading another machine (real sshd, 10 sessions) | wall | CPU here | CPU there |",
        "|---|---|---|---|",
        f"| floor: `ssh devbox true` | {floor['wall_ms']:.0f} ms | {floor['here_cpu_ms']:.0f} ms "
        f"| {floor['there_cpu_ms']:.0f} ms |",
        f"| one `status --json` call ({result['ratios']['poll_wall_over_floor']:.2f}x the floor) "
        f"| {poll['wall_ms']:.0f} ms | {poll['here_cpu_ms']:.0f} ms | {poll['there_cpu_ms']:.0f} ms |",
        f"| a minute of polling every {INTERVAL:g} s | | {here_min['here']:.0f} ms | {here_min['there']:.0f} ms |",
        f"| a minute of an idle `watch --json` (heartbeats every {INTERVAL:g} s; RSS {rss['here_ssh_mb']:.0f} MB "
        f"here, {rss['there_mb']:.0f} MB there) | | {there_min['here']:.1f} ms | {there_min['there']:.1f} ms |",
        f"| a change over there until the tray has it: stream | median "
        f"{result['stream_change_to_line_ms']['median']:.0f} ms, max {result['stream_change_to_line_ms']['max']:.0f}"
        " ms | | |",
        f"| the same with polling (half an interval plus a call, on average) "
        f"| {result['poll_change_to_shown_ms_expected']:.0f} ms | | |",
    ])
    publish(result, table, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
