"""The frozen hook's start-up against a minimal PyInstaller program, side by side in one run (issue 13).

Claude Code runs the prompt hook on every prompt, so in a frozen install its cost is the frozen program's start.
This bench builds (with the same Python and PyInstaller) a *minimal* onedir program, ``pass`` and nothing else,
then runs, interleaved and in a shuffled order each round:

* ``minimal``:           the minimal onedir program (the floor);
* ``orchestray-hook``:   ``<dist>/orchestray-hook hook prompt``, the small hook program the hooks run;
* ``orchestray (main)``: ``<dist>/orchestray hook prompt``, the full program (tray, CLI and hooks), for
  comparison: what the hooks cost before the hook program existed.

Both hook runs are the common case: a registered session, stdin JSON shaped like Claude Code's, nothing to say.
Each run must exit 0 and print nothing, and the session must keep its entry. The target: ``orchestray-hook``
median <= 1.3 x ``minimal`` median.

    python bench/frozen_hook.py [--dist dist/orchestray] [--rounds 40] [--json FILE]

``--dist`` is the Linux onedir (``bash packaging/build-linux.sh`` makes it; on Windows and macOS the folder
holding ``orchestray-hook``). Exit status 0 when the target is met, 1 when missed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

from timing import interleaved  # bench/timing.py: this script's folder is on sys.path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.3
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""


def build_minimal(workdir: str) -> str:
    """A onedir PyInstaller program whose script is ``pass``, built like ours (no UPX, stripped on Linux)."""
    os.makedirs(workdir, exist_ok=True)
    script = os.path.join(workdir, "minimal.py")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write("pass\n")
    argv = [sys.executable, "-m", "PyInstaller", "--onedir", "--noconfirm", "--clean", "--log-level", "WARN",
            "--name", "minimal", "--distpath", os.path.join(workdir, "dist"),
            "--workpath", os.path.join(workdir, "build"), "--specpath", workdir, script]
    if sys.platform.startswith("linux"):
        argv.insert(-1, "--strip")
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"PyInstaller failed to build the minimal program: {done.stderr[-1500:]}")
    program = os.path.join(workdir, "dist", "minimal", "minimal" + EXE_SUFFIX)
    if not os.path.isfile(program):
        raise RuntimeError(f"PyInstaller did not build {program}")
    return program


def measure(dist: str, rounds: int, workdir: str) -> Dict[str, Any]:
    hook = os.path.join(dist, "orchestray-hook" + EXE_SUFFIX)
    main = os.path.join(dist, "orchestray" + EXE_SUFFIX)
    for program in (hook, main):
        if not os.path.isfile(program):
            raise FileNotFoundError(f"{program} not found: build it first (bash packaging/build-linux.sh)")
    minimal = build_minimal(os.path.join(workdir, "minimal"))

    registry = os.path.join(workdir, "registry")
    project = os.path.join(workdir, "project")
    for folder in (registry, os.path.join(project, ".git"), os.path.join(workdir, "log")):
        os.makedirs(folder, exist_ok=True)
    session = str(uuid.uuid4())
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], stdin=subprocess.DEVNULL)
    try:
        sys.path.insert(0, REPO)
        from tray.core.actions import register
        from tray.core.registry import Registry

        register(Registry(registry), session, holder.pid, project)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CLAUDE"))}
        env.update(ORCHESTRAY_REGISTRY_DIR=registry, ORCHESTRAY_LOG_DIR=os.path.join(workdir, "log"),
                   CLAUDE_CODE_SESSION_ID=session, CLAUDE_PROJECT_DIR=project, CLAUDECODE="1")
        payload = json.dumps({"session_id": session, "cwd": project, "hook_event_name": "UserPromptSubmit",
                              "transcript_path": os.path.join(workdir, "t.jsonl"), "permission_mode": "default",
                              "prompt": "Run the tests and fix what fails."}).encode()
        problems: List[str] = []

        def run(argv: List[str], data: bytes = b"") -> Callable[[], None]:
            def once() -> None:
                done = subprocess.run(argv, input=data, env=env, cwd=project, capture_output=True, check=False)
                if done.returncode != 0 or done.stdout or done.stderr:
                    problems.append(f"{os.path.basename(argv[0])}: exit {done.returncode}, "
                                    f"stdout {done.stdout[:80]!r}, stderr {done.stderr[:200]!r}")

            return once

        times = interleaved({
            "minimal": run([minimal]),
            "orchestray-hook": run([hook, "hook", "prompt"], payload),
            "orchestray (main)": run([main, "hook", "prompt"], payload),
        }, rounds, warmup=3, seed=13)
        if not os.path.isfile(os.path.join(registry, session + ".json")):
            problems.append("the prompt hook's session lost its entry")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    floor = statistics.median(times["minimal"])
    rows = {
        name: {
            "median_ms": round(statistics.median(samples) * 1000, 2),
            "p10_ms": round(sorted(samples)[len(samples) // 10] * 1000, 2),
            "p90_ms": round(sorted(samples)[min(len(samples) - 1, len(samples) * 9 // 10)] * 1000, 2),
            "ratio": round(statistics.median(samples) / floor, 3),
        }
        for name, samples in times.items()
    }
    ratio = rows["orchestray-hook"]["ratio"]
    return {"rounds": rounds, "target_ratio": TARGET, "ratio": ratio, "met": ratio <= TARGET and not problems,
            "rows": rows, "problems": sorted(set(problems))}


def markdown(result: Dict[str, Any]) -> str:
    lines = [f"**Frozen hook start** (median of {result['rounds']} interleaved runs each)", "",
             "| program | median ms | p10 ms | p90 ms | × minimal |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in result["rows"].items():
        lines.append(f"| {name} | {row['median_ms']:.1f} | {row['p10_ms']:.1f} | {row['p90_ms']:.1f} | "
                     f"{row['ratio']:.2f} |")
    verdict = "met" if result["met"] else "MISSED"
    lines += ["", f"Target: `orchestray-hook hook prompt` ≤ {result['target_ratio']}× a minimal PyInstaller onedir "
              f"program: **{verdict}** (ratio {result['ratio']:.2f})."]
    if result["problems"]:
        lines.append("Problems: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", default=os.path.join(REPO, "dist", "orchestray"), help="the onedir folder")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="orchestray-frozen-hook-bench-")
    try:
        result = measure(os.path.abspath(args.dist), args.rounds, workdir)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"frozen_hook: cannot run: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
