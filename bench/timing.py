"""The one way every benchmark here times its variants: round after round, every variant once per round in a
shuffled order (so drift, caches and the machine's other load fall on all of them alike), first rounds thrown
away as warm-up; seconds per run, by variant. Medians of these are what the tables report."""

from __future__ import annotations

import gc
import random
import time
from typing import Any, Callable, Dict, List, Optional


def interleaved(
    variants: Dict[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 2,
    seed: int = 6,
    collect: bool = False,
    after: Optional[Callable[[], Any]] = None,
) -> Dict[str, List[float]]:
    """Run every variant once per round, shuffled with `seed`; `collect` runs the garbage collector before each
    timed call, `after` runs after each one (a clean-up that must stay out of the timing)."""
    rng = random.Random(seed)
    times: Dict[str, List[float]] = {name: [] for name in variants}
    names = list(variants)
    for index in range(warmup + rounds):
        rng.shuffle(names)
        for name in names:
            if collect:
                gc.collect()
            start = time.perf_counter()
            variants[name]()
            elapsed = time.perf_counter() - start
            if after is not None:
                after()
            if index >= warmup:
                times[name].append(elapsed)
    return times
