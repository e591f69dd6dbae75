#!/usr/bin/env python3
"""Our own small mutation check: hand-made bugs in the code that keeps sessions safe, and whether a test sees them.

    python scripts/mutants.py [--list] [--only NAME ...] [--timeout SECONDS] [--keep]

Each mutant is one small source edit of the kind a tired person makes (flip the orchestrator rule, raise the
PID-reuse tolerance, drop the lock, let `clean` treat a live vacating session as stale, an off-by-one in the
successor order...). For each, the repository's tracked files are copied into a temporary folder, the edit is
applied there (the working tree is never touched), and the fast tests that should notice are run against the
copy. A mutant is *killed* when those tests fail (or hang past the timeout), *survived* when they pass. First
the same tests run on the unmutated copy: they must pass, or the score would mean nothing.

Why hand-made and not `mutmut`: mutmut on `tray/core` generates several hundred mutants, and the tests that
would kill them use real processes (a few seconds each); on the two shared cores here that is hours, not the
ten minutes this takes. The list below is chosen from the bugs that would hurt users (docs/decisions.md).
Every mutant listed must be killed; the score is in README.md next to the benchmarks.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository
    old: str  # must occur exactly once in the file
    new: str
    tests: Tuple[str, ...]  # test file names (found anywhere under tests/), optionally "file::test" or "file -k expr"
    why: str


MUTANTS: Tuple[Mutant, ...] = (
    Mutant(
        "orchestrator rule flipped",
        "tray/core/actions.py",
        "wanted = ROLE_WORKER if others_orchestrating else ROLE_ORCHESTRATOR",
        "wanted = ROLE_ORCHESTRATOR if others_orchestrating else ROLE_WORKER",
        ("test_cli_actions.py",),
        "a new session takes over a project that has a live orchestrator",
    ),
    Mutant(
        "register ignores the live orchestrator",
        "tray/core/actions.py",
        "if wanted == ROLE_ORCHESTRATOR and others_orchestrating:",
        "if False:",
        ("test_cli_actions.py", "test_entry_registry.py"),
        "an explicit --role orchestrator (or an inherited one) makes a second orchestrator",
    ),
    Mutant(
        "PID-reuse tolerance raised to 30 minutes",
        "tray/core/liveness.py",
        "REUSE_TOLERANCE_SECONDS = 5.0",
        "REUSE_TOLERANCE_SECONDS = 1800.0",
        ("test_liveness.py",),
        "a dead session whose PID another program got counts as alive for half an hour",
    ),
    Mutant(
        "PID-reuse tolerance dropped",
        "tray/core/liveness.py",
        "return created is not None and created <= started_ts + self.tolerance",
        "return created is not None and created <= started_ts",
        ("test_liveness.py",),
        "a live session whose startedAt was rounded down counts as dead (and `clean` removes it)",
    ),
    Mutant(
        "a zombie counts as running",
        "tray/core/liveness.py",
        "            if process.status() == psutil.STATUS_ZOMBIE:\n                return None\n",
        "",
        ("test_liveness.py",),
        "a killed but unreaped session stays an orchestrator forever",
    ),
    Mutant(
        "a process we may not inspect counts as dead",
        "tray/core/liveness.py",
        'return float("-inf")',
        "return None",
        ("test_liveness.py",),
        "another user's (or a protected) live session is cleaned away",
    ),
    Mutant(
        "the gone-PID fast path says every PID is gone",
        "tray/core/liveness.py",
        "        return False\n    return False\n",
        "        return False\n    return True\n",
        ("test_liveness.py",),
        "every session looks dead to the tray and to `clean`",
    ),
    Mutant(
        "the registry lock does nothing",
        "tray/core/lock.py",
        "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)",
        "pass",
        ("test_races.py::test_simultaneous_registrations_elect_exactly_one_orchestrator",
         "test_races.py::test_promote_storm_without_force_leaves_one_orchestrator"),
        "two sessions starting at once both become orchestrator",
    ),
    Mutant(
        "clean takes a live vacating session for stale",
        "tray/core/actions.py",
        "dead = tuple(s for s in snapshot.sessions if not s.alive)",
        "dead = tuple(s for s in snapshot.sessions if not s.alive or s.role == ROLE_VACATING)",
        ("test_cli_actions.py -k clean",),
        "`clean` lists (and, with the last check below gone, deletes) a session that is handing over",
    ),
    Mutant(
        "clean removes without its liveness checks",
        "tray/core/actions.py",
        "            if LivenessProbe().alive(session.entry.pid, ",
        "            if False and LivenessProbe().alive(session.entry.pid, ",
        ("test_cli_actions.py -k clean",),
        "run only together with the mutant above (COMBINED); alone it changes nothing a user can see, since the "
        "snapshot taken inside the lock already says who is dead",
    ),
    Mutant(
        "clean quarantines young unreadable files",
        "tray/core/actions.py",
        "elif record.mtime and now - record.mtime >= grace:",
        "elif True:",
        ("test_hostile.py -k every_kind", "test_crash_safety.py"),
        "a file a writer is still writing is moved away",
    ),
    Mutant(
        "successor order off by one",
        "tray/core/snapshot.py",
        "suggested=workers[0] if workers else None,",
        "suggested=workers[-1] if workers else None,",
        ("test_cli_actions.py", "test_menu_events.py"),
        "the youngest worker, not the longest-running one, is suggested",
    ),
    Mutant(
        "a /clear pair counts as two orchestrators",
        "tray/core/snapshot.py",
        "project_state(len({s.entry.pid for s in orchestrators}), len(vacating), len(workers))",
        "project_state(len(orchestrators), len(vacating), len(workers))",
        ("test_menu_events.py", "test_cli_actions.py -k clear"),
        "every /clear of an orchestrator raises a false 'two orchestrators' alarm",
    ),
    Mutant(
        "promote ignores the live orchestrator",
        "tray/core/actions.py",
        "if rivals and not force:",
        "if rivals and force:",
        ("test_cli_actions.py -k promote",),
        "a click on a worker silently demotes a working orchestrator",
    ),
    Mutant(
        "promote keeps the dead orchestrator",
        "tray/core/actions.py",
        "dead = [s for s in view.stale if s.role == ROLE_ORCHESTRATOR]",
        "dead = []",
        ("test_cli_actions.py",),
        "the crashed orchestrator's entry stays after a successor took over",
    ),
    Mutant(
        "a worker may vacate",
        "tray/core/actions.py",
        "if session.role != ROLE_ORCHESTRATOR:\n            raise ActionRefused",
        "if False:\n            raise ActionRefused",
        ("test_cli_actions.py -k vacate",),
        "a worker's vacate marks the project as handing over",
    ),
    Mutant(
        "writes are not atomic",
        "tray/core/fsutil.py",
        "    temp = os.path.join(directory, temp_name(name))\n"
        "    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY\n",
        "    temp = path  # written in place\n"
        "    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _BINARY\n",
        ("test_crash_safety.py::test_sigkilled_writer_never_leaves_a_torn_entry",),
        "a crash mid-write leaves a torn entry",
    ),
    Mutant(
        "an orchestrator's death is said at every poll",
        "tray/core/events.py",
        "return after.state == state and (before is None or before.state != state)",
        "return after.state == state",
        ("test_menu_events.py",),
        "the same 'no orchestrator' notification every two seconds",
    ),
    Mutant(
        "the notification rate limit is gone",
        "tray/app/controller.py",
        "if len(self.sent) >= self.limit:",
        "if False:",
        ("test_menu_events.py",),
        "a crash of many sessions floods the desktop with notifications",
    ),
    Mutant(
        "held-back notifications are summed up only with the next event",
        "tray/app/controller.py",
        "        if not self.config.notifications or self.view is None:\n            return\n",
        "        if not found or not self.config.notifications or self.view is None:\n            return\n",
        ("test_menu_events.py",),
        "the summary of a burst never comes when nothing else happens",
    ),
    Mutant(
        "a huge poll interval is accepted",
        "tray/app/config.py",
        "not 0 < value <= high",
        "not 0 < value",
        ("test_config.py",),
        "poll_interval 1e308 in config.json kills the tray's poll loop",
    ),
    Mutant(
        "a negative setting is accepted",
        "tray/app/config.py",
        "not 0 < value <= high",
        "not value <= high",
        ("test_config.py",),
        "poll_interval -1 (or a negative notification delay) in config.json is used as it is",
    ),
    Mutant(
        "a corrupt config.json stops the tray",
        "tray/app/config.py",
        "except (OSError, ValueError, RecursionError) as error:",
        "except OSError as error:",
        ("test_config.py",),
        "a truncated or non-UTF-8 config.json raises at tray start instead of falling back to the defaults",
    ),
    Mutant(
        "a config.json that is not an object is read as one",
        "tray/app/config.py",
        "if not isinstance(raw, dict):",
        "if raw is None:",
        ("test_config.py",),
        "a config.json holding a list or a string is not said to be ignored, or crashes the tray's start",
    ),
)

#: Mutants applied together, as one: the two halves of "clean deletes a live vacating session".
COMBINED = {
    "clean deletes a live vacating session": ("clean takes a live vacating session for stale",
                                              "clean removes without its liveness checks"),
}


def tracked_files() -> List[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def copy_repo(target: str) -> None:
    for name in tracked_files():
        source = os.path.join(REPO, name)
        if not os.path.isfile(source):  # deleted in the work tree but still tracked
            continue
        os.makedirs(os.path.dirname(os.path.join(target, name)) or target, exist_ok=True)
        shutil.copy2(source, os.path.join(target, name))


def apply(root: str, mutant: Mutant) -> None:
    path = os.path.join(root, mutant.path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name!r}: expected its text once in {mutant.path}, found {count}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace(mutant.old, mutant.new))


def test_args(root: str, spec: str) -> List[str]:
    """pytest arguments for one spec ("file", "file::test" or "file -k expr"); the file is found wherever it
    lives under tests/."""
    words = spec.split(maxsplit=2)
    name, _, node = words[0].partition("::")
    found = sorted(glob.glob(os.path.join(root, "tests", "**", name), recursive=True))
    if len(found) != 1:
        raise SystemExit(f"test file {name}: found {found or 'nothing'} under tests/")
    args = [found[0] + (f"::{node}" if node else "")]
    if len(words) == 3 and words[1] == "-k":
        args += ["-k", words[2]]
    return args


def run_tests(root: str, specs: Sequence[str], timeout: float) -> Tuple[str, float, str]:
    """('passed' | 'failed' | 'error' | 'timeout', seconds, the failing test or the output's end); stops at the
    first spec that fails. 'failed' is pytest's exit code 1 (a test failed); anything else (a collection or
    import error, say) is 'error', which does not count as killing a mutant."""
    env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    output = ""
    for spec in specs:
        argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not desktop",
                *test_args(root, spec)]
        process = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        left = max(1.0, timeout - (time.monotonic() - started))
        try:
            output, _ = process.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)  # the test run and every process it started: its own session
            output, _ = process.communicate()
            return "timeout", time.monotonic() - started, f"{spec}: {output[-600:]}"
        if process.returncode != 0:
            failed = [line for line in output.splitlines() if line.startswith("FAILED ")]
            outcome = "failed" if process.returncode == 1 and failed else "error"
            detail = failed[0][len("FAILED "):] if failed else f"{spec}: {output[-600:]}"
            return outcome, time.monotonic() - started, detail
    return "passed", time.monotonic() - started, output[-600:]


def check(mutants: Sequence[Tuple[str, Tuple[Mutant, ...]]], timeout: float, keep: bool) -> int:
    rows = []
    for name, parts in mutants:
        specs = tuple(dict.fromkeys(spec for part in parts for spec in part.tests))
        root = tempfile.mkdtemp(prefix="orchestray-mutant-")
        try:
            copy_repo(root)
            for part in parts:
                apply(root, part)
            outcome, seconds, tail = run_tests(root, specs, timeout)
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
        verdict = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED", "error": "ERROR"}[outcome]
        rows.append((name, verdict, seconds))
        print(f"{verdict:17} {seconds:6.1f} s  {name}", flush=True)
        if outcome == "failed":
            print(f"{'':27}by {tail[:160]}", flush=True)
        elif tail.strip():
            print("    " + "\n    ".join(tail.strip().splitlines()[-8:]), flush=True)
    killed = sum(1 for _, verdict, _ in rows if verdict.startswith("killed"))
    print(f"\nmutation score: {killed}/{len(rows)} killed")
    return 0 if killed == len(rows) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only mutants whose name has this")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's test run")
    parser.add_argument("--keep", action="store_true", help="keep the mutated copies (their paths are printed)")
    args = parser.parse_args(argv)
    paired = {"clean removes without its liveness checks"}  # only ever applied within COMBINED
    by_name = {m.name: m for m in MUTANTS}
    todo: List[Tuple[str, Tuple[Mutant, ...]]] = [(m.name, (m,)) for m in MUTANTS if m.name not in paired]
    todo += [(name, tuple(by_name[p] for p in parts)) for name, parts in COMBINED.items()]
    if args.only:
        todo = [(name, parts) for name, parts in todo if any(word in name for word in args.only)]
    if args.list:
        for name, parts in todo:
            print(f"{name}: {'; '.join(p.why for p in parts)}  [{', '.join(p.path for p in parts)}]")
        return 0
    print(f"{len(todo)} mutants; first the same tests on the unmutated copy", flush=True)
    all_specs = tuple(dict.fromkeys(spec for _, parts in todo for part in parts for spec in part.tests))
    root = tempfile.mkdtemp(prefix="orchestray-mutant-baseline-")
    try:
        copy_repo(root)
        for _, parts in todo:  # every mutant's text is there exactly once
            for part in parts:
                with open(os.path.join(root, part.path), encoding="utf-8") as handle:
                    if handle.read().count(part.old) != 1:
                        raise SystemExit(f"mutant {part.name!r}: its text is not (once) in {part.path}")
        outcome, seconds, tail = run_tests(root, all_specs, args.timeout * 3)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if outcome != "passed":
        print(f"the unmutated tests do not pass ({outcome}, {seconds:.0f} s):\n{tail}")
        return 2
    print(f"baseline passed in {seconds:.0f} s\n", flush=True)
    return check(todo, args.timeout, args.keep)


if __name__ == "__main__":
    sys.exit(main())
