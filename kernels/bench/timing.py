"""Interleaved, warm, median timing of competing implementations (the machine is shared and noisy).

With several threads, every library's workers keep spinning for a while after a call (OpenBLAS for
~2^28 cycles, libgomp for its spin count) and steal the cores from whichever library runs next;
on a 2-core machine that turns each barrier into a scheduler time slice. `settle_s` sleeps after
each sample so every library starts from parked workers, the state a real workflow step sees.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List


def _reps_for(fn: Callable[[], object], budget_s: float) -> int:
    """Calls per sample so that one sample lasts about `budget_s` (short calls are batched)."""
    t0 = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(budget_s / dt))


def interleaved_medians(
    fns: Dict[str, Callable[[], object]], rounds: int = 5, sample_s: float = 0.05, settle_s: float = 0.0
) -> Dict[str, float]:
    """Median seconds per call of each fn. Each round times every fn once, in turn, so slow drifts
    of the machine (other tenants, clock changes) hit all competitors alike."""
    for fn in fns.values():  # warm-up: caches, page faults, OpenMP pools, lazy imports
        fn()
        time.sleep(settle_s)
    reps = {}
    for name, fn in fns.items():
        reps[name] = _reps_for(fn, sample_s)
        time.sleep(settle_s)
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            r = reps[name]
            t0 = time.perf_counter()
            for _ in range(r):
                fn()
            samples[name].append((time.perf_counter() - t0) / r)
            time.sleep(settle_s)
    return {name: statistics.median(s) for name, s in samples.items()}
