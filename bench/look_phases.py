"""What one look of the tray costs under churn, by phase, with and without the change watcher's log.

The tray's controller with the platform's real watcher and a view that only records, over a registry of 50
entries in 10 projects (as `events.py` builds it), while sessions start, prompt and end every `--every` seconds.
Each phase is timed with the poll thread's own CPU clock (`time.thread_time`): the snapshot, the projects'
files, the view (the menu model of a view that builds it at each change), and the whole look. The floor is the
same controller in the same run with every look reading everything (the change log ignored), so the ratio
says what naming the changed files saves; it is the reading side of issue 13's churn figure, which
`events.py` measures on the real tray as process CPU.

Run: `python bench/look_phases.py` (about 2 minutes; `--changes 10 --every 1` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(os.path.abspath(__file__))]

from events import Processes, TimedView, churn_change, quiet_registry  # noqa: E402

PHASES = ("look", "snapshot", "files", "view")


def timed(owner: Any, name: str, into: Dict[str, float], label: str) -> None:
    """Replace `owner.name` by a wrapper adding its thread CPU time to `into[label]` (on this owner only)."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            into[label] += time.thread_time() - started

    setattr(owner, name, wrapper)


def measure(workdir: str, changes: int, every: float, trust_log: bool) -> Dict[str, float]:
    """ms of poll-thread CPU per look for each phase, over `changes` churn steps."""
    from tray.app import controller as controller_module
    from tray.app.config import ConfigStore
    from tray.core import projectfiles
    from tray.core.registry import Registry

    processes = Processes()
    spent = {phase: 0.0 for phase in PHASES}
    try:
        registry_dir = os.path.join(workdir, "registry")
        quiet_registry(registry_dir, os.path.join(workdir, "projects"), processes, projects=10)
        activity = os.path.join(registry_dir, ".activity")
        os.makedirs(activity, exist_ok=True)
        store = ConfigStore(os.path.join(workdir, "config"))
        view = TimedView()
        controller = controller_module.TrayController(Registry(registry_dir), view, store)
        if not trust_log:
            take = controller._take_changes

            def everything() -> None:
                if take() is not None:  # taken (and cleared) as the tray does, then ignored: every look reads all
                    controller.full_looks += 1
                return None

            controller._take_changes = everything  # type: ignore[method-assign]
        controller.start()
        if not view.wait(lambda: bool(view.shown_at), timeout=60):
            raise RuntimeError("the controller showed nothing")
        time.sleep(3)  # past the first looks (folders watched, one more look each)
        looks0 = controller.looks
        timed(controller, "poll_once", spent, "look")
        timed(controller, "refresh_view", spent, "view")
        real_build, real_update = controller_module.build_snapshot, projectfiles.update
        timed(controller_module, "build_snapshot", spent, "snapshot")
        timed(projectfiles, "update", spent, "files")
        churn_root = os.path.join(workdir, "projects", "project-000")
        churned: List[Any] = []
        for step in range(changes):
            churn_change(step, f"churn-{step}", churned, processes, registry_dir, churn_root)
            time.sleep(every)
        controller.stop()
        controller_module.build_snapshot, projectfiles.update = real_build, real_update
        looks = max(1, controller.looks - looks0)
        result = {phase: round(1000 * spent[phase] / looks, 3) for phase in PHASES}
        result["reading"] = round(result["look"] - result["view"], 3)
        result["looks"] = looks
        result["full_looks"] = controller.full_looks
        return result
    finally:
        processes.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--every", type=float, default=3.0)
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="orchestray-bench-looks-")
    try:
        floor = measure(os.path.join(workdir, "floor"), args.changes, args.every, trust_log=False)
        named = measure(os.path.join(workdir, "named"), args.changes, args.every, trust_log=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"**One look under churn** (`bench/look_phases.py`; 50 entries, a change every {args.every:g} s, "
          f"{args.changes} changes; poll-thread CPU ms per look)\n")
    print("| phase | every look reads everything | only what the watcher named | × floor |")
    print("| --- | ---: | ---: | ---: |")
    for phase in ("reading", "snapshot", "files", "view", "look"):
        ratio = named[phase] / floor[phase] if floor[phase] else 0.0
        print(f"| {phase} | {floor[phase]} | {named[phase]} | {ratio:.2f} |")
    print(f"\nlooks: {floor['looks']} / {named['looks']}; of them reading everything: "
          f"{floor['full_looks']} / {named['full_looks']} (counted from the start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
